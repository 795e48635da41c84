/**
 * Shared benchmark helpers (DESIGN.md, "Benchmarks"): timing with medians, baselines in Python run with
 * the OpenBLAS overrides unset, `BENCH …` lines, and bench/results.json. Any bench:* script may use them.
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { availableParallelism, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic, writeJsonAtomic } from "../src/util/atomic.js";
import { type Matrix, matrix } from "../src/util/matrix.js";

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
/** Git-ignored scratch space for generated benchmark data. */
export const WORK_DIR = join(BENCH_DIR, "work");
export const RESULTS_FILE = join(BENCH_DIR, "results.json");
export const PYTHON = "/usr/bin/python3";

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs `fn` `runs` times (after `warmup` untimed runs); returns every time in seconds and the last result. */
export async function timeRuns<T>(
  fn: () => Promise<T> | T,
  runs: number,
  warmup = 0,
): Promise<{ times: number[]; median: number; result: T }> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  let result: T | undefined;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    result = await fn();
    times.push((performance.now() - t0) / 1000);
  }
  return { times, median: median(times), result: result as T };
}

export type BenchValue = string | number | boolean;

/** Formats numbers compactly for BENCH lines (4 significant digits). */
export function fmt(v: BenchValue): string {
  if (typeof v !== "number") return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Number(v.toPrecision(4)).toString();
}

/**
 * Prints `BENCH <name> ours=<s> baseline=<s|skipped> ratio=<baseline/ours> key=value …` on stdout.
 * `baseline` null means the baseline could not run.
 */
export function benchLine(
  name: string,
  ours: number,
  baseline: number | null,
  extra: Record<string, BenchValue> = {},
): string {
  const parts = [`BENCH ${name}`, `ours=${fmt(ours)}`];
  if (baseline === null) parts.push("baseline=skipped");
  else parts.push(`baseline=${fmt(baseline)}`, `ratio=${fmt(baseline / ours)}`);
  for (const [k, v] of Object.entries(extra)) parts.push(`${k}=${fmt(v)}`);
  const line = parts.join(" ");
  process.stdout.write(`${line}\n`);
  return line;
}

/** The machine's state, to judge noisy timings: load averages, cores, threads used. */
export function machineInfo(): Record<string, BenchValue> {
  const [l1, l5, l15] = loadavg();
  return {
    cores: availableParallelism(),
    load1: l1,
    load5: l5,
    load15: l15,
    baseline_openblas: baselineCoreType() ?? "unset",
  };
}

/**
 * The commit the measured code is at, with "+dirty" when source files differ from it (the bench's own
 * outputs aside), so that a figure from uncommitted code is never filed under a commit it did not run.
 */
export function gitCommit(): string {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: BENCH_DIR, encoding: "utf8" });
    const head = git("rev-parse", "--short", "HEAD").trim();
    const changed = git(
      "status",
      "--porcelain",
      "--",
      ":/src",
      ":/bench",
      ":/scripts",
      ":/package.json",
      ":/package-lock.json",
    )
      .split("\n")
      .filter((line) => line.trim() && !/bench\/(results\.json|RESULTS\.md|work\/)/.test(line));
    return changed.length > 0 ? `${head}+dirty` : head;
  } catch {
    return "unknown";
  }
}

/** Appends one record (with date, commit and machine state) to bench/results.json, atomically. */
export async function appendResult(name: string, record: Record<string, unknown>): Promise<void> {
  let all: unknown[] = [];
  if (existsSync(RESULTS_FILE)) {
    try {
      const parsed = JSON.parse(await readFile(RESULTS_FILE, "utf8")) as unknown;
      if (Array.isArray(parsed)) all = parsed;
    } catch {
      process.stderr.write(`warning: ${RESULTS_FILE} is not valid JSON; starting a new list\n`);
    }
  }
  all.push({ name, date: new Date().toISOString(), commit: gitCommit(), machine: machineInfo(), ...record });
  await writeJsonAtomic(RESULTS_FILE, all);
}

