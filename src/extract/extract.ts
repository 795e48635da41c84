import { totalmem } from "node:os";
import { join } from "node:path";
import { decodeToken } from "../data/escape.js";
import {
  type Aggregation,
  type SentenceRepresentation,
  type ShardPlan,
  type ShardRecord,
  SITES,
  type Site,
  STORE_FORMAT,
  STORE_VERSION,
  type StoreCounts,
  type StoreDType,
  type StoreIndex,
  type StorePlan,
  shardsOfPart,
} from "../store/format.js";
import { readSentenceInput, type SentenceInput } from "../store/input.js";
import {
  DTYPE_MAX,
  finishedShard,
  fitsDtype,
  openForWriting,
  type ShardData,
  writeShard,
  writeWordsFiles,
} from "../store/writer.js";
import { writeJsonAtomic } from "../util/atomic.js";
import { UserError } from "../util/errors.js";
import { getOrCreate } from "../util/maps.js";
import { neuronName, neuronSpace, siteTitle } from "../util/neurons.js";
import { definedOptions } from "../util/options.js";
import { Progress } from "../util/progress.js";
import { aggregateSpan } from "./aggregate.js";
import { makeBatches, toTokenBatch } from "./batches.js";
import { type ExtractProfile, ProfileClock } from "./profile.js";
import type { ActivationModel } from "./types.js";
import { planSentence, type SentencePlan } from "./windows.js";

export interface ExtractOptions {
  input: string;
  labels?: string;
  out: string;
  /** Hidden-state layers 0..L to keep; default all. */
  layers?: number[];
  level?: "word" | "sentence";
  aggregation?: Aggregation;
  sentenceRepresentation?: SentenceRepresentation;
  includeSpecialTokens?: boolean;
  dtype?: StoreDType;
  /**
   * Sites to store (default ["hidden"]): the residual stream after each kept layer and / or the MLP
   * neurons of the kept blocks (layers >= 1). The model must have been opened to emit them.
   */
  sites?: Site[];
  /** Compute only part `index` of `count` (`--shard K/N`). */
  part?: { index: number; count: number };
  /** Upper bound on padded tokens per forward batch. */
  batchTokens?: number;
  /**
   * Extract only these input lines (0-based), e.g. the sentences a task uses; the others are kept
   * as empty lines so that line numbers stay valid references.
   */
  onlyLines?: ReadonlySet<number>;
  /** Lower the model's sequence limit (e.g. to test windowing). */
  maxTokens?: number;
  /** Target size of one shard in bytes. */
  shardBytes?: number;
  /**
   * Stored bytes of the consecutive shards computed in one go (default 512 MB): more sentences to
   * sort by length, less padding; memory grows with it (float32 while computing).
   */
  groupBytes?: number;
  overwrite?: boolean;
  /** Return where the time went (ExtractResult.profile; `extract --profile`). */
  profile?: boolean;
  /** Re-hash finished shards on resume (slower, catches corrupted files). */
  verifyResume?: boolean;
  quiet?: boolean;
}

/** The store's counts, and the words that came out as nothing but the unknown token. */
export interface ExtractCounts extends StoreCounts {
  unknownWords: number;
}

export interface ExtractResult {
  out: string;
  counts: ExtractCounts;
  /** Signs that the result may be meaningless (mostly unknown words); also in index.json. */
  warnings: string[];
  shardsComputed: number;
  shardsReused: number;
  seconds: number;
  status: "new" | "resume";
  /** Where the time went, when asked for (ExtractOptions.profile). */
  profile?: ExtractProfile;
}

interface LinePlan {
  line: number;
  /** Rows this line contributes (words, words + specials, or 1 for a sentence). */
  rows: number;
  plan: SentencePlan | null;
}

/** A window of one line ready to run: its token ids and where each owned word's subwords sit. */
interface WindowItem {
  line: number;
  window: number;
  ids: number[];
  /** Word index → [begin, end) sequence positions, for the words this window owns. */
  spans: { word: number; begin: number; end: number }[];
  isFirstWindow: boolean;
  isLastWindow: boolean;
}

