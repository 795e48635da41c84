import { describe, expect, it } from "vitest";
import { PREFAULT_MIN_BYTES, prefaultedBuffer } from "../../src/util/prefault.js";

describe("prefaultedBuffer", () => {
  it("large: a zeroed SharedArrayBuffer, ready once a worker has touched its pages", async () => {
    const bytes = 3 * 4096 + 17;
    const m = prefaultedBuffer(bytes, 0);
    expect(m.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(m.buffer.byteLength).toBe(bytes);
    await m.ready;
    expect(new Uint8Array(m.buffer).every((b) => b === 0)).toBe(true);
  });

  it("small: a plain ArrayBuffer, no worker", async () => {
    const m = prefaultedBuffer(1024);
    expect(PREFAULT_MIN_BYTES).toBeGreaterThan(1024);
    expect(m.buffer).toBeInstanceOf(ArrayBuffer);
    await m.ready;
    expect(m.buffer.byteLength).toBe(1024);
  });
});
