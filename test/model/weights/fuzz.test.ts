import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadSafetensors, loadTorchCheckpoint } from "../../../src/model/weights/index.js";
import { PyDict, unpickle } from "../../../src/model/weights/pickle.js";
import { ZipReader } from "../../../src/model/weights/zip.js";
import { InputError } from "../../../src/util/errors.js";
import { Rng } from "../../../src/util/rng.js";
import { storedZip } from "./zip-writer.js";

/**
 * Fuzz-style tests: random truncations and byte mutations of valid checkpoints must either load or fail
 * with an InputError — never another exception, a hang (vitest's timeout) or a huge allocation.
 */
const FIXTURES = join(import.meta.dirname, "../../fixtures/checkpoints");
const tmp = mkdtempSync(join(tmpdir(), "cn-fuzz-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Outcome = "ok" | "input-error";

/** Runs `load` on the bytes written to a file; anything but success or InputError fails the test. */
function outcome(bytes: Uint8Array, name: string, load: (path: string) => unknown, what: string): Outcome {
  const path = join(tmp, name);
  writeFileSync(path, bytes);
  try {
    load(path);
    return "ok";
  } catch (e) {
    if (e instanceof InputError) return "input-error";
    throw new Error(`${what}: ${(e as Error).stack}`);
  }
}

function truncations(bytes: Uint8Array, rng: Rng, count: number): Uint8Array[] {
  const out = [bytes.subarray(0, 0), bytes.subarray(0, 1), bytes.subarray(0, bytes.length - 1)];
  while (out.length < count) out.push(bytes.subarray(0, rng.int(bytes.length)));
  return out;
}

/** Copies with 1–4 random bytes replaced; `region` limits where (e.g. a header). */
function mutations(bytes: Uint8Array, rng: Rng, count: number, region = bytes.length): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let k = 0; k < count; k++) {
    const copy = Uint8Array.from(bytes);
    const flips = 1 + rng.int(4);
    for (let f = 0; f < flips; f++) {
      const i = rng.int(region);
      copy[i] = rng.next() < 0.5 ? copy[i] ^ (1 << rng.int(8)) : rng.int(256);
    }
    out.push(copy);
  }
  return out;
}

function fuzz(label: string, inputs: Uint8Array[], load: (path: string) => unknown, file: string) {
  const counts: Record<Outcome, number> = { ok: 0, "input-error": 0 };
  inputs.forEach((bytes, i) => {
    counts[outcome(bytes, file, load, `${label} case ${i}`)]++;
  });
  return counts;
}

function zipEntries(path: string): [string, Uint8Array][] {
  const z = ZipReader.open(path);
  try {
    return z.names().map((n) => [n, z.read(n)]);
  } finally {
    z.close();
  }
}