const DEFAULTS = {
  level: "word" as const,
  aggregation: "average" as const,
  dtype: "float32" as const,
  // GEMMs of about 1,024 rows (tokens) already run at the CPU GEMM's full speed, and smaller batches
  // pad less; with length bucketing (batches.ts) 512 to 2,048 tokens do about the same
  // (bench:extract, bench/results.json).
  batchTokens: 1024,
  shardBytes: 64 * 1024 * 1024,
  groupBytes: 512 * 1024 * 1024,
};

function resolveLayers(model: ActivationModel, layers: number[] | undefined): number[] {
  const all = Array.from({ length: model.numLayers + 1 }, (_, i) => i);
  if (!layers) return all;
  for (const l of layers) {
    if (l < 0 || l > model.numLayers) {
      throw new UserError(
        `--layers: layer ${l} does not exist; this model has layers 0..${model.numLayers} (0 = embeddings)`,
      );
    }
  }
  return [...new Set(layers)].sort((a, b) => a - b);
}

function tokenizeLines(
  model: ActivationModel,
  input: SentenceInput,
  only?: ReadonlySet<number>,
): { ids: number[][][]; emptyWords: number; unknownWords: number; words: number } {
  const cache = [new Map<string, number[]>(), new Map<string, number[]>()];
  const tok = model.tokenizer;
  let emptyWords = 0;
  let unknownWords = 0;
  let wordCount = 0;
  const ids = input.lines.map((words, line) =>
    (only && !only.has(line) ? [] : words).map((w, i) => {
      const c = cache[i === 0 ? 0 : 1];
      let wordIds = c.get(w);
      if (!wordIds) {
        // Words in codeneurons' .in files escape inner whitespace (see src/data/escape.ts); the model
        // must see the real text.
        wordIds = tok.tokenizeWord(decodeToken(w) ?? w, i === 0);
        c.set(w, wordIds);
      }
      wordCount++;
      if (wordIds.length > 0) {
        if (wordIds.every((id) => id === tok.unkId)) unknownWords++;
        return wordIds;
      }
      // A word the tokenizer removes entirely (e.g. only zero-width characters for BERT) still needs a
      // vector: it is read as the unknown token, and counted.
      emptyWords++;
      return [tok.unkId ?? tok.padId];
    }),
  );
  return { ids, emptyWords, unknownWords, words: wordCount };
}

/** Above this share of unknown words, the tokenizer does not fit the input (or its vocabulary is broken). */
const UNKNOWN_WORDS_WARNING = 0.05;

function unknownWordsWarning(model: ActivationModel, unknown: number, words: number): string[] {
  if (words === 0 || unknown / words <= UNKNOWN_WORDS_WARNING) return [];
  const tok = model.tokenizer;
  const share = ((100 * unknown) / words).toFixed(1);
  return [
    `${unknown} of ${words} words (${share}%) are nothing but the unknown token ` +
      `'${tok.unkId === null ? "" : tok.idToToken(tok.unkId)}': their vectors say nothing about the words. ` +
      "Does the tokenizer of this model fit the input (language, escaping), and is its vocabulary intact?",
  ];
}

function planLines(
  model: ActivationModel,
  lineIds: number[][][],
  opts: Required<Pick<ExtractOptions, "level">> & ExtractOptions,
): LinePlan[] {
  const tok = model.tokenizer;
  const maxTokens = Math.min(model.maxTokens, opts.maxTokens ?? Number.POSITIVE_INFINITY);
  const budget = maxTokens - tok.prefixIds.length - tok.suffixIds.length;
  const specials = opts.includeSpecialTokens ? tok.prefixIds.length + tok.suffixIds.length : 0;
  return lineIds.map((ids, line) => {
    if (ids.length === 0 || (opts.onlyLines && !opts.onlyLines.has(line)))
      return { line, rows: 0, plan: null };
    const plan = planSentence(ids, budget, model.causal);
    const rows = opts.level === "sentence" ? 1 : ids.length + specials;
    return { line, rows, plan };
  });
}

function planShards(lines: LinePlan[], rowsPerShard: number): ShardPlan[] {
  const shards: ShardPlan[] = [];
  let firstLine = 0;
  let firstRow = 0;
  let row = 0;
  for (let i = 0; i < lines.length; i++) {
    row += lines[i].rows;
    if (row - firstRow >= rowsPerShard || i === lines.length - 1) {
      shards.push({ id: shards.length, firstLine, endLine: i + 1, firstRow, endRow: row });
      firstLine = i + 1;
      firstRow = row;
    }
  }
  if (shards.length === 0)
    shards.push({ id: 0, firstLine: 0, endLine: lines.length, firstRow: 0, endRow: 0 });
  return shards;
}

