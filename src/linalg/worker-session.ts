import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { ort, sessionOptions } from "./runtime.js";

/**
 * An onnxruntime session that runs on a worker thread. onnxruntime-node runs a session synchronously
 * on the thread that calls it, so on the main thread nothing else happens while a batch computes;
 * here the main thread stays free and can work on the previous batch's outputs (extraction's subword
 * → word averaging, shard checks and hashing) while the worker computes the next. Inputs are copied to
 * the worker (token ids: small); outputs come back as transferred ArrayBuffers (no copy).
 */
export interface SessionLike {
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

interface TensorMessage {
  type: ort.Tensor.Type;
  data: ort.Tensor.DataType;
  dims: readonly number[];
}

type Reply =
  | { id: number; error: string }
  | { id: number; outputs: Record<string, TensorMessage> }
  | { id: number; done: true };

// Plain JavaScript evaluated in the worker (no module loading of ours: the same code runs under tsx,
// vitest and the built package); onnxruntime-node is required by the path the main thread resolved.
// Messages: { id, kind: "create", model, options } | { id, kind: "run", feeds } | { id, kind: "release" }
// → { id, done } | { id, outputs } | { id, error }.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const ort = require(workerData.ortPath);
let session = null;
parentPort.on("message", async (msg) => {
  try {
    if (msg.kind === "create") {
      session = await ort.InferenceSession.create(msg.model, msg.options);
      parentPort.postMessage({ id: msg.id, done: true });
    } else if (msg.kind === "run") {
      const feeds = {};
      for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const results = await session.run(feeds);
      const outputs = {};
      const transfer = new Set();
      for (const [name, t] of Object.entries(results)) {
        outputs[name] = { type: t.type, data: t.data, dims: t.dims };
        if (ArrayBuffer.isView(t.data) && t.data.buffer instanceof ArrayBuffer) transfer.add(t.data.buffer);
      }
      parentPort.postMessage({ id: msg.id, outputs }, [...transfer]);
    } else if (msg.kind === "release") {
      if (session) await session.release();
      session = null;
      parentPort.postMessage({ id: msg.id, done: true });
    }
  } catch (e) {
    parentPort.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
  }
});
`;

/** Model bytes (handed over to the worker: the caller must not use them afterwards) or a model file path. */
export async function createWorkerSession(
  model: Uint8Array | string,
  extra: ort.InferenceSession.SessionOptions = {},
): Promise<SessionLike> {
  const session = new WorkerSession();
  try {
    const whole =
      typeof model !== "string" && model.byteOffset === 0 && model.byteLength === model.buffer.byteLength;
    await session.request(
      { kind: "create", model, options: sessionOptions(extra) },
      whole ? [model.buffer as ArrayBuffer] : [],
    );
  } catch (e) {
    await session.terminate();
    throw e;
  }
  return session;
}

class WorkerSession implements SessionLike {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failure: Error | null = null;

  constructor() {
    const ortPath = createRequire(import.meta.url).resolve("onnxruntime-node");
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath } });
    // Referenced only while a request is pending: an idle session never keeps the process alive, a
    // busy one always does (so that a run's result cannot be lost to an early exit).
    this.worker.unref();
    this.worker.on("message", (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.settle(reply.id);
      if ("error" in reply) p.reject(new Error(`onnxruntime: ${reply.error}`));
      else p.resolve(reply);
    });
    this.worker.on("error", (e) => this.fail(e));
    this.worker.on("exit", (code) =>
      this.fail(new Error(`onnxruntime's worker thread exited (code ${code})`)),
    );
  }

  async run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    const message: Record<string, TensorMessage> = {};
    for (const [name, t] of Object.entries(feeds))
      message[name] = { type: t.type, data: t.data, dims: t.dims };
    const reply = await this.request({ kind: "run", feeds: message });
    if (!("outputs" in reply)) throw new Error("onnxruntime's worker thread returned no outputs");
    const out: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(reply.outputs)) {
      out[name] = new ort.Tensor(t.type, t.data as ort.Tensor.DataTypeMap[typeof t.type], t.dims);
    }
    return out;
  }

  async release(): Promise<void> {
    try {
      if (!this.failure) await this.request({ kind: "release" });
    } finally {
      await this.terminate();
    }
  }

  async terminate(): Promise<void> {
    this.failure ??= new Error("onnxruntime's worker thread was released");
    await this.worker.terminate();
  }

  request(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ id, ...message }, transfer);
    });
  }

  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const [id, p] of [...this.pending]) {
      this.settle(id);
      p.reject(e);
    }
  }
}
