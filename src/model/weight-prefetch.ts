import { Worker } from "node:worker_threads";
import type { BlockWeightName } from "./arch/block.js";
import type { BlockReadPlan, BlockWeights } from "./arch/block-weights.js";

/**
 * Reads the next block's weights on another thread while the current block computes (layer-by-layer
 * extraction of models larger than memory). Reading a 7B-sized block — 354 MB of bfloat16 converted
 * to float32 — otherwise stalls the compute threads between blocks. Two weight sets alternate: one
 * feeds onnxruntime, the other is being filled; their ArrayBuffers are handed between the threads
 * with postMessage transfers (no copy; onnxruntime refuses SharedArrayBuffer-backed tensors). Jobs
 * come from BlockCheckpoint.readJobs: file, byte offset, dtype, and where the values go.
 */

// Plain JavaScript evaluated in the worker (no module loading: the same code runs under tsx, vitest
// and the built package). Messages: { id, plan, buffers: { name: ArrayBuffer } } → { id, buffers } or
// { id, error }.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const fs = require("node:fs");
const CHUNK = 16 * 1024 * 1024;
const chunk = Buffer.allocUnsafe(CHUNK);
const fds = new Map();
let halfTable = null;
function half() {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
    halfTable[h] = exp === 0 ? sign * frac * 2 ** -24 : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return halfTable;
}
function fdOf(path) {
  let fd = fds.get(path);
  if (fd === undefined) { fd = fs.openSync(path, "r"); fds.set(path, fd); }
  return fd;
}
function readInto(job, dest) {
  const size = job.dtype === "F32" ? 4 : 2;
  const fd = fdOf(job.path);
  const perChunk = Math.floor(CHUNK / size);
  for (let at = 0; at < job.count; at += perChunk) {
    const n = Math.min(perChunk, job.count - at);
    let done = 0;
    while (done < n * size) {
      const got = fs.readSync(fd, chunk, done, n * size - done, job.offset + at * size + done);
      if (got === 0) throw new Error(job.path + ": truncated tensor data at byte " + (job.offset + at * size + done));
      done += got;
    }
    if (job.dtype === "F32") {
      dest.set(new Float32Array(chunk.buffer, chunk.byteOffset, n), at);
    } else if (job.dtype === "BF16") {
      const u = new Uint32Array(dest.buffer, dest.byteOffset + at * 4, n);
      for (let i = 0; i < n; i++) u[i] = chunk.readUInt16LE(2 * i) << 16;
    } else {
      const t = half();
      for (let i = 0; i < n; i++) dest[at + i] = t[chunk.readUInt16LE(2 * i)];
    }
  }
}
parentPort.on("message", (msg) => {
  try {
    const views = {};
    for (const [name, buf] of Object.entries(msg.buffers)) views[name] = new Float32Array(buf);
    let scratch = null;
    for (const job of msg.plan.jobs) {
      const dest = views[job.into].subarray(job.destOffset, job.destOffset + job.count);
      if (!job.interleave) { readInto(job, dest); continue; }
      if (!scratch || scratch.length < job.count) scratch = new Float32Array(job.count);
      const src = scratch.subarray(0, job.count);
      readInto(job, src);
      const { heads, d, cols } = job.interleave;
      for (let h = 0; h < heads; h++) for (let j = 0; j < 3; j++) {
        const from = (h * 3 + j) * d * cols, to = (j * heads + h) * d * cols;
        dest.set(src.subarray(from, from + d * cols), to);
      }
    }
    for (const name of msg.plan.onePlus) {
      const w = views[name];
      for (let i = 0; i < w.length; i++) w[i] = Math.fround(1 + w[i]);
    }
    parentPort.postMessage({ id: msg.id, buffers: msg.buffers }, Object.values(msg.buffers));
  } catch (e) {
    parentPort.postMessage({ id: msg.id, error: String(e && e.message || e), buffers: msg.buffers }, Object.values(msg.buffers));
  }
});
`;

type Buffers = Partial<Record<BlockWeightName, ArrayBuffer>>;

interface Pending {
  block: number;
  done: Promise<BlockWeights>;
}

export class WeightPrefetcher {
  private readonly worker: Worker;
  private readonly free: BlockWeights[];
  private pending: Pending | null = null;
  private nextId = 0;
  private readonly waiters = new Map<number, { resolve: (b: Buffers) => void; reject: (e: Error) => void }>();

  /**
   * @param sets two weight sets of the block's shapes (their buffers move between the threads)
   * @param planOf the read jobs of block i (BlockCheckpoint.readJobs)
   */
  constructor(
    sets: [BlockWeights, BlockWeights],
    private readonly planOf: (block: number) => BlockReadPlan,
  ) {
    this.free = [...sets];
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.unref();
    this.worker.on("message", (msg: { id: number; buffers: Buffers; error?: string }) => {
      const w = this.waiters.get(msg.id);
      this.waiters.delete(msg.id);
      if (!w) return;
      if (msg.error) {
        // The buffers came back: keep them usable, report the read error to whoever waits.
        this.free.push(viewsOf(msg.buffers));
        w.reject(new Error(`reading block weights: ${msg.error}`));
      } else {
        w.resolve(msg.buffers);
      }
    });
    this.worker.on("error", (e) => {
      for (const w of this.waiters.values()) w.reject(e);
      this.waiters.clear();
    });
  }

  /** Starts reading block `block` into a free set (if none is free, nothing is started). */
  prefetch(block: number): void {
    if (this.pending?.block === block) return;
    if (this.pending) return;
    const set = this.free.pop();
    if (!set) return;
    this.pending = { block, done: this.fill(block, set) };
  }

  /** Block `block`'s weights: the prefetched set, or read now. Give the set back with `recycle`. */
  async take(block: number): Promise<BlockWeights> {
    if (this.pending && this.pending.block !== block) {
      // A prefetch of another block (a group that ended early): finish it and reuse its set.
      const stale = await this.pending.done;
      this.pending = null;
      this.free.push(stale);
    }
    if (!this.pending) this.prefetch(block);
    if (!this.pending) throw new Error("WeightPrefetcher: no free weight set (recycle the previous block's)");
    const { done } = this.pending;
    this.pending = null;
    return done;
  }

  recycle(set: BlockWeights): void {
    this.free.push(set);
  }

  async close(): Promise<void> {
    if (this.pending) await this.pending.done.catch(() => undefined);
    await this.worker.terminate();
  }

  private fill(block: number, set: BlockWeights): Promise<BlockWeights> {
    const id = this.nextId++;
    const buffers: Buffers = {};
    for (const [name, data] of Object.entries(set)) {
      if (data) buffers[name as BlockWeightName] = data.buffer as ArrayBuffer;
    }
    const result = new Promise<Buffers>((resolve, reject) => this.waiters.set(id, { resolve, reject }));
    this.worker.postMessage({ id, plan: this.planOf(block), buffers }, Object.values(buffers));
    return result.then(viewsOf);
  }
}

function viewsOf(buffers: Buffers): BlockWeights {
  const out: BlockWeights = {};
  for (const [name, buf] of Object.entries(buffers)) {
    if (buf) out[name as BlockWeightName] = new Float32Array(buf);
  }
  return out;
}