function windowItems(model: ActivationModel, lp: LinePlan): WindowItem[] {
  const plan = lp.plan;
  if (!plan) return [];
  const tok = model.tokenizer;
  return plan.windows.map((w, wi) => {
    const ids: number[] = [...tok.prefixIds];
    const spans: WindowItem["spans"] = [];
    for (let word = w.firstWord; word < w.endWord; word++) {
      const begin = ids.length;
      ids.push(...plan.wordIds[word]);
      if (plan.owner[word] === wi) spans.push({ word, begin, end: ids.length });
    }
    ids.push(...tok.suffixIds);
    return {
      line: lp.line,
      window: wi,
      ids,
      spans,
      isFirstWindow: wi === 0,
      isLastWindow: wi === plan.windows.length - 1,
    };
  });
}

interface Sink {
  site: Site;
  layer: number;
  dim: number;
  data: Float32Array;
}

/** Computes one shard's (or a group of shards') activations. */
async function computeShard(
  model: ActivationModel,
  shard: ShardPlan,
  lines: LinePlan[],
  settings: StorePlan["settings"],
  batchTokens: number,
  progress: Progress,
  clock: ProfileClock,
): Promise<ShardData> {
  const rows = shard.endRow - shard.firstRow;
  const sinks: Sink[] = [];
  for (const site of settings.sites) {
    for (const layer of settings.layers) {
      if (site === "mlp" && layer === 0) continue;
      const dim = site === "hidden" ? model.hidden : (model.intermediate ?? 0);
      sinks.push({ site, layer, dim, data: new Float32Array(rows * dim) });
    }
  }
  const sinkOf = new Map(sinks.map((s) => [`${s.site}.${s.layer}`, s]));
  // Row of the first word of each line in this shard, relative to the shard.
  const lineRow = new Map<number, number>();
  let r = 0;
  const items: WindowItem[] = [];
  for (let l = shard.firstLine; l < shard.endLine; l++) {
    lineRow.set(l, r);
    r += lines[l].rows;
    items.push(...windowItems(model, lines[l]));
  }
  const sentenceAcc =
    settings.level === "sentence" ? new SentenceAccumulator(lines, sinks, lineRow, settings) : null;
  const batches = makeBatches(items, batchTokens);
  const tokenBatches = batches.map((batch) => toTokenBatch(batch, model.tokenizer.padId));
  for (const batch of batches) {
    clock.tokensPadded += batch.items.length * batch.seq;
    for (const it of batch.items) clock.tokensReal += it.ids.length;
  }
  clock.batches += batches.length;
  clock.lap("tokenize");
  // Progress in words, credited as each batch's outputs arrive (layer by layer for streamed models).
  const outputsPerBatch = Math.max(1, model.layers.length + model.mlpLayers.length);
  let credited = progress.completed;
  const forward = model.forwardGroup(
    tokenBatches,
    (b, site, layer, block) => {
      const t0 = performance.now();
      const sink = sinkOf.get(`${site}.${layer}`);
      const batch = batches[b];
      if (sink) {
        batch.items.forEach((item, i) => {
          if (sentenceAcc) sentenceAcc.consume(item, i, batch.seq, sink, block);
          else
            consumeWords(
              model,
              item,
              i,
              batch.seq,
              block,
              sink,
              lineRow.get(item.line)!,
              lines[item.line],
              settings,
            );
        });
      }
      credited += batch.items.reduce((s, it) => s + it.spans.length, 0) / outputsPerBatch;
      progress.update(Math.floor(credited + 1e-9));
      clock.charge("aggregate", (performance.now() - t0) / 1000);
    },
    clock.forward,
  );
  await forward;
  clock.skip();
  sentenceAcc?.finish();
  clock.lap("aggregate");
  return { rows, blocks: sinks.map((s) => ({ site: s.site, layer: s.layer, dim: s.dim, data: s.data })) };
}

