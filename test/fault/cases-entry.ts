import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { extractActivations } from "../../src/extract/extract.js";
import { openActivationModel } from "../../src/extract/model.js";
import { setMemoryBudget } from "../../src/model/weights/budget.js";
import { SafetensorsFile } from "../../src/model/weights/safetensors.js";
import { LogisticProbe } from "../../src/probe/logistic.js";
import { layoutOf } from "../../src/run/stages.js";
import { startExplorer } from "../../src/serve/server.js";
import { type StorePlan, shardFileName, shardRecordName } from "../../src/store/format.js";
import { ActivationStore, importNeuroxJson } from "../../src/store/index.js";
import { sha256OfFile } from "../../src/store/verify.js";
import { openForWriting } from "../../src/store/writer.js";
import { matrix } from "../../src/util/matrix.js";
import { writeZip } from "../model/weights/zip-writer.js";
import { listFiles, readResultsJson } from "./cases.js";
import { type Fixture, probe } from "./fixture.js";
import { runCase, sha256, type Tally } from "./harness.js";

/**
 * Cases at the doors rather than on files at rest: NaN and ±Infinity (and values beyond the storage
 * dtype) at each place numbers enter, the zip bomb and lying weight files, and symlinks out of a
 * results directory or into what --overwrite deletes. Each must end in a clear error (a few, noted, in
 * a result identical to the clean one).
 */
const MUST_FAIL = "(this case must end in an error)";
const TINY_BERT = join(import.meta.dirname, "..", "fixtures", "models", "tiny-bert");

async function expectError(
  tally: Tally,
  group: string,
  name: string,
  run: () => Promise<unknown>,
): Promise<void> {
  const r = await runCase(
    async () => {
      await run();
      return "(it succeeded)";
    },
    MUST_FAIL,
    false,
  );
  tally.add({ group, name, ...r });
}

// ---- NaN / ±Infinity where numbers enter ----

function neuroxLine(values: string): string {
  return `{"linex_index": 0, "features": [{"token": "x", "layers": [{"index": 0, "values": [${values}, 0.5]}]}]}\n`;
}

/** A copy of tiny-bert whose safetensors tensors are edited in place. */
function editedTinyBert(dir: string, edits: Record<string, (values: Float32Array) => void>): string {
  mkdirSync(dir, { recursive: true });
  for (const f of ["config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"])
    copyFileSync(join(TINY_BERT, f), join(dir, f));
  const bytes = new Uint8Array(readFileSync(join(TINY_BERT, "model.safetensors")));
  const file = SafetensorsFile.open(join(TINY_BERT, "model.safetensors"));
  for (const [name, edit] of Object.entries(edits)) {
    const at = file.locate(name);
    edit(new Float32Array(bytes.buffer, at.offset, at.count));
  }
  file.close();
  writeFileSync(join(dir, "model.safetensors"), bytes);
  return dir;
}

/**
 * A copy of the fixture's train store whose first shard holds `value` at one place, with its record's
 * size and SHA-256 rewritten to match: damage no hash can see, as a tool writing a bad value would make.
 */
function storeWithValue(f: Fixture, dir: string, value: number): string {
  rmSync(dir, { recursive: true, force: true });
  const stores = join(dir, "activations");
  mkdirSync(stores, { recursive: true });
  copyDir(layoutOf(f.base).activations, stores);
  symlinkSync(layoutOf(f.base).task, join(dir, "task"));
  const store = join(stores, "train");
  const shardPath = join(store, shardFileName(0));
  const shard = SafetensorsFile.open(shardPath);
  const at = shard.locate(shard.names().sort()[0]);
  shard.close();
  const bytes = new Uint8Array(readFileSync(shardPath));
  new Float32Array(bytes.buffer, at.offset, at.count)[5] = value;
  writeFileSync(shardPath, bytes);
  const recordPath = join(store, shardRecordName(0));
  const record = JSON.parse(readFileSync(recordPath, "utf8"));
  record.sha256 = sha256OfFile(shardPath);
  writeFileSync(recordPath, JSON.stringify(record));
  const indexPath = join(store, "index.json");
  const index = JSON.parse(readFileSync(indexPath, "utf8"));
  index.shards[0].sha256 = record.sha256;
  writeFileSync(indexPath, JSON.stringify(index));
  return dir;
}