describe("fuzzing the weight readers", () => {
  it("the test zip writer round-trips the fixture (so the pickle fuzz below loads real archives)", () => {
    const entries = zipEntries(join(FIXTURES, "bin-zip/pytorch_model.bin"));
    const counts = fuzz("round trip", [storedZip(entries)], loadTorchCheckpoint, "rt.bin");
    expect(counts.ok).toBe(1);
  });

  it("reads a zip64 archive (all sizes and offsets in zip64 records) and survives its mutations", () => {
    const entries = zipEntries(join(FIXTURES, "bin-zip/pytorch_model.bin"));
    const bytes = storedZip(entries, true);
    writeFileSync(join(tmp, "z64.bin"), bytes);
    const expected = loadTorchCheckpoint(join(FIXTURES, "bin-zip/pytorch_model.bin"));
    const got = loadTorchCheckpoint(join(tmp, "z64.bin"));
    expect([...got.keys()]).toEqual([...expected.keys()]);
    for (const [name, t] of expected) expect([...(got.get(name)?.data ?? [])], name).toEqual([...t.data]);
    const rng = new Rng(21);
    // Mutations of the directory and end records, where the zip64 fields are.
    const dirStart =
      bytes.length - 22 - 76 - entries.reduce((n, [name]) => n + 46 + Buffer.byteLength(name) + 28, 0);
    const tail = mutations(bytes.subarray(dirStart), rng, 200).map((t) =>
      Buffer.concat([bytes.subarray(0, dirStart), t]),
    );
    const counts = fuzz("zip64 tail", tail, loadTorchCheckpoint, "z64m.bin");
    expect(counts["input-error"]).toBeGreaterThan(50);
  });

  for (const folder of ["bin-zip", "bin-deflate", "bin-legacy"]) {
    it(`${folder}: 150 truncations and 300 mutations give InputError or a load`, () => {
      const bytes = readFileSync(join(FIXTURES, folder, "pytorch_model.bin"));
      const rng = new Rng(17);
      const cut = fuzz(`${folder} truncation`, truncations(bytes, rng, 150), loadTorchCheckpoint, "t.bin");
      // Every truncation loses the zip's end record or the legacy file's last storage bytes.
      expect(cut.ok).toBe(0);
      const mut = fuzz(`${folder} mutation`, mutations(bytes, rng, 300), loadTorchCheckpoint, "m.bin");
      expect(mut["input-error"]).toBeGreaterThan(0);
    });
  }

  it("data.pkl inside a valid zip: 400 mutations and 100 truncations give InputError or a load", () => {
    const entries = zipEntries(join(FIXTURES, "bin-zip/pytorch_model.bin"));
    const k = entries.findIndex(([n]) => n.endsWith("data.pkl"));
    const pickle = entries[k][1];
    const rng = new Rng(5);
    const variants = [...mutations(pickle, rng, 400), ...truncations(pickle, rng, 100)];
    const zips = variants.map((p) => storedZip(entries.map(([n, d], i) => [n, i === k ? p : d])));
    const counts = fuzz("data.pkl", zips, loadTorchCheckpoint, "p.bin");
    expect(counts["input-error"]).toBeGreaterThan(100);
  });

  it("the bare unpickler on 1000 random byte strings never throws anything but InputError", () => {
    const rng = new Rng(9);
    let errors = 0;
    for (let k = 0; k < 1000; k++) {
      const bytes = new Uint8Array(1 + rng.int(64)).map(() => rng.int(256));
      try {
        unpickle(bytes, { file: "random", resolveGlobal: () => new PyDict() });
      } catch (e) {
        if (!(e instanceof InputError)) throw new Error(`case ${k}: ${(e as Error).stack}`);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(900);
  });

  it("safetensors: 100 truncations and 300 header mutations give InputError or a load", () => {
    const bytes = readFileSync(join(FIXTURES, "st/model.safetensors"));
    const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
    const rng = new Rng(3);
    const cut = fuzz("st truncation", truncations(bytes, rng, 100), loadSafetensors, "t.safetensors");
    expect(cut.ok).toBe(0);
    const mut = fuzz("st header", mutations(bytes, rng, 300, headerEnd), loadSafetensors, "m.safetensors");
    expect(mut["input-error"]).toBeGreaterThan(100);
  });

  it("refuses a broadcast view whose size would be a huge allocation", () => {
    const tensorPickle = (sizeOpcodes: string) =>
      Buffer.from(
        "\x80\x02}X\x01\x00\x00\x00xctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n" +
          `X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQK\x00${sizeOpcodes}\x85K\x00\x85\x89ccollections\nOrderedDict\n)RtRs.`,
        "latin1",
      );
    const storage = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    const archive = (pkl: Uint8Array) =>
      storedZip([
        ["archive/data.pkl", pkl],
        ["archive/data/0", storage],
      ]);
    // Size (4,), stride (0,): a legitimate broadcast of element 0.
    writeFileSync(join(tmp, "ok.bin"), archive(tensorPickle("K\x04")));
    expect([...(loadTorchCheckpoint(join(tmp, "ok.bin")).get("x")?.data ?? [])]).toEqual([1, 1, 1, 1]);
    // Size (2**40,), stride (0,): LONG1 of 6 bytes.
    writeFileSync(join(tmp, "huge.bin"), archive(tensorPickle("\x8a\x06\x00\x00\x00\x00\x00\x01")));
    expect(() => loadTorchCheckpoint(join(tmp, "huge.bin"))).toThrow(/far more than its storage/);
  });
});