function consumeWords(
  model: ActivationModel,
  item: WindowItem,
  b: number,
  seq: number,
  block: Float32Array,
  sink: Sink,
  firstRow: number,
  lp: LinePlan,
  settings: StorePlan["settings"],
): void {
  const nPrefix = model.tokenizer.prefixIds.length;
  const nSuffix = model.tokenizer.suffixIds.length;
  const shift = settings.includeSpecialTokens ? nPrefix : 0;
  const numWords = lp.plan!.wordIds.length;
  for (const s of item.spans) {
    const row = firstRow + shift + s.word;
    aggregateSpan(block, seq, sink.dim, b, s.begin, s.end, settings.aggregation, sink.data, row * sink.dim);
  }
  if (!settings.includeSpecialTokens) return;
  if (item.isFirstWindow) {
    for (let p = 0; p < nPrefix; p++) {
      aggregateSpan(block, seq, sink.dim, b, p, p + 1, "first", sink.data, (firstRow + p) * sink.dim);
    }
  }
  if (item.isLastWindow) {
    for (let p = 0; p < nSuffix; p++) {
      const pos = item.ids.length - nSuffix + p;
      const row = firstRow + nPrefix + numWords + p;
      aggregateSpan(block, seq, sink.dim, b, pos, pos + 1, "first", sink.data, row * sink.dim);
    }
  }
}

/**
 * Sentence vectors: the first special token of the first window (encoders' [CLS]/<s>), the last
 * token of the last window (decoders), or the mean of the word vectors across windows.
 */
class SentenceAccumulator {
  private readonly sums = new Map<number, Float64Array[]>();

  constructor(
    private readonly lines: LinePlan[],
    private readonly sinks: Sink[],
    private readonly lineRow: Map<number, number>,
    private readonly settings: StorePlan["settings"],
  ) {}

  consume(item: WindowItem, b: number, seq: number, sink: Sink, block: Float32Array): void {
    const how = this.settings.sentenceRepresentation;
    const row = this.lineRow.get(item.line)!;
    const si = this.sinks.indexOf(sink);
    if (how === "first" && item.isFirstWindow) {
      aggregateSpan(block, seq, sink.dim, b, 0, 1, "first", sink.data, row * sink.dim);
    } else if (how === "last" && item.isLastWindow) {
      const pos = item.ids.length - 1;
      aggregateSpan(block, seq, sink.dim, b, pos, pos + 1, "first", sink.data, row * sink.dim);
    } else if (how === "mean") {
      const word = new Float32Array(sink.dim);
      const acc = getOrCreate(this.sums, item.line, () => this.sinks.map((s) => new Float64Array(s.dim)));
      for (const s of item.spans) {
        aggregateSpan(block, seq, sink.dim, b, s.begin, s.end, this.settings.aggregation, word, 0);
        for (let u = 0; u < sink.dim; u++) acc[si][u] += word[u];
      }
    }
  }

  finish(): void {
    if (this.settings.sentenceRepresentation !== "mean") return;
    for (const [line, acc] of this.sums) {
      const n = this.lines[line].plan!.wordIds.length;
      const row = this.lineRow.get(line)!;
      this.sinks.forEach((sink, si) => {
        for (let u = 0; u < sink.dim; u++) sink.data[row * sink.dim + u] = acc[si][u] / n;
      });
    }
  }
}

function countsOf(lines: LinePlan[]): StoreCounts {
  let windowed = 0;
  let windows = 0;
  let truncated = 0;
  let subwords = 0;
  for (const lp of lines) {
    if (!lp.plan) continue;
    windows += lp.plan.windows.length;
    if (lp.plan.windows.length > 1) windowed++;
    truncated += lp.plan.truncatedWords;
    for (const w of lp.plan.wordIds) subwords += w.length;
  }
  const sentences = lines.filter((l) => l.plan !== null).length;
  return {
    lines: lines.length,
    sentences,
    emptyLines: lines.length - sentences,
    rows: lines.reduce((s, l) => s + l.rows, 0),
    subwords,
    windowedSentences: windowed,
    windows,
    truncatedWords: truncated,
  };
}

