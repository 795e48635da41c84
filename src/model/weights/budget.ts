import { constants } from "node:buffer";
import { totalmem } from "node:os";

/**
 * The most bytes that one declared size in a weight file (a zip entry, a pickled storage, a
 * safetensors tensor) may make codeneurons allocate in one piece. Sizes in these files are only
 * claims: without a limit, a small damaged or hostile file that declares a huge entry gets the
 * allocation it asks for (or a RangeError from V8 past Buffer's maximum length), instead of an error
 * naming the file. Half of the machine's memory is far more than any single tensor of a model that
 * can run here, and never beyond what one Buffer can hold.
 */
export function defaultMemoryBudget(): number {
  // A little under Buffer's maximum: inflating allocates one byte more than the entry declares.
  return Math.min(Math.floor(totalmem() / 2), constants.MAX_LENGTH - 64);
}

let override: number | null = null;

export function memoryBudget(): number {
  return override ?? defaultMemoryBudget();
}

/** Sets the budget (bytes); null restores the default. For tests, which need a small one. */
export function setMemoryBudget(bytes: number | null): void {
  if (bytes !== null && !(Number.isSafeInteger(bytes) && bytes > 0)) {
    throw new RangeError(`setMemoryBudget: ${bytes} is not a positive number of bytes`);
  }
  override = bytes;
}

/** Formats a byte count for messages: "1.5 GiB", "12 MiB", "300 bytes". */
export function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v >= 10 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

/** The end of a budget error: what the limit is, where it comes from, and the likely cause. */
export function overBudget(bytes: number): string {
  const why = override === null ? "half of this machine's memory" : "as set for this process";
  return (
    `${formatBytes(bytes)} (${bytes} bytes), more than the memory budget for one piece ` +
    `(${formatBytes(memoryBudget())}, ${why}): a damaged file?`
  );
}