/** Whether /usr/bin/python3 can import these modules. */
export function pythonHas(modules: readonly string[]): boolean {
  try {
    execFileSync(PYTHON, ["-c", `import ${modules.join(", ")}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * The OpenBLAS kernel a baseline must use to run at its real speed. DESIGN.md asks to unset the
 * machine's OPENBLAS_* overrides for baselines; but Debian's OpenBLAS 0.3.21 does not recognise this
 * AVX-512 CPU and, with nothing set, falls back to its Prescott kernels: measured here, a 2000² float32
 * matmul ran at 18–20 GFLOP/s unset, 85–93 with SkylakeX and 40–46 with Haswell (numpy and torch,
 * 2 threads). So the baseline gets the best kernel the CPU supports (BENCH_OPENBLAS_CORETYPE overrides;
 * "unset" leaves both variables unset). A slow baseline would flatter us.
 */
export function baselineCoreType(): string | null {
  const forced = process.env.BENCH_OPENBLAS_CORETYPE;
  if (forced) return forced === "unset" ? null : forced;
  let flags = "";
  try {
    flags = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return null;
  }
  if (/\bavx512f\b/.test(flags)) return "SkylakeX";
  if (/\bavx2\b/.test(flags)) return "Haswell";
  return null;
}

/** The environment of a Python baseline: the machine's OPENBLAS_* overrides replaced (see baselineCoreType). */
export function baselineEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const core = baselineCoreType();
  if (core) env.OPENBLAS_CORETYPE = core;
  return env;
}

/**
 * Runs a Python baseline script in baselineEnv(), streams its stderr, and parses the last stdout line
 * that is a JSON object.
 */
export function runPythonBaseline<T>(script: string, args: readonly string[], timeoutSec = 7200): Promise<T> {
  const env = baselineEnv();
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [script, ...args], { env, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutSec * 1000);
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${script} exited with ${code}`));
      const line = out
        .trim()
        .split("\n")
        .reverse()
        .find((l) => l.startsWith("{"));
      if (!line) return reject(new Error(`${script} printed no JSON result`));
      resolve(JSON.parse(line) as T);
    });
  });
}

/** Writes a C-order .npy file (float32, int32 or int64) so that numpy can memory-map what we generated. */
export async function writeNpy(
  path: string,
  data: Float32Array | Int32Array | BigInt64Array,
  shape: readonly number[],
): Promise<void> {
  const descr = data instanceof Float32Array ? "<f4" : data instanceof Int32Array ? "<i4" : "<i8";
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Header (magic 6 + version 2 + length 2 + text) padded with spaces to a multiple of 64, ending in \n.
  const pad = 64 - ((10 + header.length + 1) % 64);
  header = `${header}${" ".repeat(pad % 64)}\n`;
  const prefix = Buffer.alloc(10);
  prefix.write("\x93NUMPY", 0, "latin1");
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, [
    prefix,
    Buffer.from(header, "latin1"),
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  ]);
}

/** Reads a C-order float32 2-D .npy file (as written by writeNpy). */
export function readNpyF32(path: string): Matrix {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(10);
    readSync(fd, head, 0, 10, 0);
    const headerLength = head.readUInt16LE(8);
    const header = Buffer.alloc(headerLength);
    readSync(fd, header, 0, headerLength, 10);
    const text = header.toString("latin1");
    const shape = /'shape': \((\d+), (\d+)\)/.exec(text);
    if (!text.includes("'<f4'") || !shape) throw new Error(`${path}: not a 2-D float32 .npy file`);
    const m = matrix(Number(shape[1]), Number(shape[2]));
    const bytes = new Uint8Array(m.data.buffer);
    let pos = 0;
    while (pos < bytes.length) {
      const got = readSync(fd, bytes, pos, Math.min(1 << 28, bytes.length - pos), 10 + headerLength + pos);
      if (got === 0) throw new Error(`${path}: truncated`);
      pos += got;
    }
    return m;
  } finally {
    closeSync(fd);
  }
}

/** Reads a small JSON file if it exists. */
export function readJsonIfExists<T>(path: string): T | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return null;
  }
}