export async function nonFiniteCases(f: Fixture, tally: Tally, root: string): Promise<void> {
  const group = "non-finite";
  // NeuroX import: JSON's own non-numbers, and values the storage dtype cannot hold.
  const imports: [string, string, "float32" | "float16"][] = [
    ["NaN", "NaN", "float32"],
    ["Infinity", "Infinity", "float32"],
    ["-Infinity", "-Infinity", "float32"],
    ["1e999 (JSON reads it as Infinity)", "1e999", "float32"],
    ["1e300 into float32", "1e300", "float32"],
    ["-1e39 into float32", "-1e39", "float32"],
    ["70000 into float16", "70000", "float16"],
  ];
  for (const [what, value, dtype] of imports) {
    const dir = join(root, "neurox");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "acts.json"), neuroxLine(value));
    await expectError(tally, group, `import: ${what}`, () =>
      importNeuroxJson({ inputs: [join(dir, "acts.json")], out: join(dir, "store"), dtype, quiet: true }),
    );
  }
  // extract: a model that computes NaN / Infinity, or values beyond float16.
  const vocab = readFileSync(join(TINY_BERT, "vocab.txt"), "utf8").split("\n");
  const input = join(root, "extract-input.in");
  writeFileSync(input, "int x = 1 ;\nreturn x ;\n");
  const x = vocab.indexOf("x") * 16;
  const set = (at: number, value: number) => (v: Float32Array) => {
    v[at] = value;
  };
  const models: [string, Record<string, (v: Float32Array) => void>, "float32" | "float16"][] = [
    ["NaN in an embedding row", { "bert.embeddings.word_embeddings.weight": set(x, Number.NaN) }, "float32"],
    [
      "Infinity in an embedding row",
      { "bert.embeddings.word_embeddings.weight": set(x, Number.POSITIVE_INFINITY) },
      "float32",
    ],
    ["NaN in a block's bias", { "bert.encoder.layer.1.output.dense.bias": set(0, Number.NaN) }, "float32"],
    ["outputs beyond float16", { "bert.embeddings.LayerNorm.bias": (b) => b.fill(1e5) }, "float16"],
  ];
  for (const [what, edits, dtype] of models) {
    const dir = join(root, "model");
    rmSync(dir, { recursive: true, force: true });
    const modelDir = editedTinyBert(join(dir, "model"), edits);
    await expectError(tally, group, `extract: ${what}`, async () => {
      const model = await openActivationModel(modelDir);
      try {
        await extractActivations(model, { input, out: join(dir, "store"), dtype, quiet: true });
      } finally {
        await model.release();
      }
    });
  }
  // config.json: a number JSON reads as Infinity.
  {
    const dir = join(root, "config-inf");
    rmSync(dir, { recursive: true, force: true });
    const modelDir = editedTinyBert(join(dir, "model"), {});
    const config = readFileSync(join(modelDir, "config.json"), "utf8");
    writeFileSync(
      join(modelDir, "config.json"),
      config.replace(/"layer_norm_eps": [^,]+/, '"layer_norm_eps": 1e999'),
    );
    await expectError(tally, group, "config.json: layer_norm_eps 1e999", async () => {
      const model = await openActivationModel(modelDir);
      try {
        await extractActivations(model, { input, out: join(dir, "store"), quiet: true });
      } finally {
        await model.release();
      }
    });
  }
  // A store holding NaN / Infinity / a float32 overflow under a matching hash: readers and the probe.
  for (const [what, value] of [
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["-Infinity", Number.NEGATIVE_INFINITY],
  ] as const) {
    const dir = storeWithValue(f, join(root, "store-value"), value);
    const store = join(dir, "activations", "train");
    const readAll = async (verify?: "size") => {
      const s = await ActivationStore.open(store, verify ? { verify } : {});
      try {
        await s.readRows(Array.from({ length: s.meta.numRows }, (_, i) => i));
      } finally {
        s.close();
      }
    };
    await expectError(tally, group, `store read: ${what} in a shard (hash rewritten)`, () => readAll());
    await expectError(tally, group, `store read: ${what} in a shard (CODENEURONS_VERIFY=size)`, () =>
      readAll("size"),
    );
    await expectError(tally, group, `probe: ${what} in a shard`, () => probe(dir, join(dir, "probe-out")));
  }
  // The probe's own inputs, as a library caller gives them.
  for (const [what, value] of [
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
  ] as const) {
    const x = matrix(20, 3);
    for (let i = 0; i < x.data.length; i++) x.data[i] = Math.sin(i);
    x.data[13] = value;
    const y = Int32Array.from({ length: 20 }, (_, i) => i % 2);
    await expectError(tally, group, `probe fit: ${what} in the training matrix`, () =>
      new LogisticProbe({ lambda1: 0, lambda2: 0 }).fit(x, y),
    );
  }
  // Results JSON: a number that JSON reads as Infinity.
  for (const file of [
    "concepts/concepts.json",
    "probe/probe.json",
    "report-data.json",
    "redundancy/redundancy.json",
  ]) {
    const dir = join(root, "json-inf");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, file, ".."), { recursive: true });
    // The first number with a fraction (not one inside a string) becomes 1e999.
    const MARK = 123456.789012;
    let marked = false;
    const json = JSON.parse(readFileSync(join(f.base, file), "utf8"), (_k, v: unknown) => {
      if (marked || typeof v !== "number" || Number.isInteger(v)) return v;
      marked = true;
      return MARK;
    });
    writeFileSync(join(dir, file), JSON.stringify(json).replace(String(MARK), "1e999"));
    await expectError(tally, group, `${file}: a value of 1e999`, () => readResultsJson(join(dir, file)));
  }
}

