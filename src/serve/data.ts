import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ConceptsResult, NeuronReport } from "../concepts/result.js";
import { summarizeColumn, topWordsFromSummary } from "../concepts/top-words.js";
import type { TopWord } from "../concepts/types.js";
import { type WordTypes, wordTypes } from "../concepts/word-types.js";
import { ActivationStore } from "../store/index.js";
import { InputError } from "../util/errors.js";
import { neuronLayer, neuronName } from "../util/neurons.js";
import type {
  CompareResponse,
  LineView,
  MetaResponse,
  NeuronChip,
  NeuronResponse,
  NeuronsResponse,
  SearchResponse,
  WordScore,
} from "./api-types.js";
import { readConceptsFile } from "./concepts-file.js";
import { HttpError, type ResultsRoot } from "./files.js";

/**
 * What the explorer shows, computed on demand from the activation store in the results directory
 * (<results>/activations) and the concepts analysis (<results>/concepts/concepts.json). Statistics run
 * over a sample: the store's first `maxRows` word rows. Without a store, neurons that concepts.json
 * describes can still be browsed (top words, heatmap lines); search and compare need the store.
 */
export interface ExplorerOptions {
  maxRows?: number;
  /** Layers kept in memory as columns (each: rows × hidden floats). */
  cachedLayers?: number;
}

export class ExplorerData {
  private readonly layerCache = new Map<number, Float32Array>();
  private stats: { mean: Float64Array; std: Float64Array } | null = null;
  private readonly reports = new Map<number, NeuronReport>();
  private readonly conceptOf = new Map<number, ConceptsResult["conceptNeurons"][number]>();
  private readonly topFor = new Map<number, string[]>();

  private constructor(
    private readonly store: ActivationStore | null,
    private readonly concepts: ConceptsResult | null,
    private readonly sample: Sample | null,
    private readonly reportPath: string | null,
    private readonly opts: Required<ExplorerOptions>,
  ) {
    for (const r of concepts?.neurons ?? []) this.reports.set(r.id, r);
    for (const m of concepts?.conceptNeurons ?? [])
      if (!this.conceptOf.has(m.neuron)) this.conceptOf.set(m.neuron, m);
    for (const [cls, ids] of Object.entries(concepts?.topNeurons.perClass ?? {})) {
      for (const id of ids) this.topFor.set(id, [...(this.topFor.get(id) ?? []), cls]);
    }
  }

  static async open(root: ResultsRoot, options: ExplorerOptions = {}): Promise<ExplorerData> {
    const opts = { maxRows: options.maxRows ?? 50000, cachedLayers: options.cachedLayers ?? 2 };
    // One store, or per-split stores as `codeneurons run` writes them (the train split is explored).
    const storeDir = (await root.optional("activations", "train")) ?? (await root.optional("activations"));
    const store =
      storeDir && existsSync(join(storeDir, "index.json")) ? await ActivationStore.open(storeDir) : null;
    if (store && store.meta.level !== "word") {
      store.close();
      throw new InputError(storeDir!, "the explorer needs a word-level activation store");
    }
    const conceptsFile = await root.optional("concepts", "concepts.json");
    const concepts = conceptsFile ? await readConceptsFile(conceptsFile) : null;
    if (!store && !concepts) {
      throw new InputError(
        root.dir,
        "nothing to explore: no activations/ store and no concepts/concepts.json inside the results directory",
      );
    }
    const report = (await root.optional("report", "index.html")) ? "report/index.html" : null;
    const sample = store ? buildSample(store, concepts?.classes, opts.maxRows) : null;
    return new ExplorerData(store, concepts, sample, report, opts);
  }

  close(): void {
    this.store?.close();
  }

  get hidden(): number {
    return this.store?.meta.hidden ?? this.concepts!.hidden;
  }

  get layers(): number[] {
    return this.store?.meta.layers ?? this.concepts!.layers;
  }

  meta(): MetaResponse {
    const c = this.concepts;
    return {
      model: this.store?.meta.model ?? "(concepts only)",
      hidden: this.hidden,
      layers: this.layers,
      rows: this.sample?.words.length ?? c?.corpus.rows ?? 0,
      sentences: this.sample?.sentences ?? c?.corpus.sentences ?? 0,
      sampled: this.store ? this.sample!.words.length < this.store.meta.numRows : false,
      classes: this.sample?.classes ?? c?.classes ?? [],
      concepts: (c?.concepts ?? []).map((k) => ({ name: k.concept, count: k.count })),
      topNeurons: Object.fromEntries(
        Object.entries(c?.topNeurons.perClass ?? {}).map(([k, v]) => [k, v.length]),
      ),
      hasStore: this.store !== null,
      hasConcepts: c !== null,
      report: this.reportPath,
    };
  }

