import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatTaskTsv, parseTaskTsv } from "../../src/data/task/tsv.js";
import type { StorePlan } from "../../src/store/format.js";
import { ActivationStore, importNeuroxJson } from "../../src/store/index.js";
import { finishedShard, openForWriting } from "../../src/store/writer.js";
import type { FuzzTarget, Mutator } from "./harness.js";

/**
 * Fuzz targets for the files of src/store and src/data: NeuroX activation JSON (import), the JSON
 * files of an activation store (index.json, plan.json, shards/NNNNN.json) and task TSV files. A
 * parser that accepts an input must give a usable result: an imported store must open and read back
 * finite values, a store that opens must read finite values.
 */

// ---- NeuroX JSON ----

export interface NeuroxInput {
  name: string;
  text: string;
  /** `file@L`: the layer the file's values are, whatever its index fields say. */
  layer?: number;
}

function neuroxLine(index: number, tokens: string[], layers: number[], hidden: number): string {
  const features = tokens.map((token, t) => ({
    token,
    layers: layers.map((l) => ({
      index: l,
      values: Array.from({ length: hidden }, (_, u) => Math.round(((t + 1) * (u - 1.5) + l) * 1e4) / 1e5),
    })),
  }));
  return JSON.stringify({ linex_index: index, features });
}

const SENTENCES = [
  ["public", "int", "x", "=", "1", ";"],
  ["return", "x", ";"],
  ["}", "//", "end"],
];

function neuroxSeeds(): NeuroxInput[] {
  const lines = (tokens: string[][], layers: number[], hidden: number) =>
    `${tokens.map((t, i) => neuroxLine(i, t, layers, hidden)).join("\n")}\n`;
  const byteLevel = SENTENCES.map((s) => s.map((t, i) => (i === 0 ? t : `Ġ${t}`)));
  return [
    { name: "all-layers", text: lines(SENTENCES, [0, 1, 2], 4) },
    { name: "one-layer@3", text: lines(SENTENCES, [0], 3), layer: 3 },
    { name: "bytelevel", text: lines(byteLevel, [1, 4], 2) },
  ];
}

/** Most edits go to one sentence's JSON; some to the lines and characters of the file. */
function mutateJsonLines(text: string, m: Mutator): string {
  const lines = text.split("\n");
  if (m.chance(0.7)) {
    const i = m.rng.int(Math.max(1, lines.length - 1));
    lines[i] = m.jsonText(lines[i]);
    return lines.join("\n");
  }
  return m.lines(text);
}

/** Opens a store, reads every row of every layer (at most 64 rows) and checks the values. */
async function readBack(dir: string): Promise<ActivationStore> {
  const store = await ActivationStore.open(dir);
  try {
    const rows = Array.from({ length: Math.min(64, store.meta.numRows) }, (_, i) => i);
    const m = await store.readRows(rows);
    if (!m.data.every(Number.isFinite)) throw new Error("the store read back values that are not finite");
    const tokens = store.allTokens();
    if (tokens.length !== store.meta.numRows) {
      throw new Error(`the store has ${store.meta.numRows} rows but ${tokens.length} tokens`);
    }
    for (const r of rows) store.locate(r);
    return store;
  } finally {
    store.close();
  }
}

export function neuroxTarget(): FuzzTarget<NeuroxInput> {
  let dir = "";
  return {
    name: "NeuroX JSON",
    setup: () => {
      dir = mkdtempSync(join(tmpdir(), "cn-fuzz-neurox-"));
    },
    teardown: () => rmSync(dir, { recursive: true, force: true }),
    seeds: neuroxSeeds,
    mutate: (seed, m) => ({ ...seed, text: mutateJsonLines(seed.text, m) }),
    known: [],
    run: async (input) => {
      const file = join(dir, "acts.json");
      writeFileSync(file, input.text);
      const out = join(dir, "store");
      const spec = input.layer === undefined ? file : `${file}@${input.layer}`;
      const index = await importNeuroxJson({ inputs: [spec], out, overwrite: true, quiet: true });
      // What the import accepted must be a store that opens and reads back.
      try {
        await readBack(out);
      } catch (e) {
        throw new Error(
          `import accepted the file but wrote a store that does not read back: ${(e as Error).message}`,
        );
      }
      return index;
    },
    show: (input) => `${input.name}:${input.text}`,
  };
}

