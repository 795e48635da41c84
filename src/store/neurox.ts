import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { z } from "zod";
import { encodeToken } from "../data/escape.js";
import { tempNameFor, writeJsonAtomic } from "../util/atomic.js";
import { decodeByteLevel } from "../util/bytelevel.js";
import { InputError, UserError } from "../util/errors.js";
import { checkValue } from "../util/json.js";
import { getOrCreate } from "../util/maps.js";
import { siteLayers } from "../util/neurons.js";
import { Progress } from "../util/progress.js";
import {
  MAX_LAYER,
  type ShardPlan,
  type ShardRecord,
  type Site,
  STORE_FORMAT,
  STORE_VERSION,
  type StoreDType,
  type StoreIndex,
  type StorePlan,
} from "./format.js";
import { readSentenceInput } from "./input.js";
import type { ActivationStore } from "./reader.js";
import { DTYPE_MAX, fitsDtype, openForWriting, writeShard, writeWordsFiles } from "./writer.js";

/**
 * NeuroX's activation JSON: one JSON object per line (per sentence),
 *   {"linex_index": i, "features": [{"token": w, "layers": [{"index": l, "values": [...]}, ...]}, ...]}
 * The paper authors' NeuroX fork writes one file per layer; NeuroX itself writes all layers in one
 * file. Both import; a file name may carry `@L` to say which layer its values are when the file's
 * own `index` fields do not (e.g. `codebert-layer5.json@5`).
 */
interface NeuroxSentence {
  tokens: string[];
  /** layer → [tokens × hidden] */
  layers: Map<number, Float32Array>;
}

export interface ImportOptions {
  inputs: string[];
  labels?: string;
  /** A sentence file whose words replace the files' token texts (counts must agree). */
  words?: string;
  /**
   * How the files spell tokens: "raw" as is; "bytelevel" decodes GPT-2/RoBERTa byte-level text
   * ('Ġ' = leading space, dropped); "auto" (default) decodes when a token starts with 'Ġ'.
   */
  tokenFormat?: "raw" | "bytelevel" | "auto";
  out: string;
  dtype?: StoreDType;
  modelType?: string;
  source?: string;
  overwrite?: boolean;
  quiet?: boolean;
}

function parseInputSpec(spec: string): { file: string; layer?: number } {
  const m = /^(.*)@(\d+)$/.exec(spec);
  return m ? { file: m[1], layer: Number(m[2]) } : { file: spec };
}

/** One line of NeuroX activation JSON: a sentence, its tokens and their vectors per layer. */
const NEUROX_LINE_SCHEMA = z.object({
  linex_index: z.number().int().min(0),
  features: z.array(
    z.object({
      token: z.string().min(1),
      layers: z.array(
        z.object({ index: z.number().int().min(0).max(MAX_LAYER), values: z.array(z.number()) }),
      ),
    }),
  ),
});

function parseFeatureLine(
  file: string,
  lineNo: number,
  text: string,
  forcedLayer: number | undefined,
  dtype: StoreDType,
) {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(file, `not valid JSON (${(e as Error).message})`, { line: lineNo });
  }
  const checked = checkValue(NEUROX_LINE_SCHEMA, json);
  if (!checked.ok) throw new InputError(file, checked.detail, { line: lineNo, field: checked.field });
  const line = checked.value;
  const tokens: string[] = [];
  const perLayer = new Map<number, number[][]>();
  line.features.forEach((feat, t) => {
    tokens.push(feat.token);
    feat.layers.forEach((layer, l) => {
      // A value the storage dtype cannot hold would be stored as ±Infinity (the schema refused NaN).
      const big = layer.values.findIndex((v) => !fitsDtype(v, dtype));
      if (big >= 0)
        throw new InputError(
          file,
          `value ${layer.values[big]} (token ${t + 1} '${feat.token}', layer ${forcedLayer ?? layer.index}, unit ${big}) does not fit in ${dtype} (at most ±${DTYPE_MAX[dtype]})${dtype === "float16" ? ": import with --dtype float32" : ""}`,
          { line: lineNo, field: `features[${t}].layers[${l}].values[${big}]` },
        );
      getOrCreate(perLayer, forcedLayer ?? layer.index, () => []).push(layer.values);
    });
  });
  return { index: line.linex_index, tokens, perLayer };
}