  /** Parses a neuron reference (global id or L{layer}:{unit}); 400 when malformed, 404 when unknown. */
  parseNeuron(text: string | null): number {
    if (text === null || text === "") throw new HttpError(400, "missing neuron id");
    const named = /^L(\d{1,4}):(\d{1,6})$/.exec(text);
    let id: number;
    if (named) {
      const unit = Number(named[2]);
      if (unit >= this.hidden) throw new HttpError(404, `unit ${unit} >= hidden size ${this.hidden}`);
      id = Number(named[1]) * this.hidden + unit;
    } else if (/^\d{1,9}$/.test(text)) {
      id = Number(text);
    } else {
      throw new HttpError(400, `not a neuron id: expected a number or L{layer}:{unit}`);
    }
    if (!this.layers.includes(neuronLayer(id, this.hidden))) {
      throw new HttpError(404, `neuron ${id} is not in the stored layers (${this.layers.join(",")})`);
    }
    if (!this.store && !this.reports.has(id))
      throw new HttpError(404, `concepts.json has no details of neuron ${id}`);
    return id;
  }

  neurons(q: { layer?: number; cls?: string; concept?: string }): NeuronsResponse {
    if (q.layer !== undefined) {
      if (!this.layers.includes(q.layer)) throw new HttpError(404, `layer ${q.layer} is not stored`);
      const ids = Array.from({ length: this.hidden }, (_, u) => q.layer! * this.hidden + u);
      const available = this.store ? ids : ids.filter((id) => this.reports.has(id));
      return { title: `Layer ${q.layer}`, neurons: available.map((id) => this.chip(id, null)) };
    }
    if (q.cls !== undefined) {
      const ids = this.concepts?.topNeurons.perClass[q.cls];
      if (!ids) throw new HttpError(404, `no top neurons for class '${q.cls}'`);
      return {
        title: `Top neurons of ${q.cls}`,
        neurons: ids.map((id) => this.chip(id, this.reports.get(id)?.weights?.[q.cls!] ?? null)),
      };
    }
    if (q.concept !== undefined) {
      const known = this.concepts?.concepts.some((k) => k.concept === q.concept);
      if (!known) throw new HttpError(404, `no concept '${q.concept}'`);
      const matches = this.concepts!.conceptNeurons.filter((m) => m.concept === q.concept);
      return { title: `${q.concept} neurons`, neurons: matches.map((m) => this.chip(m.neuron, m.purity)) };
    }
    throw new HttpError(400, "give one of layer, class or concept");
  }

  private chip(id: number, score: number | null): NeuronChip {
    return {
      id,
      name: neuronName(id, this.hidden),
      layer: neuronLayer(id, this.hidden),
      topFor: this.topFor.get(id) ?? [],
      concept: this.conceptOf.get(id)?.concept ?? null,
      score,
    };
  }

  async neuron(id: number, lines: number[] = []): Promise<NeuronResponse> {
    if (!this.store || !this.sample) return this.neuronFromConcepts(id);
    const column = await this.column(id);
    const summary = summarizeColumn(column, this.sample.types);
    const wordOpts = {
      k: 15,
      examples: 2,
      classes: this.sample.classes,
      sentence: this.sample.sentence,
      position: this.sample.position,
    };
    const report = this.reports.get(id);
    const match = this.conceptOf.get(id);
    const chosen = [...lines.map((l) => this.checkLine(l)), ...topSentences(column, this.sample, 6, lines)];
    return {
      id,
      name: neuronName(id, this.hidden),
      layer: neuronLayer(id, this.hidden),
      mean: summary.mean,
      std: summary.std,
      topFor: this.topFor.get(id) ?? [],
      weights: report?.weights ?? null,
      concept: match
        ? { name: match.concept, direction: match.direction, purity: match.purity, pValue: match.pValue }
        : null,
      classMeans: classMeansOf(column, this.sample),
      topWords: {
        positive: topWordsFromSummary(column, summary, this.sample.types, {
          ...wordOpts,
          direction: "positive",
        }).map(wordScore),
        negative: topWordsFromSummary(column, summary, this.sample.types, {
          ...wordOpts,
          direction: "negative",
        }).map(wordScore),
      },
      lines: await this.lineViews(chosen, [id]),
    };
  }

  private checkLine(line: number): number {
    const n = this.store?.numLines ?? 0;
    if (!Number.isInteger(line) || line < 0 || line >= n)
      throw new HttpError(400, `line ${line} is not in 0..${n - 1}`);
    return line;
  }