function storedWords(
  model: ActivationModel,
  input: SentenceInput,
  includeSpecial: boolean,
): { words: string[][]; labels?: string[][] } {
  if (!includeSpecial) return { words: input.lines, labels: input.labels };
  const tok = model.tokenizer;
  const pre = tok.prefixIds.map((id) => tok.idToToken(id));
  const post = tok.suffixIds.map((id) => tok.idToToken(id));
  const words = input.lines.map((l) => (l.length === 0 ? l : [...pre, ...l, ...post]));
  const labels = input.labels?.map((l) =>
    l.length === 0 ? l : [...pre.map(() => "SPECIAL"), ...l, ...post.map(() => "SPECIAL")],
  );
  return { words, labels };
}

/** The input with the lines that were not extracted blanked, so that words.txt matches the rows. */
function keepOnly(input: SentenceInput, lines: LinePlan[]): SentenceInput {
  const blank = (i: number) => lines[i].plan === null;
  return {
    ...input,
    lines: input.lines.map((l, i) => (blank(i) ? [] : l)),
    labels: input.labels?.map((l, i) => (blank(i) ? [] : l)),
  };
}

/**
 * The sentence vector unless one is asked for (docs/DESIGN.md): an encoder's first special token
 * ([CLS] / <s>), a decoder's last token — the only one that has seen the whole sentence (a decoder's
 * BOS vector is the same for every sentence).
 */
function defaultSentenceRepresentation(model: ActivationModel, opts: ExtractOptions): SentenceRepresentation {
  return opts.sentenceRepresentation ?? (model.causal ? "last" : "first");
}

function validate(model: ActivationModel, opts: ExtractOptions): void {
  if (opts.level === "sentence" && opts.includeSpecialTokens) {
    throw new UserError("--include-special applies to word-level extraction only");
  }
  if (
    opts.level === "sentence" &&
    defaultSentenceRepresentation(model, opts) === "first" &&
    model.tokenizer.prefixIds.length === 0
  ) {
    throw new UserError(
      `${model.source} adds no start token ([CLS]/<s>), so there is no first-token sentence vector; use --sentence-repr last (decoders) or mean`,
    );
  }
  const sites = opts.sites ?? ["hidden"];
  if (sites.length === 0 || sites.some((s) => !SITES.includes(s))) {
    throw new UserError(`sites: one or more of ${SITES.join(", ")}; got ${sites.join(",") || "none"}`);
  }
  if (sites.includes("mlp") && model.intermediate === undefined)
    throw new UserError("this model does not expose MLP neurons");
}

/**
 * The default group for a model that reads its weights block by block for every group: each group
 * re-reads the whole model, so groups are made as large as memory comfortably allows.
 */
function streamingGroupBytes(): number {
  return Math.max(DEFAULTS.groupBytes, Math.min(4 * 1024 ** 3, totalmem() / 6));
}

/** The model must emit every (site, layer) the store will hold. */
function checkModelEmits(model: ActivationModel, layers: number[], sites: Site[]): void {
  const missing = [
    ...layers.filter((l) => !model.layers.includes(l)).map((l) => `hidden ${l}`),
    ...(sites.includes("mlp")
      ? layers.filter((l) => l >= 1 && !model.mlpLayers.includes(l)).map((l) => `mlp ${l}`)
      : []),
  ];
  if (missing.length > 0) {
    throw new UserError(
      `the model was opened without ${missing.join(", ")}; open it with the same layers and sites`,
    );
  }
}

