import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setMemoryBudget } from "../../src/model/weights/budget.js";
import { loadSafetensors, loadTorchCheckpoint } from "../../src/model/weights/index.js";
import { unpickle } from "../../src/model/weights/pickle.js";
import { encodeSafetensors } from "../../src/model/weights/safetensors.js";
import { resolveTorchGlobal } from "../../src/model/weights/torch.js";
import { looksLikeZip, ZipReader } from "../../src/model/weights/zip.js";
import { storedZip, writeZip } from "../model/weights/zip-writer.js";
import { concat, type FuzzTarget, type Mutator, toBase64 } from "./harness.js";

/**
 * Fuzz targets for the weight readers: safetensors files, the pickle inside torch.save archives, and
 * whole pytorch_model.bin files (the zip reader, and the legacy stream format). The memory budget is
 * lowered to 64 MiB while they run, so that a size the readers fail to check shows up as a huge
 * allocation attempt, not as a quiet success.
 */
const CHECKPOINTS = join(import.meta.dirname, "../fixtures/checkpoints");
const FUZZ_BUDGET = 64 * 1024 * 1024;

/** A temporary directory for the target's files, made in setup and removed in teardown. */
class Scratch {
  dir = "";
  open(prefix: string): void {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
  }
  close(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = "";
  }
  write(name: string, data: Uint8Array | string): string {
    const path = join(this.dir, name);
    writeFileSync(path, data);
    return path;
  }
}

function zipEntries(path: string): [string, Uint8Array][] {
  const z = ZipReader.open(path);
  try {
    return z.names().map((n) => [n, z.read(n)]);
  } finally {
    z.close();
  }
}

const fixture = (folder: string, file = "pytorch_model.bin") => readFileSync(join(CHECKPOINTS, folder, file));

// ---- safetensors ----

const le = (values: number[], Typed: Float32ArrayConstructor | Int32ArrayConstructor) =>
  new Uint8Array(new Typed(values).buffer);

/** Small files with every dtype, a zero-size tensor and metadata, next to the fixture. */
function safetensorsSeeds(): Uint8Array[] {
  const made = encodeSafetensors(
    [
      { name: "a.weight", dtype: "F32", shape: [2, 3], bytes: le([1, 2, 3, 4, 5, 6], Float32Array) },
      { name: "b", dtype: "F16", shape: [2], bytes: new Uint8Array([0, 0x3c, 0, 0xc0]) },
      { name: "c", dtype: "BF16", shape: [1, 2], bytes: new Uint8Array([0x80, 0x3f, 0, 0x40]) },
      { name: "ids", dtype: "I64", shape: [2], bytes: new Uint8Array(new BigInt64Array([3n, -1n]).buffer) },
      { name: "i32", dtype: "I32", shape: [1], bytes: le([7], Int32Array) },
      { name: "mask", dtype: "BOOL", shape: [3], bytes: new Uint8Array([1, 0, 1]) },
      { name: "empty", dtype: "F32", shape: [0, 4], bytes: new Uint8Array(0) },
      { name: "scalar", dtype: "F64", shape: [], bytes: new Uint8Array(new Float64Array([0.5]).buffer) },
    ],
    { format: "pt" },
  );
  return [fixture("st", "model.safetensors"), concat(made)];
}

/** The header as JSON, edited structurally, then written back with its (possibly stale) length. */
function mutateSafetensors(seed: Uint8Array, m: Mutator, seeds: readonly Uint8Array[]): Uint8Array {
  if (m.chance(0.5)) return m.bytes(seed, seeds);
  const n = Number(new DataView(seed.buffer, seed.byteOffset, 8).getBigUint64(0, true));
  const header = new TextDecoder().decode(seed.subarray(8, 8 + n));
  const json = new TextEncoder().encode(m.jsonText(header));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(m.chance(0.9) ? json.length : n), true);
  return concat([len, json, seed.subarray(8 + n)]);
}