  private neuronFromConcepts(id: number): NeuronResponse {
    const r = this.reports.get(id)!;
    const lines: LineView[] = [];
    for (const h of this.concepts!.heatmaps) {
      const n = h.neurons.findIndex((x) => x.id === id);
      if (n < 0) continue;
      for (const l of h.lines)
        lines.push({ sentence: l.sentence, words: l.words, activations: [l.activations[n]] });
    }
    const match = this.conceptOf.get(id);
    return {
      id,
      name: r.name,
      layer: r.layer,
      mean: r.mean,
      std: r.std,
      topFor: r.topFor,
      weights: r.weights,
      concept: match
        ? { name: match.concept, direction: match.direction, purity: match.purity, pValue: match.pValue }
        : null,
      classMeans: Object.entries(r.classMeans).map(([k, mean]) => ({
        class: k,
        mean,
        count: this.concepts!.corpus.classCounts[k] ?? 0,
      })),
      topWords: {
        positive: r.topWords.positive.map(wordScore),
        negative: r.topWords.negative.map(wordScore),
      },
      lines,
    };
  }

  async search(token: string): Promise<SearchResponse> {
    const sample = this.needSample("search");
    const t = sample.types.types.indexOf(token);
    if (t < 0) return { token, occurrences: 0, neurons: [], suggestions: suggestions(sample.types, token) };
    const rows = sample.types.rowsOfType.subarray(sample.types.offsets[t], sample.types.offsets[t + 1]);
    // Enough occurrences for a stable mean; more only costs reading time.
    const used = Array.from(rows.subarray(0, 2000), (r) => sample.storeRows[r]);
    const m = await this.store!.readRows(used);
    const { mean, std } = await this.neuronStats();
    const n = m.cols;
    const sums = new Float64Array(n);
    for (let r = 0; r < m.rows; r++) for (let j = 0; j < n; j++) sums[j] += m.data[r * n + j];
    const ids = this.allNeuronIds();
    const scored = ids.map((id, j) => {
      const onToken = sums[j] / m.rows;
      return {
        id,
        name: neuronName(id, this.hidden),
        layer: neuronLayer(id, this.hidden),
        mean: onToken,
        z: std[j] > 0 ? (onToken - mean[j]) / std[j] : 0,
      };
    });
    scored.sort((a, b) => b.z - a.z || a.id - b.id);
    return { token, occurrences: rows.length, neurons: scored.slice(0, 30), suggestions: [] };
  }

  async compare(a: number, b: number): Promise<CompareResponse> {
    const sample = this.needSample("compare");
    const [na, nb] = [await this.neuron(a), await this.neuron(b)];
    const [ca, cb] = [await this.column(a), await this.column(b)];
    const correlation = pearson(ca, cb);
    const step = Math.max(1, Math.ceil(ca.length / 1500));
    const scatter: [number, number][] = [];
    for (let r = 0; r < ca.length; r += step) scatter.push([round(ca[r]), round(cb[r])]);
    const joint = new Float32Array(ca.length);
    for (let r = 0; r < ca.length; r++) {
      joint[r] = Math.abs((ca[r] - na.mean) / (na.std || 1)) + Math.abs((cb[r] - nb.mean) / (nb.std || 1));
    }
    const lines = await this.lineViews(topSentences(joint, sample, 5, []), [a, b]);
    return { a: { ...na, lines: [] }, b: { ...nb, lines: [] }, correlation, scatter, lines };
  }

  private needSample(what: string): Sample {
    if (!this.sample)
      throw new HttpError(
        409,
        `${what} needs the activation store (<results>/activations), which is missing`,
      );
    return this.sample;
  }

  private allNeuronIds(): number[] {
    return this.layers.flatMap((l) => Array.from({ length: this.hidden }, (_, u) => l * this.hidden + u));
  }

  /** A neuron's activations over the sample rows, via a cache of whole layers (the store reads layers). */
  private async column(id: number): Promise<Float32Array> {
    const layer = neuronLayer(id, this.hidden);
    const cols = await this.layerColumns(layer);
    const n = this.sample!.words.length;
    const u = id % this.hidden;
    return cols.subarray(u * n, (u + 1) * n);
  }

  private async layerColumns(layer: number): Promise<Float32Array> {
    const cached = this.layerCache.get(layer);
    if (cached) {
      this.layerCache.delete(layer);
      this.layerCache.set(layer, cached);
      return cached;
    }
    const sample = this.sample!;
    const m = await this.store!.readRows(sample.storeRows, { layers: [layer] });
    const n = m.rows;
    const h = m.cols;
    const cols = new Float32Array(n * h);
    for (let r = 0; r < n; r++) for (let u = 0; u < h; u++) cols[u * n + r] = m.data[r * h + u];
    this.layerCache.set(layer, cols);
    while (this.layerCache.size > this.opts.cachedLayers)
      this.layerCache.delete(this.layerCache.keys().next().value!);
    return cols;
  }