/** Extracts word- (or sentence-) level activations of `model` for `opts.input` into a store. */
export async function extractActivations(
  model: ActivationModel,
  opts: ExtractOptions,
): Promise<ExtractResult> {
  const started = Date.now();
  const clock = new ProfileClock();
  validate(model, opts);
  const o = { ...DEFAULTS, ...definedOptions(opts) };
  const input = await readSentenceInput(o.input, o.labels);
  const layers = resolveLayers(model, o.layers);
  const sites: Site[] = SITES.filter((s) => (o.sites ?? ["hidden"]).includes(s));
  checkModelEmits(model, layers, sites);
  const tokenized = tokenizeLines(model, input, o.onlyLines);
  const lines = planLines(model, tokenized.ids, o);
  const bytesPerRow =
    (o.dtype === "float16" ? 2 : 4) *
    layers.length *
    (model.hidden + (sites.includes("mlp") ? (model.intermediate ?? 0) : 0));
  const shards = planShards(lines, Math.max(1, Math.floor(o.shardBytes / bytesPerRow)));
  clock.lap("tokenize");
  const plan: StorePlan = {
    format: STORE_FORMAT,
    version: STORE_VERSION,
    model: {
      source: model.source,
      modelType: model.modelType,
      numLayers: model.numLayers,
      hidden: model.hidden,
      intermediate: model.intermediate,
      layerNumbering:
        "0 = embedding output, i = output of transformer block i (as transformers' output_hidden_states)",
    },
    settings: {
      level: o.level,
      aggregation: o.aggregation,
      sentenceRepresentation: defaultSentenceRepresentation(model, opts),
      includeSpecialTokens: o.includeSpecialTokens ?? false,
      layers,
      sites,
      dtype: o.dtype,
      maxTokens: Math.min(model.maxTokens, o.maxTokens ?? Number.POSITIVE_INFINITY),
    },
    input: {
      file: input.file,
      sha256: input.sha256,
      labelsFile: input.labelsFile,
      labelsSha256: input.labelsSha256,
    },
    shards,
    part: o.part,
  };
  const status = await openForWriting(o.out, plan, o.overwrite ?? false);
  const range = o.part
    ? shardsOfPart(shards.length, o.part.index, o.part.count)
    : { begin: 0, end: shards.length };
  const counts: ExtractCounts = {
    ...countsOf(lines),
    emptyWords: tokenized.emptyWords,
    unknownWords: tokenized.unknownWords,
  };
  const warnings = unknownWordsWarning(model, tokenized.unknownWords, tokenized.words);
  const mine = shards.slice(range.begin, range.end);
  const records: ShardRecord[] = [];
  const todo: ShardPlan[] = [];
  for (const s of mine) {
    const done = await finishedShard(o.out, s, o.verifyResume ?? false);
    if (done) records.push(done);
    else todo.push(s);
  }
  const pending = new Set(todo.map((s) => s.id));
  // A group with any unfinished shard is computed whole (its finished shards are not rewritten).
  const groupBytes = opts.groupBytes ?? (model.streaming ? streamingGroupBytes() : DEFAULTS.groupBytes);
  const groups = shardGroups(mine, groupBytes / bytesPerRow).filter((g) => g.some((s) => pending.has(s.id)));
  const wordsTodo = groups.flat().reduce((s, sh) => s + countOwned(lines, sh), 0);
  const progress = new Progress("extract", wordsTodo, { quiet: o.quiet, unit: "words" });
  clock.lap("store");
  // A group's shards are written while the next group computes, so at most two groups are held: writes
  // and syncs on libuv's threads; the checks and hashing on this thread, started on a later turn of the
  // event loop, so that they run while onnxruntime computes the next group's first batches on its
  // worker thread (model.ts). A streamed model's groups are large, and its writes small beside its
  // compute, so each is written before the next is allocated.
  let writing: Promise<void> | null = null;
  try {
    for (const group of groups) {
      const data = await computeShard(
        model,
        spanOf(group),
        lines,
        plan.settings,
        o.batchTokens,
        progress,
        clock,
      );
      checkOutputs(data, spanOf(group), lines, input, model, plan.settings);
      await writing;
      const writes = group
        .filter((shard) => pending.has(shard.id))
        .map(async (shard) => {
          await new Promise((resolve) => setImmediate(resolve));
          records.push(await writeShard(o.out, shard, sliceRows(data, shard, group[0]), o.dtype));
        });
      writing = Promise.all(writes).then(() => {});
      // A failed write is reported where `writing` is awaited, after the next group: handled until then.
      writing.catch(() => {});
      if (model.streaming) await writing;
      clock.lap("store");
    }
    await writing;
  } catch (e) {
    // The error that stopped the run is the one to report; a write still running must not outlive it.
    await writing?.catch(() => {});
    throw e;
  }
  clock.lap("store");
  progress.finish();
  records.sort((a, b) => a.id - b.id);
  const { words, labels } = storedWords(model, keepOnly(input, lines), plan.settings.includeSpecialTokens);
  await writeWordsFiles(o.out, words, labels);
  const seconds = (Date.now() - started) / 1000;
  const index: StoreIndex & { warnings?: string[] } = {
    ...plan,
    shards: records,
    counts,
    ...(warnings.length > 0 ? { warnings } : {}),
    createdAt: new Date().toISOString(),
    seconds,
  };
  await writeJsonAtomic(join(o.out, "index.json"), index);
  clock.lap("store");
  return {
    out: o.out,
    counts,
    shardsComputed: todo.length,
    shardsReused: mine.length - todo.length,
    seconds,
    status,
    warnings,
    ...(o.profile ? { profile: clock.result() } : {}),
  };
}