// ---- zip bombs and lying weight files ----

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

export async function weightCases(tally: Tally, root: string): Promise<void> {
  const group = "weights";
  const MiB = 1 << 20;
  const modelWith = (name: string, bin: Uint8Array) => {
    const dir = join(root, "weights", name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const f of ["config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"])
      copyFileSync(join(TINY_BERT, f), join(dir, f));
    writeFileSync(join(dir, "pytorch_model.bin"), bin);
    return dir;
  };
  const zeros = new Uint8Array(32 * MiB);
  const bombs: [string, Uint8Array][] = [
    [
      "a few KB of deflate declaring 32 MiB, over a budget of 8 MiB",
      writeZip([
        { name: "archive/data.pkl", data: tensorPickle(zeros.length / 4) },
        { name: "archive/data/0", data: zeros, deflate: true },
      ]),
    ],
    [
      "an entry that inflates to 32 MiB but declares 4 KB",
      writeZip([
        { name: "archive/data.pkl", data: tensorPickle(1024) },
        { name: "archive/data/0", data: zeros, deflate: true, declaredSize: 4096 },
      ]),
    ],
    [
      "a storage declaring 2^31 elements in a small entry",
      writeZip([
        { name: "archive/data.pkl", data: tensorPickle(0x7fffffff) },
        { name: "archive/data/0", data: new Uint8Array(16) },
      ]),
    ],
  ];
  setMemoryBudget(8 * MiB);
  try {
    for (const [what, bin] of bombs) {
      const dir = modelWith(what.replace(/\W+/g, "-").slice(0, 40), bin);
      await expectError(tally, group, `pytorch_model.bin: ${what}`, () => openActivationModel(dir));
    }
  } finally {
    setMemoryBudget(null);
  }
  // safetensors whose tensors overlap: one tensor's offsets moved back onto its neighbour.
  const dir = join(root, "weights", "overlap");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of ["config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"])
    copyFileSync(join(TINY_BERT, f), join(dir, f));
  const bytes = readFileSync(join(TINY_BERT, "model.safetensors"));
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8"));
  const name = "bert.embeddings.word_embeddings.weight";
  header[name].data_offsets = header[name].data_offsets.map((o: number) => o - 64);
  const json = Buffer.from(JSON.stringify(header).padEnd(n, " "));
  const out = Buffer.concat([bytes.subarray(0, 8), json, bytes.subarray(8 + n)]);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  writeFileSync(join(dir, "model.safetensors"), out);
  await expectError(tally, group, "model.safetensors: a tensor overlapping its neighbour", () =>
    openActivationModel(dir),
  );
}