  /** Mean and std of every neuron over the sample, computed once (one pass over each layer). */
  private async neuronStats(): Promise<{ mean: Float64Array; std: Float64Array }> {
    if (this.stats) return this.stats;
    const ids = this.allNeuronIds();
    const mean = new Float64Array(ids.length);
    const std = new Float64Array(ids.length);
    for (let j = 0; j < ids.length; j++) {
      const col = await this.column(ids[j]);
      let s = 0;
      for (const v of col) s += v;
      const mu = s / col.length;
      let q = 0;
      for (const v of col) q += (v - mu) * (v - mu);
      mean[j] = mu;
      std[j] = Math.sqrt(q / col.length);
    }
    this.stats = { mean, std };
    return this.stats;
  }

  private async lineViews(sentences: number[], ids: number[]): Promise<LineView[]> {
    const out: LineView[] = [];
    for (const s of sentences) {
      const words = this.store!.words(s);
      if (words.length === 0) continue;
      const rows = words.map((_, i) => this.store!.row(s, i));
      const m = await this.store!.readRows(rows, { neurons: ids });
      out.push({
        sentence: s,
        words,
        activations: ids.map((_, n) =>
          Array.from({ length: m.rows }, (_, w) => round(m.data[w * m.cols + n])),
        ),
      });
    }
    return out;
  }
}

/** The explorer's rows: the first word rows of the store, with labels when the store has them. */
interface Sample {
  words: string[];
  sentence: Int32Array;
  position: Int32Array;
  labels: Int32Array;
  classes: string[];
  storeRows: Int32Array;
  sentences: number;
  types: WordTypes;
}

function buildSample(store: ActivationStore, conceptClasses: string[] | undefined, maxRows: number): Sample {
  const words: string[] = [];
  const sentence: number[] = [];
  const position: number[] = [];
  const rawLabels: (string | null)[] = [];
  let sentences = 0;
  for (let s = 0; s < store.numLines && words.length < maxRows; s++) {
    const ws = store.words(s);
    if (ws.length > 0) sentences++;
    const ls = store.labels(s);
    for (let i = 0; i < ws.length && words.length < maxRows; i++) {
      words.push(ws[i]);
      sentence.push(s);
      position.push(i);
      rawLabels.push(ls?.[i] ?? null);
    }
  }
  const classes = conceptClasses ?? [...new Set(rawLabels.filter((l): l is string => l !== null))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const labels = Int32Array.from(rawLabels, (l) => (l === null ? -1 : (index.get(l) ?? -1)));
  const rows = {
    words,
    sentence: Int32Array.from(sentence),
    position: Int32Array.from(position),
    labels,
    classes,
  };
  return {
    ...rows,
    storeRows: Int32Array.from(sentence, (s, i) => store.row(s, position[i])),
    sentences,
    types: wordTypes(rows),
  };
}

function wordScore(w: TopWord): WordScore {
  return { word: w.word, score: round(w.score), count: w.count, label: w.label, examples: w.examples };
}

function classMeansOf(column: Float32Array, sample: Sample): NeuronResponse["classMeans"] {
  const k = sample.classes.length;
  const sum = new Float64Array(k);
  const count = new Int32Array(k);
  for (let r = 0; r < column.length; r++) {
    const c = sample.labels[r];
    if (c >= 0) {
      sum[c] += column[r];
      count[c]++;
    }
  }
  return sample.classes.map((cls, c) => ({
    class: cls,
    mean: count[c] > 0 ? round(sum[c] / count[c]) : null,
    count: count[c],
  }));
}

/** Distinct sentences of the highest values, best first, skipping those already chosen. */
function topSentences(values: Float32Array, sample: Sample, count: number, exclude: number[]): number[] {
  const order = Array.from(values.keys()).sort((a, b) => values[b] - values[a] || a - b);
  const chosen: number[] = [];
  for (const r of order) {
    const s = sample.sentence[r];
    if (!chosen.includes(s) && !exclude.includes(s)) chosen.push(s);
    if (chosen.length >= count) break;
  }
  return chosen;
}

function suggestions(types: WordTypes, token: string): string[] {
  const lower = token.toLowerCase();
  return types.types.filter((w) => w.toLowerCase().startsWith(lower)).slice(0, 10);
}

function pearson(a: Float32Array, b: Float32Array): number | null {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : null;
}

/** Activations go to the browser with 5 significant digits: enough for colours and tooltips. */
function round(x: number): number {
  return Number(x.toPrecision(5));
}