/**
 * The model's outputs must be finite numbers of the storage dtype before anything of them is stored:
 * a NaN or ±Infinity (a damaged checkpoint, an overflow in float16 weights) or a value beyond float16
 * would otherwise be data. The error names the input line, the word, the site, layer and neuron and
 * the value. The store's writer checks again (writeShard), for every other writer.
 */
function checkOutputs(
  data: ShardData,
  span: ShardPlan,
  lines: LinePlan[],
  input: SentenceInput,
  model: ActivationModel,
  settings: StorePlan["settings"],
): void {
  const dtype = settings.dtype;
  for (const b of data.blocks) {
    const bad = firstUnstorable(b.data, dtype);
    if (bad < 0) continue;
    const rowInSpan = Math.floor(bad / b.dim);
    let line = span.firstLine;
    let first = 0;
    while (line < span.endLine - 1 && first + lines[line].rows <= rowInSpan) first += lines[line++].rows;
    const where =
      settings.level === "sentence"
        ? "the sentence"
        : wordAt(model, input.lines[line], rowInSpan - first, lines[line].rows);
    const neuron = neuronName(b.layer * b.dim + (bad % b.dim), neuronSpace(b.site, b.dim));
    const v = b.data[bad];
    const why = Number.isFinite(v)
      ? `which does not fit in ${dtype} (at most ±${DTYPE_MAX[dtype]}): extract with --dtype float32`
      : "which is not a number a store can hold: the model computes non-finite values on this input (is the checkpoint damaged, or its dtype too narrow?)";
    throw new UserError(
      `${input.file}:${line + 1}: the model's output at neuron ${neuron} (${siteTitle(b.site)}, layer ${b.layer}, unit ${bad % b.dim}) for ${where} is ${v}, ${why}; nothing of lines ${span.firstLine + 1}–${span.endLine} was stored`,
    );
  }
}

/** Index of the first value that is not a finite number of `dtype`, or -1. */
function firstUnstorable(data: Float32Array, dtype: StoreDType): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // Fast path: finite and inside float16's range (NaN fails both comparisons).
    if (v < 65504 && v > -65504) continue;
    if (!fitsDtype(v, dtype)) return i;
  }
  return -1;
}

/** "word N 'text'" of a line's row (special tokens, when stored, come before and after the words). */
function wordAt(model: ActivationModel, words: string[], row: number, rows: number): string {
  const specials = rows - words.length;
  const pre = specials > 0 ? model.tokenizer.prefixIds.length : 0;
  const w = row - pre;
  if (w >= 0 && w < words.length) return `word ${w + 1} '${words[w]}'`;
  const ids = model.tokenizer.prefixIds.concat(model.tokenizer.suffixIds);
  const id = w < 0 ? ids[row] : ids[pre + (w - words.length)];
  return `the special token '${id === undefined ? "?" : model.tokenizer.idToToken(id)}'`;
}

/**
 * Consecutive shards computed together, each group at most `maxRows` rows (at least one shard). A shard
 * is small (64 MB by default: ~120 sentences of BERT-base hidden states), so batching within one shard
 * pads short and long sentences together; a group gives the length sort enough sentences to batch
 * like with like. Groups are fixed by the plan, so a resumed run batches a group as a fresh run does.
 */