// ---- symlinks ----

export async function symlinkCases(f: Fixture, tally: Tally, root: string): Promise<void> {
  const group = "symlinks";
  // The explorer: a file of the results directory that points outside it.
  for (const file of [
    "activations/train/words.txt",
    "activations/train/index.json",
    "activations/train/shards/00000.safetensors",
    "concepts/concepts.json",
  ]) {
    const dir = join(root, "serve");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const sub of ["activations", "concepts"]) copyDir(join(f.base, sub), join(dir, sub));
    const outside = join(root, "outside-copy");
    copyFileSync(join(dir, file), outside);
    rmSync(join(dir, file));
    symlinkSync(outside, join(dir, file));
    await expectError(tally, group, `explorer: ${file} linked outside the results directory`, async () => {
      const e = await startExplorer({ resultsDir: dir, port: 0 });
      await e.close();
    });
  }
  // --overwrite: a store directory holding a link to the input, the input inside --out, --out a link.
  // Another plan than the store's, so that --overwrite replaces it instead of resuming it.
  const plan = JSON.parse(
    readFileSync(join(f.base, "activations", "train", "plan.json"), "utf8"),
  ) as StorePlan;
  plan.settings.aggregation = plan.settings.aggregation === "first" ? "last" : "first";
  const overwriteCase = async (
    what: string,
    setup: (dir: string) => { out: string; inputs: string[]; keep: string },
  ) => {
    const dir = join(root, "overwrite");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const { out, inputs, keep } = setup(dir);
    const before = sha256(readFileSync(keep));
    await expectError(tally, group, `--overwrite: ${what}`, async () => {
      const refused = await openForWriting(out, plan, true, inputs).then(
        () => null,
        (e: unknown) => e,
      );
      // Refused or not, the input must be there, unchanged.
      if (!existsSync(keep) || sha256(readFileSync(keep)) !== before)
        throw new Error(`${keep} was changed or deleted`);
      if (refused) throw refused;
    });
  };
  const store = (dir: string) => {
    copyDir(join(f.base, "activations", "train"), join(dir, "store"));
    writeFileSync(join(dir, "input.in"), "int x ;\n");
    return join(dir, "store");
  };
  await overwriteCase("the store holds a link to the input file", (dir) => {
    const out = store(dir);
    symlinkSync(join(dir, "input.in"), join(out, "words.txt.link"));
    return { out, inputs: [join(dir, "input.in")], keep: join(dir, "input.in") };
  });
  await overwriteCase("words.txt is a link to the input file", (dir) => {
    const out = store(dir);
    rmSync(join(out, "words.txt"));
    symlinkSync(join(dir, "input.in"), join(out, "words.txt"));
    return { out, inputs: [join(dir, "input.in")], keep: join(dir, "input.in") };
  });
  await overwriteCase("the input file lies inside --out", (dir) => {
    const out = store(dir);
    writeFileSync(join(out, "input.in"), "int x ;\n");
    return { out, inputs: [join(out, "input.in")], keep: join(out, "input.in") };
  });
  await overwriteCase("--out is a link to a store", (dir) => {
    const out = store(dir);
    symlinkSync(out, join(dir, "link"));
    return { out: join(dir, "link"), inputs: [join(dir, "input.in")], keep: join(out, "index.json") };
  });
  await overwriteCase("--out is a directory that is not a store", (dir) => {
    mkdirSync(join(dir, "notes"));
    writeFileSync(join(dir, "notes", "todo.txt"), "keep me\n");
    return { out: join(dir, "notes"), inputs: [], keep: join(dir, "notes", "todo.txt") };
  });
}

function copyDir(from: string, to: string): void {
  for (const file of listFiles(from)) {
    const dest = join(to, file.slice(from.length + 1));
    mkdirSync(join(dest, ".."), { recursive: true });
    copyFileSync(file, dest);
  }
}