// ---- the JSON files of an activation store ----

const STORE_JSONS = ["index.json", "plan.json", "shards/00000.json"] as const;
type StoreJson = (typeof STORE_JSONS)[number];

export interface StoreJsonInput {
  /** Which seed store. */
  store: number;
  file: StoreJson;
  text: string;
}

interface SeedStore {
  dir: string;
  texts: Record<StoreJson, string>;
  plan: StorePlan;
}

export function storeJsonTarget(): FuzzTarget<StoreJsonInput> {
  let root = "";
  const stores: SeedStore[] = [];
  return {
    name: "store JSONs",
    setup: async () => {
      root = mkdtempSync(join(tmpdir(), "cn-fuzz-store-"));
      const seeds = neuroxSeeds();
      for (const [k, dtype] of [[0, "float32"] as const, [2, "float16"] as const]) {
        const file = join(root, `seed${k}.json`);
        writeFileSync(file, seeds[k].text);
        const original = join(root, `original${k}`);
        await importNeuroxJson({ inputs: [file], out: original, dtype, quiet: true });
        const dir = join(root, `work${k}`);
        cpSync(original, dir, { recursive: true });
        const texts = Object.fromEntries(
          STORE_JSONS.map((f) => [f, readFileSync(join(original, f), "utf8")]),
        ) as Record<StoreJson, string>;
        stores.push({ dir, texts, plan: JSON.parse(texts["plan.json"]) as StorePlan });
      }
    },
    teardown: () => rmSync(root, { recursive: true, force: true }),
    seeds: () =>
      stores.flatMap((s, store) => STORE_JSONS.map((file) => ({ store, file, text: s.texts[file] }))),
    mutate: (seed, m) => ({ ...seed, text: m.jsonText(seed.text) }),
    known: [],
    run: async (input) => {
      const s = stores[input.store];
      // The other files as written; openForWriting's resume removes index.json, so all are rewritten.
      mkdirSync(join(s.dir, "shards"), { recursive: true });
      for (const f of STORE_JSONS) writeFileSync(join(s.dir, f), f === input.file ? input.text : s.texts[f]);
      switch (input.file) {
        case "index.json":
          return readBack(s.dir);
        case "plan.json":
          return openForWriting(s.dir, s.plan, false);
        default:
          // A damaged record is named on stderr by default; thousands of them are expected here.
          return finishedShard(s.dir, s.plan.shards[0], true, () => {});
      }
    },
    show: (input) => `store ${input.store} ${input.file}:${input.text}`,
  };
}

// ---- task TSV ----

function tsvSeeds(): string[] {
  const rows = [
    { sentence: 0, word: 0, token: "public", label: "MODIFIER" },
    { sentence: 0, word: 3, token: "x", label: "IDENT" },
    { sentence: 1, word: 2, token: '"a b"', label: "STRING" },
    { sentence: 2, word: 0, token: "\t\u2581", label: "STRING" },
    { sentence: 7, word: 12, token: "42", label: "NUMBER" },
  ];
  return [formatTaskTsv(rows), formatTaskTsv(rows.slice(0, 1)), formatTaskTsv([])];
}

export function taskTsvTarget(): FuzzTarget<string> {
  return {
    name: "task TSV",
    seeds: tsvSeeds,
    mutate: (seed, m) => (m.chance(0.6) ? m.lines(seed) : m.text(seed)),
    run: (text) => {
      const split = parseTaskTsv(text, "train.tsv");
      const n = split.token.length;
      if (split.sentence.length !== n || split.word.length !== n || split.label.length !== n) {
        throw new Error("parseTaskTsv returned columns of different lengths");
      }
      return split;
    },
    show: (text) => text,
  };
}
