import { availableParallelism } from "node:os";
import * as ort from "onnxruntime-node";

/**
 * onnxruntime sessions, created once per graph and reused. Thread count: CODENEURONS_THREADS or all
 * cores. Execution provider: CODENEURONS_EP (default "cpu"; "cuda" needs the GPU build, see README).
 */
export function threadCount(): number {
  const env = Number(process.env.CODENEURONS_THREADS);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

export function executionProviders(): string[] {
  const ep = process.env.CODENEURONS_EP?.trim();
  return ep ? [...ep.split(","), "cpu"] : ["cpu"];
}

/** Sessions run on onnxruntime's CPU provider alone (no CODENEURONS_EP, or only "cpu" named there). */
export function cpuOnly(): boolean {
  return executionProviders().every((ep) => ep === "cpu");
}

export function sessionOptions(
  extra: ort.InferenceSession.SessionOptions = {},
): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: executionProviders(),
    intraOpNumThreads: threadCount(),
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    ...extra,
  };
}

export async function createSession(
  model: Uint8Array | string,
  extra: ort.InferenceSession.SessionOptions = {},
): Promise<ort.InferenceSession> {
  const opts = sessionOptions(extra);
  return typeof model === "string"
    ? ort.InferenceSession.create(model, opts)
    : ort.InferenceSession.create(model, opts);
}

const cache = new Map<string, Promise<ort.InferenceSession>>();

/** A session for a small kernel graph, built by `build` the first time `key` is asked for. */
export function cachedSession(key: string, build: () => Uint8Array): Promise<ort.InferenceSession> {
  let s = cache.get(key);
  if (!s) {
    s = createSession(build());
    cache.set(key, s);
  }
  return s;
}

export function f32(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("float32", data, dims);
}

/** Reads a float32 output tensor's data (no copy when the runtime already gave a Float32Array). */
export function f32Data(t: ort.Tensor | undefined, what: string): Float32Array {
  if (t?.type !== "float32") throw new Error(`onnxruntime: expected float32 output '${what}'`);
  return t.data as Float32Array;
}

export { ort };
