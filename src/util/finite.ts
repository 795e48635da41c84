/**
 * Float32 buffers known to hold only finite numbers: scanned once by a check, or written by a pass
 * that checked every value it wrote (z-scoring), so that a grid's many fits on one design, and the
 * first one, do not scan 6 GB again. A buffer is only marked after the last write of its values.
 */
const finiteBuffers = new WeakSet<Float32Array>();

export function markFinite(data: Float32Array): void {
  finiteBuffers.add(data);
}

export function knownFinite(data: Float32Array): boolean {
  return finiteBuffers.has(data);
}