async function readNeuroxFile(
  spec: string,
  into: Map<number, NeuroxSentence>,
  hidden: { value: number },
  dtype: StoreDType,
): Promise<void> {
  const { file, layer } = parseInputSpec(spec);
  const stream = createReadStream(file);
  stream.on("error", () => {});
  const rl = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  try {
    for await (const text of rl) {
      lineNo++;
      if (text.trim() === "") continue;
      const s = parseFeatureLine(file, lineNo, text, layer, dtype);
      const known = into.has(s.index);
      const sent = getOrCreate(into, s.index, () => ({ tokens: s.tokens, layers: new Map() }));
      if (known && sent.tokens.join("\u0000") !== s.tokens.join("\u0000")) {
        throw new InputError(file, `sentence ${s.index} has other tokens than in an earlier file`, {
          line: lineNo,
        });
      }
      for (const [l, rows] of s.perLayer) {
        if (rows.length !== s.tokens.length)
          throw new InputError(file, `layer ${l} has ${rows.length} vectors for ${s.tokens.length} tokens`, {
            line: lineNo,
          });
        const dim = rows[0]?.length ?? hidden.value;
        if (hidden.value < 0) hidden.value = dim;
        const block = new Float32Array(rows.length * hidden.value);
        rows.forEach((r, t) => {
          if (r.length !== hidden.value)
            throw new InputError(file, `vector of length ${r.length}, expected ${hidden.value}`, {
              line: lineNo,
            });
          block.set(r, t * hidden.value);
        });
        sent.layers.set(l, block);
      }
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Imports NeuroX activation JSON into a codeneurons store. */
export async function importNeuroxJson(opts: ImportOptions): Promise<StoreIndex> {
  const started = Date.now();
  if (opts.inputs.length === 0) throw new UserError("import: give at least one --input file");
  const sentences = new Map<number, NeuroxSentence>();
  const hidden = { value: -1 };
  const dtype = opts.dtype ?? "float32";
  for (const spec of opts.inputs) await readNeuroxFile(spec, sentences, hidden, dtype);
  const indices = [...sentences.keys()].sort((a, b) => a - b);
  if (indices.length === 0) throw new InputError(opts.inputs[0], "holds no sentences");
  indices.forEach((idx, i) => {
    if (idx !== i)
      throw new InputError(
        opts.inputs[0],
        `linex_index values must be 0..${indices.length - 1}; ${i} is missing`,
      );
  });
  const layerSet = new Set<number>();
  for (const s of sentences.values()) for (const l of s.layers.keys()) layerSet.add(l);
  const layers = [...layerSet].sort((a, b) => a - b);
  for (const [idx, s] of sentences) {
    for (const l of layers)
      if (!s.layers.has(l)) throw new InputError(opts.inputs[0], `sentence ${idx} lacks layer ${l}`);
  }
  const words = await wordsOf(
    opts,
    indices.map((i) => sentences.get(i)!.tokens),
  );
  const labels = opts.labels ? await readParallel(opts.labels, words, "labels") : undefined;
  const rows = words.reduce((s, w) => s + w.length, 0);
  const shard: ShardPlan = { id: 0, firstLine: 0, endLine: words.length, firstRow: 0, endRow: rows };
  const plan: StorePlan = {
    format: STORE_FORMAT,
    version: STORE_VERSION,
    model: {
      source: opts.source ?? `neurox-json:${opts.inputs.join(",")}`,
      modelType: opts.modelType ?? "unknown",
      numLayers: Math.max(...layers),
      hidden: hidden.value,
      layerNumbering: "as in the imported NeuroX file",
    },
    settings: {
      level: "word",
      aggregation: "average",
      sentenceRepresentation: "first",
      includeSpecialTokens: false,
      layers,
      sites: ["hidden"],
      dtype,
      maxTokens: 0,
    },
    input: { file: opts.inputs.join(","), sha256: "", labelsFile: opts.labels },
    shards: [shard],
  };
  // The files read must survive an --overwrite of the output directory.
  const read = [
    ...opts.inputs.map((spec) => parseInputSpec(spec).file),
    ...[opts.labels, opts.words].filter((f): f is string => f !== undefined),
  ];
  await openForWriting(opts.out, plan, opts.overwrite ?? false, read);
  const blocks = layers.map((layer) => {
    const data = new Float32Array(rows * hidden.value);
    let r = 0;
    for (const i of indices) {
      const b = sentences.get(i)!.layers.get(layer)!;
      data.set(b, r * hidden.value);
      r += b.length / hidden.value;
    }
    return { site: "hidden" as const, layer, dim: hidden.value, data };
  });
  const record: ShardRecord = await writeShard(opts.out, shard, { rows, blocks }, dtype);
  await writeWordsFiles(opts.out, words, labels);
  const index: StoreIndex = {
    ...plan,
    shards: [record],
    counts: {
      lines: words.length,
      sentences: words.length,
      emptyLines: 0,
      rows,
      subwords: 0,
      windowedSentences: 0,
      windows: words.length,
      truncatedWords: 0,
    },
    createdAt: new Date().toISOString(),
    seconds: (Date.now() - started) / 1000,
  };
  await writeJsonAtomic(join(opts.out, "index.json"), index);
  return index;
}

/** A file with one line per sentence and one entry per token, checked against the activations' tokens. */
async function readParallel(file: string, tokens: string[][], what: "labels" | "words"): Promise<string[][]> {
  const given = await readSentenceInput(file);
  if (given.lines.length !== tokens.length) {
    throw new InputError(
      file,
      `has ${given.lines.length} lines but the activations hold ${tokens.length} sentences`,
    );
  }
  given.lines.forEach((l, i) => {
    if (l.length !== tokens[i].length) {
      throw new InputError(
        file,
        `line has ${l.length} ${what} but sentence ${i} has ${tokens[i].length} tokens`,
        {
          line: i + 1,
        },
      );
    }
  });
  return given.lines;
}

/** The words to store, escaped as words.txt holds them (a --words file is already written that way). */
async function wordsOf(opts: ImportOptions, tokens: string[][]): Promise<string[][]> {
  if (opts.words) return readParallel(opts.words, tokens, "words");
  return tokenTexts(opts, tokens).map((s) => s.map(encodeToken));
}

/** The real text of NeuroX's tokens (byte-level spellings decoded when asked or detected). */
function tokenTexts(opts: ImportOptions, tokens: string[][]): string[][] {
  const format = opts.tokenFormat ?? "auto";
  const decode =
    format === "bytelevel" || (format === "auto" && tokens.some((s) => s.some((t) => t.startsWith("Ġ"))));
  if (!decode) return tokens;
  return tokens.map((s) =>
    s.map((t) => {
      const text = decodeByteLevel(t);
      // Tokens outside the byte-level alphabet are kept as written.
      return text === null ? t : text.trim() || t;
    }),
  );
}

/** NeuroX writes values rounded to 8 decimals. */
function round8(x: number): number {
  return Math.round(x * 1e8) / 1e8;
}

/** What `exportNeuroxJson` wrote. */
export interface NeuroxExport {
  /** Sentences written: lines of the JSON file, and of the .in / .label files beside it. */
  sentences: number;
  files: { json: string; in: string; label: string | null };
  /** 1-based lines of the store's input left out because the store holds no word of them. */
  leftOut: number[];
}

/** `acts.json` → `acts.in` / `acts.label` (a name without .json gets the suffixes appended). */
export function neuroxSideFiles(out: string): { in: string; label: string } {
  const stem = out.endsWith(".json") ? out.slice(0, -".json".length) : out;
  return { in: `${stem}.in`, label: `${stem}.label` };
}

/**
 * Exports a word-level store (chosen layers of one site) as NeuroX activation JSON lines, with the
 * sentence and label files NeuroX reads beside it: `acts.json`, `acts.in`, `acts.label` (when the
 * store has labels). NeuroX's `load_data` needs the .in / .label lines parallel to the activation
 * lines, token for token, and its `load_activations` cannot hold a sentence without tokens; so the
 * three files hold the same sentences in the same order: every line of the store's input that the
 * store holds words for (lines that were not extracted, or are empty, are left out). Each JSON line
 * keeps NeuroX's `linex_index` (0, 1, … in file order) and adds `line`, the 1-based line of the
 * store's input it came from. Tokens in the .in file are escaped as every codeneurons sentence file
 * is (data/escape.ts: no token holds whitespace, so Python's `str.split()` finds them). All three
 * files are written atomically. NeuroX knows no sites: an MLP export holds block l's MLP neurons
 * under `index` l, so its file should say so in its name.
 */
export async function exportNeuroxJson(
  store: ActivationStore,
  out: string,
  opts: { layers?: number[]; site?: Site; quiet?: boolean } = {},
): Promise<NeuroxExport> {
  if (store.meta.level !== "word")
    throw new UserError("export: NeuroX JSON holds word-level activations; this store is sentence-level");
  const site = opts.site ?? "hidden";
  // The store refuses layers it does not hold (for the MLP site, layer 0 too).
  const layers = opts.layers ?? siteLayers(site, store.meta.layers);
  const hidden = store.dimOf(site);
  const side = neuroxSideFiles(out);
  const files = { json: out, in: side.in, label: store.hasLabels ? side.label : null };
  await mkdir(dirname(resolve(out)), { recursive: true });
  const targets = [files.json, files.in, ...(files.label ? [files.label] : [])];
  const temps = targets.map(tempNameFor);
  const streams = temps.map((t) => createWriteStream(t));
  const write = async (i: number, text: string) => {
    if (!streams[i].write(text)) await once(streams[i], "drain");
  };
  const progress = new Progress("export sentences", store.numLines, { quiet: opts.quiet });
  const leftOut: number[] = [];
  let index = 0;
  try {
    for (let s = 0; s < store.numLines; s++) {
      const words = store.words(s);
      progress.tick();
      if (words.length === 0) {
        leftOut.push(s + 1);
        continue;
      }
      const rows = Int32Array.from(words, (_, w) => store.row(s, w));
      const m = await store.readRows(rows, { layers, site });
      const features = words.map((token, t) => ({
        token,
        layers: layers.map((l, li) => ({
          index: l,
          values: Array.from(
            m.data.subarray(t * m.cols + li * hidden, t * m.cols + (li + 1) * hidden),
            round8,
          ),
        })),
      }));
      await write(0, `${JSON.stringify({ linex_index: index++, line: s + 1, features })}\n`);
      await write(1, `${words.map(encodeToken).join(" ")}\n`);
      if (files.label) {
        const labels = store.labels(s);
        if (!labels || labels.length !== words.length)
          throw new InputError(
            store.dir,
            `line ${s + 1} has ${labels?.length ?? 0} labels for ${words.length} words`,
          );
        await write(2, `${labels.join(" ")}\n`);
      }
    }
    for (const st of streams) st.end();
    await Promise.all(streams.map((st) => once(st, "finish")));
  } catch (e) {
    for (const st of streams) st.destroy();
    await Promise.all(temps.map((t) => rm(t, { force: true })));
    throw e;
  }
  for (const [i, t] of temps.entries()) await rename(t, targets[i]);
  progress.finish();
  return { sentences: index, files, leftOut };
}