function shardGroups(shards: ShardPlan[], maxRows: number): ShardPlan[][] {
  const groups: ShardPlan[][] = [];
  let current: ShardPlan[] = [];
  let rows = 0;
  for (const s of shards) {
    const n = s.endRow - s.firstRow;
    if (current.length > 0 && rows + n > maxRows) {
      groups.push(current);
      current = [];
      rows = 0;
    }
    current.push(s);
    rows += n;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** The lines and rows a group of consecutive shards covers, as one shard plan. */
function spanOf(group: ShardPlan[]): ShardPlan {
  const last = group[group.length - 1];
  return { ...group[0], endLine: last.endLine, endRow: last.endRow };
}

/** One shard's rows of a group's data (views, no copy). */
function sliceRows(data: ShardData, shard: ShardPlan, first: ShardPlan): ShardData {
  const begin = shard.firstRow - first.firstRow;
  const end = shard.endRow - first.firstRow;
  return {
    rows: end - begin,
    blocks: data.blocks.map((b) => ({ ...b, data: b.data.subarray(begin * b.dim, end * b.dim) })),
  };
}

/** Progress counts words (sentence-level work also runs over every word). */
function countOwned(lines: LinePlan[], shard: ShardPlan): number {
  let n = 0;
  for (let l = shard.firstLine; l < shard.endLine; l++) n += lines[l].plan?.wordIds.length ?? 0;
  return n;
}

/** Options of extractRows: the extraction settings that shape the rows (ExtractOptions' meaning). */
export interface ExtractRowsOptions {
  level?: "word" | "sentence";
  aggregation?: Aggregation;
  sentenceRepresentation?: SentenceRepresentation;
  batchTokens?: number;
  maxTokens?: number;
  /** Label of the progress bar (default "forward"). */
  label?: string;
  quiet?: boolean;
}

/** Rows of sentences computed in memory: one block per (site, layer) the model emits. */
export interface ExtractedRows {
  /** Row of each line's first word (or its sentence row); line l has rows [firstRow[l], firstRow[l + 1]). */
  firstRow: Int32Array;
  rows: number;
  blocks: { site: Site; layer: number; dim: number; data: Float32Array }[];
  counts: ExtractCounts;
}

/**
 * What extractActivations would store for `lines` (words as written, escaped), held in memory instead:
 * the same tokenization, windows, batches and subword → word (or sentence) aggregation, so that a row
 * here is bit for bit the row a store would hold in float32. Every emitted site and layer of the model
 * is kept. For models whose outputs are not activations (compress/'s per-token probe scores), this is
 * how they are read per word.
 */
export async function extractRows(
  model: ActivationModel,
  lines: readonly (readonly string[])[],
  opts: ExtractRowsOptions = {},
): Promise<ExtractedRows> {
  const o = { ...DEFAULTS, input: "", out: "", ...definedOptions(opts) };
  const validated: ExtractOptions = o;
  validate(model, validated);
  const input: SentenceInput = {
    file: "<memory>",
    sha256: "",
    lines: lines.map((l) => [...l]),
    emptyLines: lines.filter((l) => l.length === 0).length,
  };
  const tokenized = tokenizeLines(model, input);
  const planned = planLines(model, tokenized.ids, o);
  const rows = planned.reduce((s, l) => s + l.rows, 0);
  const firstRow = new Int32Array(planned.length + 1);
  planned.forEach((l, i) => {
    firstRow[i + 1] = firstRow[i] + l.rows;
  });
  const settings: StorePlan["settings"] = {
    level: o.level,
    aggregation: o.aggregation,
    sentenceRepresentation: defaultSentenceRepresentation(model, validated),
    includeSpecialTokens: false,
    layers: [...model.layers],
    sites: model.mlpLayers.length > 0 ? ["hidden", "mlp"] : ["hidden"],
    dtype: "float32",
    maxTokens: Math.min(model.maxTokens, o.maxTokens ?? Number.POSITIVE_INFINITY),
  };
  const shard: ShardPlan = { id: 0, firstLine: 0, endLine: planned.length, firstRow: 0, endRow: rows };
  const progress = new Progress(o.label ?? "forward", countOwned(planned, shard), {
    quiet: o.quiet,
    unit: "words",
  });
  const data = await computeShard(
    model,
    shard,
    planned,
    settings,
    o.batchTokens,
    progress,
    new ProfileClock(),
  );
  progress.finish();
  return {
    firstRow,
    rows,
    blocks: data.blocks.map((b) => ({ site: b.site, layer: b.layer, dim: b.dim, data: b.data })),
    counts: { ...countsOf(planned), emptyWords: tokenized.emptyWords, unknownWords: tokenized.unknownWords },
  };
}
