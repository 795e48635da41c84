import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findWeightFiles } from "../../../src/model/files.js";
import {
  loadCheckpointWeights,
  loadTorchCheckpoint,
  openCheckpoint,
  type TensorMap,
} from "../../../src/model/weights/index.js";
import { InputError } from "../../../src/util/errors.js";

// Fixtures: scripts/reference/make_checkpoint_fixtures.py (torch 1.13 writes them; torch.load reads them back).
const FIXTURES = join(import.meta.dirname, "../../fixtures/checkpoints");

interface Expected {
  shape: number[];
  dtype: string;
  values: number[];
}
const expected = JSON.parse(readFileSync(join(FIXTURES, "expected.json"), "utf8")) as {
  tensors: Record<string, Expected>;
  bigendian: Record<string, Expected>;
};

const DTYPE: Record<string, string> = {
  float32: "F32",
  float16: "F16",
  bfloat16: "BF16",
  float64: "F64",
  int64: "I64",
  int32: "I32",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
};

/** Exact comparison: float16/bfloat16/int values convert to float32 exactly; float64 is rounded to float32 on both sides. */
function expectTensors(got: TensorMap, want: Record<string, Expected>) {
  expect([...got.keys()].sort()).toEqual(Object.keys(want).sort());
  for (const [name, w] of Object.entries(want)) {
    const t = got.get(name)!;
    expect(t.shape, name).toEqual(w.shape);
    expect(t.sourceDType, name).toBe(DTYPE[w.dtype]);
    expect([...t.data], name).toEqual(w.values.map((v) => Math.fround(v)));
  }
}

const tmp = mkdtempSync(join(tmpdir(), "cn-weights-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("loadCheckpointWeights", () => {
  for (const folder of [
    "bin-zip",
    "bin-proto4",
    "bin-deflate",
    "bin-legacy",
    "bin-sharded",
    "st",
    "st-sharded",
  ]) {
    it(`reads ${folder} exactly as torch saved it`, () => {
      expectTensors(loadCheckpointWeights(join(FIXTURES, folder)), expected.tensors);
    });
  }

  it("honours byteorder 'big' in a zip checkpoint", () => {
    expectTensors(loadCheckpointWeights(join(FIXTURES, "bin-bigendian")), expected.bigendian);
  });

  it("reads tensors one at a time through openCheckpoint, with shapes before data", () => {
    const c = openCheckpoint(join(FIXTURES, "bin-sharded"));
    try {
      expect(c.info("transposed")).toEqual({ shape: [4, 3], dtype: "F32" });
      expect([...c.read("view.offset").data]).toEqual(expected.tensors["view.offset"].values);
      expect([...c.read("tied.b").data]).toEqual([...c.read("tied.a").data]);
    } finally {
      c.close();
    }
  });

  it("gives tensors that share a storage their own memory", () => {
    const m = loadCheckpointWeights(join(FIXTURES, "bin-zip"));
    const a = m.get("tied.a")!.data;
    const b = m.get("tied.b")!.data;
    expect([...a]).toEqual([...b]);
    a[0] += 1;
    expect(b[0]).not.toBe(a[0]);
  });

  it("prefers safetensors when both formats are present", () => {
    const dir = join(tmp, "both");
    mkdirSync(dir);
    copyFileSync(join(FIXTURES, "bin-zip/pytorch_model.bin"), join(dir, "pytorch_model.bin"));
    copyFileSync(join(FIXTURES, "st/model.safetensors"), join(dir, "model.safetensors"));
    expect(findWeightFiles(dir)).toEqual({
      format: "safetensors",
      index: null,
      files: [join(dir, "model.safetensors")],
    });
  });
});

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

describe("refusing code in pickles", () => {
  const cases: [string, string][] = [
    ["evil-system", "posix.system"],
    ["evil-eval", "builtins.eval"],
    ["evil-bytes", "torch.storage._load_from_bytes"],
    ["evil-inst", "subprocess.Popen"],
  ];
  for (const [folder, callee] of cases) {
    it(`refuses ${folder}, naming ${callee}`, () => {
      const e = thrown(() => loadTorchCheckpoint(join(FIXTURES, folder, "pytorch_model.bin")));
      expect(e).toBeInstanceOf(InputError);
      expect(e.message).toContain(`\`${callee}\``);
      expect(e.message).toContain("checkpoint refused");
      expect(e.message).toContain(join(FIXTURES, folder, "pytorch_model.bin"));
    });
  }
});

describe("clear errors", () => {
  it("names every file it looked for when there are no weights", () => {
    const dir = join(tmp, "empty");
    mkdirSync(dir);
    writeFileSync(join(dir, "tf_model.h5"), "x");
    const e = thrown(() => loadCheckpointWeights(dir));
    expect(e).toBeInstanceOf(InputError);
    for (const f of [
      "model.safetensors",
      "model.safetensors.index.json",
      "pytorch_model.bin",
      "pytorch_model.bin.index.json",
    ]) {
      expect(e.message).toContain(f);
    }
    expect(e.message).toContain("tf_model.h5 (TensorFlow)");
  });

  it("names a missing shard", () => {
    const dir = join(tmp, "missing-shard");
    mkdirSync(dir);
    for (const f of ["model.safetensors.index.json", "model-00001-of-00002.safetensors"]) {
      copyFileSync(join(FIXTURES, "st-sharded", f), join(dir, f));
    }
    const e = thrown(() => loadCheckpointWeights(dir));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toContain("model-00002-of-00002.safetensors");
    expect(e.message).toContain("missing");
  });

  it("refuses shard names that leave the model directory", () => {
    const dir = join(tmp, "escape");
    mkdirSync(dir);
    writeFileSync(
      join(dir, "pytorch_model.bin.index.json"),
      JSON.stringify({ weight_map: { a: "../x.bin" } }),
    );
    const e = thrown(() => loadCheckpointWeights(dir));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toContain("weight_map.a");
  });

  it("says which tensor is truncated in a safetensors file", () => {
    const dir = join(tmp, "truncated-st");
    mkdirSync(dir);
    const bytes = readFileSync(join(FIXTURES, "st/model.safetensors"));
    writeFileSync(join(dir, "model.safetensors"), bytes.subarray(0, bytes.length - 3));
    const e = thrown(() => loadCheckpointWeights(dir));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/tensor '[^']+'/);
  });

  it("says a .bin storage is truncated", () => {
    const dir = join(tmp, "truncated-bin");
    mkdirSync(dir);
    const bytes = readFileSync(join(FIXTURES, "bin-legacy/pytorch_model.bin"));
    writeFileSync(join(dir, "pytorch_model.bin"), bytes.subarray(0, bytes.length - 5));
    const e = thrown(() => loadCheckpointWeights(dir));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/truncated/);
  });

  it("rejects a file that is neither zip nor pickle", () => {
    const dir = join(tmp, "garbage");
    mkdirSync(dir);
    writeFileSync(join(dir, "pytorch_model.bin"), "hello world, not a checkpoint");
    expect(thrown(() => loadCheckpointWeights(dir)).message).toContain("not a PyTorch checkpoint");
  });
});
