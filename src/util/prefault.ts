import { Worker } from "node:worker_threads";

/**
 * A large zeroed buffer whose pages a background thread touches while the caller goes on working.
 *
 * Fresh memory costs a page fault (the kernel zeroing 4 KiB) on its first write: a noticeable share of
 * the work for the 800 MB distance matrix of 9,984 neurons, paid on the main thread in its middle. A worker
 * touching one byte per page moves that cost onto an otherwise idle core while the main thread does
 * something else (the correlation's standardisation). The buffer is a SharedArrayBuffer so that both
 * threads see the same pages; callers must await `ready` before writing (the worker writes zeros).
 */
export interface PrefaultedBuffer {
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  /** Resolves when the worker is done (at once when no worker was started). */
  readonly ready: Promise<void>;
}

/** Below this size a thread costs more than the faults it saves. */
export const PREFAULT_MIN_BYTES = 64 * 1024 * 1024;

const PAGE = 4096;

// Plain JavaScript evaluated in the worker (no module loading, so it starts in milliseconds).
const TOUCH_PAGES = `
const { workerData } = require("node:worker_threads");
const bytes = new Uint8Array(workerData.buffer);
for (let i = 0; i < bytes.length; i += workerData.page) bytes[i] = 0;
`;

export function prefaultedBuffer(bytes: number, minBytes = PREFAULT_MIN_BYTES): PrefaultedBuffer {
  if (bytes < minBytes) return { buffer: new ArrayBuffer(bytes), ready: Promise.resolve() };
  const buffer = new SharedArrayBuffer(bytes);
  const ready = new Promise<void>((resolve) => {
    try {
      const worker = new Worker(TOUCH_PAGES, { eval: true, workerData: { buffer, page: PAGE } });
      // A failed worker only means the faults are paid later, on first write.
      worker.once("error", () => resolve());
      worker.once("exit", () => resolve());
    } catch {
      resolve();
    }
  });
  return { buffer, ready };
}
