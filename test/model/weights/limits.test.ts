import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { defaultMemoryBudget, memoryBudget, setMemoryBudget } from "../../../src/model/weights/budget.js";
import { loadSafetensors, loadTorchCheckpoint, SafetensorsFile } from "../../../src/model/weights/index.js";
import { ZipReader } from "../../../src/model/weights/zip.js";
import { InputError } from "../../../src/util/errors.js";
import { writeZip } from "./zip-writer.js";

/**
 * Issue 17, finding 7: sizes declared in weight files are limits. A zip entry, a pickled storage or a
 * safetensors tensor is never allocated beyond the memory budget, a storage must match its entry, and
 * safetensors tensors must tile the data buffer exactly (no overlaps, holes or trailing bytes).
 */
const FIXTURES = join(import.meta.dirname, "../../fixtures/checkpoints");
const tmp = mkdtempSync(join(tmpdir(), "cn-limits-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => setMemoryBudget(null));

const MiB = 1024 * 1024;

function write(name: string, bytes: Uint8Array): string {
  const path = join(tmp, name);
  writeFileSync(path, bytes);
  return path;
}

function thrown(f: () => unknown): InputError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error("expected an InputError");
}

/** A torch.save pickle of {"x": FloatStorage '0' of `numel` elements as a 1-d tensor}. */
function tensorPickle(numel: number): Buffer {
  const n = Buffer.alloc(4);
  n.writeInt32LE(numel);
  return Buffer.concat([
    Buffer.from(
      "\x80\x02}X\x01\x00\x00\x00xctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage" +
        "ctorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuJ",
      "latin1",
    ),
    n,
    Buffer.from("tQK\x00J", "latin1"),
    n,
    Buffer.from("\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRs.", "latin1"),
  ]);
}

/** A torch zip checkpoint whose one storage holds `storage` (deflated when asked). */
function torchZip(numel: number, storage: Uint8Array, deflate = false): Uint8Array {
  return writeZip([
    { name: "archive/data.pkl", data: tensorPickle(numel) },
    { name: "archive/data/0", data: storage, deflate },
  ]);
}

describe("the memory budget", () => {
  it("defaults to half the memory, and tests can lower it", () => {
    expect(memoryBudget()).toBe(defaultMemoryBudget());
    setMemoryBudget(MiB);
    expect(memoryBudget()).toBe(MiB);
    setMemoryBudget(null);
    expect(memoryBudget()).toBe(defaultMemoryBudget());
  });
});

describe("zip entries: declared sizes are limits", () => {
  // The finding's file, scaled down: a few KB of deflate that declare (and hold) 32 MiB of zeros.
  const bomb = new Uint8Array(32 * MiB);

  it("an entry declaring more than the budget is refused before it is read, naming file and entry", () => {
    const path = write("bomb.bin", torchZip(bomb.length / 4, bomb, true));
    expect(readFileSync(path).length).toBeLessThan(100_000);
    setMemoryBudget(8 * MiB);
    const z = ZipReader.open(path);
    try {
      const e = thrown(() => z.read("archive/data/0"));
      expect(e.message).toContain(path);
      expect(e.field).toBe("archive/data/0");
      expect(e.message).toMatch(/declares 32 MiB \(33554432 bytes\), more than the memory budget/);
    } finally {
      z.close();
    }
  });

  it("a pickled storage declaring more than the budget is refused while the pickle is decoded", () => {
    const path = write("bomb2.bin", torchZip(bomb.length / 4, bomb, true));
    setMemoryBudget(8 * MiB);
    const e = thrown(() => loadTorchCheckpoint(path));
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/storage '0' declares 8388608 torch.FloatStorage elements: 32 MiB/);
    // Within the budget the same file loads.
    setMemoryBudget(64 * MiB);
    expect(loadTorchCheckpoint(path).get("x")?.data.length).toBe(bomb.length / 4);
  });

  it("inflating stops at the declared size: an entry that inflates to more is an error", () => {
    const data = new Uint8Array(4 * MiB);
    const path = write("liar.bin", writeZip([{ name: "e", data, deflate: true, declaredSize: 4096 }]));
    const z = ZipReader.open(path);
    try {
      const e = thrown(() => z.read("e"));
      expect(e.message).toMatch(/zip entry 'e' does not inflate/);
    } finally {
      z.close();
    }
  });

  it("an entry that inflates to less than it declares is an error", () => {
    const data = new Uint8Array(1000).fill(7);
    const path = write("short.bin", writeZip([{ name: "e", data, deflate: true, declaredSize: 5000 }]));
    const z = ZipReader.open(path);
    try {
      expect(thrown(() => z.read("e")).message).toMatch(/zip entry 'e' inflates to 1000 bytes, not 5000/);
    } finally {
      z.close();
    }
  });

  it("a storage whose entry holds more bytes than the pickle declares is refused, naming both", () => {
    const floats = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
    const path = write("padded.bin", torchZip(4, floats));
    const e = thrown(() => loadTorchCheckpoint(path));
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/storage '0' declares 16 bytes but its entry 'archive\/data\/0' holds 24/);
  });

  it("a storage missing from the archive is named when the pickle is decoded", () => {
    const path = write(
      "missing.bin",
      writeZip([
        { name: "archive/data.pkl", data: tensorPickle(4) },
        { name: "archive/data/1", data: new Uint8Array(16) },
      ]),
    );
    expect(thrown(() => loadTorchCheckpoint(path)).message).toMatch(
      /storage '0' is missing from the archive \(no entry 'archive\/data\/0'\)/,
    );
  });

  it("the fixtures' storages fit a budget just above their largest storage, not below", () => {
    // bin-zip's largest storage is 96 bytes; its pickle (data.pkl) is 1,667.
    setMemoryBudget(2000);
    expect(loadTorchCheckpoint(join(FIXTURES, "bin-zip/pytorch_model.bin")).size).toBeGreaterThan(0);
    setMemoryBudget(64);
    expect(thrown(() => loadTorchCheckpoint(join(FIXTURES, "bin-legacy/pytorch_model.bin"))).message).toMatch(
      /more than the memory budget/,
    );
  });
});