export function safetensorsTarget(): FuzzTarget<Uint8Array> {
  const scratch = new Scratch();
  return {
    name: "safetensors",
    setup: () => {
      scratch.open("cn-fuzz-st-");
      setMemoryBudget(FUZZ_BUDGET);
    },
    teardown: () => {
      scratch.close();
      setMemoryBudget(null);
    },
    seeds: safetensorsSeeds,
    mutate: mutateSafetensors,
    run: (bytes) => loadSafetensors(scratch.write("m.safetensors", bytes)),
    show: toBase64,
  };
}

// ---- the pickle of a torch.save archive ----

/** A data.pkl and the archive it sits in (entry `index`), or a bare pickle (entries empty). */
export interface PickleInput {
  name: string;
  pickle: Uint8Array;
  entries: [string, Uint8Array][];
  index: number;
}

function pickleSeeds(): PickleInput[] {
  const out: PickleInput[] = [];
  for (const folder of ["bin-zip", "bin-proto4", "bin-bigendian"]) {
    const entries = zipEntries(join(CHECKPOINTS, folder, "pytorch_model.bin"));
    const index = entries.findIndex(([n]) => n.endsWith("data.pkl"));
    out.push({ name: folder, pickle: entries[index][1], entries, index });
  }
  for (let proto = 0; proto <= 5; proto++) {
    const pickle = readFileSync(join(CHECKPOINTS, "pickles", `plain-p${proto}.pkl`));
    out.push({ name: `plain-p${proto}`, pickle, entries: [], index: -1 });
  }
  return out;
}

export function pickleTarget(): FuzzTarget<PickleInput> {
  const scratch = new Scratch();
  return {
    name: "pickle",
    setup: () => {
      scratch.open("cn-fuzz-pkl-");
      setMemoryBudget(FUZZ_BUDGET);
    },
    teardown: () => {
      scratch.close();
      setMemoryBudget(null);
    },
    seeds: pickleSeeds,
    mutate: (seed, m, seeds) => ({
      ...seed,
      pickle: m.bytes(
        seed.pickle,
        seeds.map((s) => s.pickle),
      ),
    }),
    run: (input) => {
      if (input.entries.length === 0) {
        return unpickle(input.pickle, { file: input.name, resolveGlobal: resolveTorchGlobal });
      }
      const entries = input.entries.map(([n, d], i): [string, Uint8Array] => [
        n,
        i === input.index ? input.pickle : d,
      ]);
      return loadTorchCheckpoint(scratch.write("p.bin", storedZip(entries)));
    },
    show: (input) => `${input.name}:${toBase64(input.pickle)}`,
  };
}

// ---- whole pytorch_model.bin files: the zip reader, deflate, zip64, the legacy format ----

function binSeeds(): Uint8Array[] {
  const entries = zipEntries(join(CHECKPOINTS, "bin-zip/pytorch_model.bin"));
  return [
    fixture("bin-zip"),
    fixture("bin-deflate"),
    fixture("bin-legacy"),
    fixture("bin-proto4"),
    fixture("bin-bigendian"),
    storedZip(entries, true),
    writeZip(
      entries.map(([name, data]) => ({ name, data, deflate: true })),
      true,
    ),
  ];
}

export function zipTarget(): FuzzTarget<Uint8Array> {
  const scratch = new Scratch();
  return {
    name: "zip (pytorch_model.bin)",
    setup: () => {
      scratch.open("cn-fuzz-zip-");
      setMemoryBudget(FUZZ_BUDGET);
    },
    teardown: () => {
      scratch.close();
      setMemoryBudget(null);
    },
    seeds: binSeeds,
    mutate: (seed, m, seeds) => m.bytes(seed, seeds),
    run: (bytes) => {
      const path = scratch.write("m.bin", bytes);
      if (looksLikeZip(bytes)) {
        // Every entry on its own (CRC, sizes, inflate), then the checkpoint built from them.
        const z = ZipReader.open(path);
        try {
          for (const name of z.names()) z.read(name);
        } finally {
          z.close();
        }
      }
      return loadTorchCheckpoint(path);
    },
    show: toBase64,
  };
}