/** A safetensors file from a raw header object and a data section. */
function safetensors(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

const f32 = (shape: number[], begin: number, end: number) => ({
  dtype: "F32",
  shape,
  data_offsets: [begin, end],
});

describe("safetensors: the tensors tile the data buffer exactly", () => {
  it("accepts contiguous tensors in any header order, and zero-size tensors at a boundary", () => {
    const path = write(
      "ok.safetensors",
      safetensors({ b: f32([2], 8, 16), a: f32([2], 0, 8), empty: f32([0], 8, 8) }, new Uint8Array(16)),
    );
    expect([...loadSafetensors(path).keys()].sort()).toEqual(["a", "b", "empty"]);
  });

  it("refuses overlapping tensors, naming both", () => {
    const path = write(
      "overlap.safetensors",
      safetensors({ a: f32([4], 0, 16), b: f32([2], 8, 16) }, new Uint8Array(16)),
    );
    const e = thrown(() => loadSafetensors(path));
    expect(e.message).toContain(path);
    expect(e.field).toBe("b");
    expect(e.message).toMatch(/tensor 'b' \(data_offsets \[8, 16\]\) overlaps tensor 'a', which ends at 16/);
  });

  it("refuses two tensors on the same bytes", () => {
    const path = write(
      "alias.safetensors",
      safetensors({ a: f32([2], 0, 8), b: f32([2], 0, 8) }, new Uint8Array(8)),
    );
    expect(thrown(() => loadSafetensors(path)).message).toMatch(/overlaps tensor/);
  });

  it("refuses a hole between tensors", () => {
    const path = write(
      "hole.safetensors",
      safetensors({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, new Uint8Array(12)),
    );
    const e = thrown(() => loadSafetensors(path));
    expect(e.field).toBe("b");
    expect(e.message).toMatch(/bytes \[4, 8\) of the data lie between tensors, before tensor 'b'/);
  });

  it("refuses data before the first tensor and bytes after the last", () => {
    const before = write("before.safetensors", safetensors({ a: f32([1], 4, 8) }, new Uint8Array(8)));
    expect(thrown(() => loadSafetensors(before)).message).toMatch(/bytes \[0, 4\)/);
    const after = write("after.safetensors", safetensors({ a: f32([1], 0, 4) }, new Uint8Array(8)));
    expect(thrown(() => SafetensorsFile.open(after)).message).toMatch(
      /the data holds 8 bytes but the tensors cover only 4: 4 bytes after the last tensor \('a'\)/,
    );
  });

  it("a byte range outside a tensor is refused instead of reading its neighbour's bytes", () => {
    const path = write(
      "two.safetensors",
      safetensors({ a: f32([1], 0, 4), b: f32([1], 4, 8) }, new Uint8Array(8)),
    );
    const f = SafetensorsFile.open(path);
    try {
      expect(f.readBytes("a", 0, 4).length).toBe(4);
      expect(() => f.readBytes("a", 0, 8)).toThrow(/readBytes: bytes \[0, 8\) of 'a' \(4 bytes\)/);
      expect(() => f.readBytes("a", 2, 1)).toThrow(RangeError);
    } finally {
      f.close();
    }
  });

  it("the fixtures tile their data exactly", () => {
    expect(loadSafetensors(join(FIXTURES, "st/model.safetensors")).size).toBeGreaterThan(0);
  });

  it("a tensor larger than the budget is refused on read, naming it; ranges still read in pieces", () => {
    const path = write("big.safetensors", safetensors({ w: f32([1024], 0, 4096) }, new Uint8Array(4096)));
    setMemoryBudget(1024);
    const f = SafetensorsFile.open(path);
    try {
      const e = thrown(() => f.read("w"));
      expect(e.field).toBe("w");
      expect(e.message).toMatch(/tensor 'w' needs 4.0 KiB \(4096 bytes\), more than the memory budget/);
      const dest = new Float32Array(16);
      f.readRange("w", 100, 116, dest);
      expect([...dest]).toEqual(new Array(16).fill(0));
    } finally {
      f.close();
    }
  });
});
