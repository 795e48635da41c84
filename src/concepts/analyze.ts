import { columnClassMeans } from "../linalg/class-means.js";
import type { Matrix } from "../util/matrix.js";
import { type NeuronSpace, neuronLayer, neuronName } from "../util/neurons.js";
import { Progress } from "../util/progress.js";
import {
  type Concept,
  type ConceptScanner,
  conceptFromPattern,
  conceptFromWords,
  conceptScanner,
  conceptsFromClasses,
  LEXICAL_PATTERNS,
} from "./concept-neurons.js";
import {
  CONCEPTS_FORMAT,
  CONCEPTS_VERSION,
  type ConceptSummary,
  type ConceptsPopulation,
  type ConceptsResult,
  DEFAULT_CONCEPTS_OPTIONS,
  type NeuronReport,
  type ResolvedConceptsOptions,
} from "./format.js";
import { layerDistribution, layersOf, type TopNeurons, topNeuronsPerClass } from "./top-neurons.js";
import { type ColumnSummary, summarizeColumn, topWordsFromSummary } from "./top-words.js";
import type { ActivationSource, ClassHeatmap, ConceptMatch, ProbeWeights } from "./types.js";
import { type WordTypes, wordTypes } from "./word-types.js";

export interface AnalyzeOptions extends Partial<ResolvedConceptsOptions> {
  /** Which rows `source` holds, recorded for the views (null: not said). */
  population?: ConceptsPopulation | null;
  /** Neurons read per block (memory: rows × blockSize floats). */
  blockSize?: number;
  quiet?: boolean;
}

/**
 * Concept analysis in one pass over the neurons: LCA top neurons from the probe weights, then block by
 * block each neuron's statistics, top words, class means and concept test; finally code-line heatmaps
 * of each class's top neurons.
 */
export async function analyzeConcepts(
  source: ActivationSource,
  probe: ProbeWeights,
  options: AnalyzeOptions = {},
): Promise<ConceptsResult> {
  const opts = resolveOptions(options);
  const rows = source.rows;
  const types = wordTypes(rows);
  const top = topNeuronsPerClass(probe, opts.percentage);
  const concepts = buildConcepts(types, rows.classes, rows.labels, opts);
  const scanner = conceptScanner(types, concepts, opts.conceptTopK, opts.minCount);
  const heatNeurons = heatmapNeuronsPerClass(top, opts.heatmapNeurons);
  const pass = await scanNeurons(source, probe, top, types, scanner, heatNeurons, opts, options);
  const layers = layersOf(source.neurons as number[], source.space);
  const heatmaps = await buildHeatmaps(source, probe, heatNeurons, pass.kept, opts);
  return {
    format: CONCEPTS_FORMAT,
    version: CONCEPTS_VERSION,
    site: source.space.site,
    width: source.space.width,
    layers,
    classes: [...probe.classes],
    corpus: corpusSummary(source, types),
    population: options.population ?? null,
    options: opts,
    topNeurons: top,
    layerDistribution: distributionOf(top, source.space, layers),
    neurons: pass.reports.sort((a, b) => a.id - b.id),
    conceptNeurons: sortMatches(pass.matches, concepts),
    concepts: summarizeConcepts(pass.matches, concepts, layers),
    heatmaps,
    stats: pass.stats,
  };
}

function resolveOptions(options: AnalyzeOptions): ResolvedConceptsOptions {
  const o: ResolvedConceptsOptions = { ...DEFAULT_CONCEPTS_OPTIONS };
  for (const key of Object.keys(o) as (keyof ResolvedConceptsOptions)[]) {
    if (options[key] !== undefined) Object.assign(o, { [key]: options[key] });
  }
  return o;
}

function buildConcepts(
  types: WordTypes,
  classes: readonly string[],
  labels: Int32Array,
  opts: ResolvedConceptsOptions,
): Concept[] {
  const labelled = labels.some((c) => c >= 0);
  const out = labelled ? conceptsFromClasses(types, classes) : [];
  if (opts.lexical) {
    for (const [name, pattern] of Object.entries(LEXICAL_PATTERNS))
      out.push(conceptFromPattern(types, name, pattern));
  }
  for (const [name, words] of Object.entries(opts.wordLists)) out.push(conceptFromWords(types, name, words));
  // A concept no word belongs to can never be found; leaving it out keeps the multiple-test count honest.
  return out.filter((c) => c.members.some((m) => m === 1));
}

function heatmapNeuronsPerClass(top: TopNeurons, n: number): Map<string, number[]> {
  return new Map(Object.entries(top.perClass).map(([c, ids]) => [c, ids.slice(0, n)]));
}

interface ScanResult {
  reports: NeuronReport[];
  matches: ConceptMatch[];
  stats: { neurons: number[]; mean: number[]; std: number[] };
  /** Columns kept for the heatmaps' line choice. */
  kept: Map<number, Float32Array>;
}

async function scanNeurons(
  source: ActivationSource,
  probe: ProbeWeights,
  top: TopNeurons,
  types: WordTypes,
  scanner: ConceptScanner,
  heatNeurons: Map<string, number[]>,
  opts: ResolvedConceptsOptions,
  run: AnalyzeOptions,
): Promise<ScanResult> {
  const ctx = new NeuronContext(source, probe, top, types, scanner, opts);
  const keep = new Set([...heatNeurons.values()].flat());
  const result: ScanResult = {
    reports: [],
    matches: [],
    stats: { neurons: [], mean: [], std: [] },
    kept: new Map(),
  };
  const all = source.neurons;
  const blockSize = Math.max(1, run.blockSize ?? 256);
  const progress = new Progress("concepts", all.length, { quiet: run.quiet, unit: "neurons" });
  let buffer: ColumnSummary | undefined;
  for (let start = 0; start < all.length; start += blockSize) {
    const ids = all.slice(start, start + blockSize);
    const block = await source.readBlock(ids);
    checkBlock(block, source.rows.words.length, ids.length);
    for (let j = 0; j < ids.length; j++) {
      const column = columnOf(block, j);
      buffer = summarizeColumn(column, types, buffer);
      ctx.visit(ids[j], column, buffer, result);
      if (keep.has(ids[j])) result.kept.set(ids[j], column);
    }
    progress.update(start + ids.length);
  }
  progress.finish(`${result.matches.length} concept neurons`);
  return result;
}

function checkBlock(block: Matrix, rows: number, cols: number): void {
  if (block.rows !== rows || block.cols !== cols) {
    throw new Error(`activation source returned ${block.rows}×${block.cols}, expected ${rows}×${cols}`);
  }
}

function columnOf(m: Matrix, j: number): Float32Array {
  const out = new Float32Array(m.rows);
  for (let r = 0, i = j; r < m.rows; r++, i += m.cols) out[r] = m.data[i];
  return out;
}

/** What one neuron contributes to the result: stats always, a report and a concept match when due. */
class NeuronContext {
  private readonly topFor = new Map<number, string[]>();
  private readonly probeRow: Map<number, number>;
  private readonly tests: number;

  constructor(
    private readonly source: ActivationSource,
    private readonly probe: ProbeWeights,
    top: TopNeurons,
    private readonly types: WordTypes,
    private readonly scanner: ConceptScanner,
    private readonly opts: ResolvedConceptsOptions,
  ) {
    for (const [cls, ids] of Object.entries(top.perClass)) {
      for (const id of ids) this.topFor.set(id, [...(this.topFor.get(id) ?? []), cls]);
    }
    this.probeRow = new Map(probe.neurons.map((id, r) => [id, r]));
    // Bonferroni over every (neuron, direction, concept) tested.
    this.tests = Math.max(1, source.neurons.length * 2 * scanner.concepts.length);
  }

  visit(id: number, column: Float32Array, summary: ColumnSummary, out: ScanResult): void {
    out.stats.neurons.push(id);
    out.stats.mean.push(summary.mean);
    out.stats.std.push(summary.std);
    const match = this.conceptMatch(id, summary);
    if (match) out.matches.push(match);
    if (match || this.topFor.has(id)) out.reports.push(this.report(id, column, summary, match));
  }

  private conceptMatch(id: number, summary: ColumnSummary): ConceptMatch | null {
    if (this.scanner.concepts.length === 0 || summary.std === 0) return null;
    const scan = this.scanner.scan(summary);
    if (!scan) return null;
    const k = scan.drawn;
    const purity = scan.hits / k;
    const pValue = scan.pValue;
    if (purity < this.opts.minPurity || pValue * this.tests > this.opts.alpha) return null;
    const baseRate = this.scanner.baseCounts[scan.concept] / this.scanner.eligibleTypes;
    const space = this.source.space;
    return {
      neuron: id,
      name: neuronName(id, space),
      layer: neuronLayer(id, space),
      concept: this.scanner.concepts[scan.concept].name,
      direction: scan.direction,
      purity,
      baseRate,
      lift: purity / baseRate,
      pValue,
      topK: k,
      words: scan.words.slice(0, k).map((t) => this.types.types[t]),
    };
  }

  private report(
    id: number,
    column: Float32Array,
    summary: ColumnSummary,
    match: ConceptMatch | null,
  ): NeuronReport {
    const { rows } = this.source;
    const wordOpts = {
      k: this.opts.topWords,
      minCount: this.opts.minCount,
      examples: this.opts.examples,
      classes: rows.classes,
      sentence: rows.sentence,
      position: rows.position,
    };
    const { means } = columnClassMeans(column, rows.labels, rows.classes.length);
    return {
      id,
      name: neuronName(id, this.source.space),
      layer: neuronLayer(id, this.source.space),
      topFor: this.topFor.get(id) ?? [],
      weights: this.weightsOf(id),
      mean: summary.mean,
      std: summary.std,
      classMeans: Object.fromEntries(rows.classes.map((c, i) => [c, means[i]])),
      topWords: {
        positive: topWordsFromSummary(column, summary, this.types, { ...wordOpts, direction: "positive" }),
        negative: topWordsFromSummary(column, summary, this.types, { ...wordOpts, direction: "negative" }),
      },
      concept: match
        ? { name: match.concept, direction: match.direction, purity: match.purity, pValue: match.pValue }
        : null,
    };
  }

  private weightsOf(id: number): Record<string, number> | null {
    const r = this.probeRow.get(id);
    if (r === undefined) return null;
    const k = this.probe.classes.length;
    return Object.fromEntries(this.probe.classes.map((c, i) => [c, this.probe.weights[r * k + i]]));
  }
}

async function buildHeatmaps(
  source: ActivationSource,
  probe: ProbeWeights,
  heatNeurons: Map<string, number[]>,
  kept: Map<number, Float32Array>,
  opts: ResolvedConceptsOptions,
): Promise<ClassHeatmap[]> {
  const out: ClassHeatmap[] = [];
  for (const [cls, ids] of heatNeurons) {
    const present = ids.filter((id) => kept.has(id));
    if (present.length === 0) continue;
    const sentences = opts.lines ?? chooseLines(source, probe, cls, present, kept, opts.heatmapLines);
    const lines = [];
    for (const s of sentences) {
      const line = await source.readLine(s, present);
      const a = line.activations;
      lines.push({
        sentence: s,
        words: line.words,
        activations: present.map((_, n) => Array.from({ length: a.rows }, (_, w) => a.data[w * a.cols + n])),
      });
    }
    out.push({
      class: cls,
      neurons: present.map((id) => ({ id, name: neuronName(id, source.space) })),
      lines,
    });
  }
  return out;
}

/**
 * Lines that show a class's neurons at work: the sentences of the class's words on which the neurons,
 * signed by their probe weight for the class, agree most (mean signed z-score).
 */
function chooseLines(
  source: ActivationSource,
  probe: ProbeWeights,
  cls: string,
  ids: number[],
  kept: Map<number, Float32Array>,
  count: number,
): number[] {
  const rows = source.rows;
  const c = rows.classes.indexOf(cls);
  const pc = probe.classes.indexOf(cls);
  const probeRow = new Map(probe.neurons.map((id, r) => [id, r]));
  const k = probe.classes.length;
  const signed = ids.map((id) => {
    const col = kept.get(id)!;
    const r = probeRow.get(id);
    const sign = r !== undefined && pc >= 0 && probe.weights[r * k + pc] < 0 ? -1 : 1;
    return { col, sign, ...meanStdOf(col) };
  });
  const scored: { row: number; score: number }[] = [];
  for (let r = 0; r < rows.words.length; r++) {
    if (c >= 0 && rows.labels[r] !== c) continue;
    let s = 0;
    for (const n of signed) s += n.std > 0 ? (n.sign * (n.col[r] - n.mean)) / n.std : 0;
    scored.push({ row: r, score: s / signed.length });
  }
  scored.sort((a, b) => b.score - a.score || a.row - b.row);
  const chosen: number[] = [];
  for (const { row } of scored) {
    const s = rows.sentence[row];
    if (!chosen.includes(s)) chosen.push(s);
    if (chosen.length >= count) break;
  }
  return chosen;
}

function meanStdOf(col: Float32Array): { mean: number; std: number } {
  let sum = 0;
  for (const v of col) sum += v;
  const mean = sum / Math.max(1, col.length);
  let sq = 0;
  for (const v of col) sq += (v - mean) * (v - mean);
  return { mean, std: Math.sqrt(sq / Math.max(1, col.length)) };
}

function corpusSummary(source: ActivationSource, types: WordTypes): ConceptsResult["corpus"] {
  const rows = source.rows;
  const classCounts: Record<string, number> = Object.fromEntries(rows.classes.map((c) => [c, 0]));
  for (const c of rows.labels) if (c >= 0 && c < rows.classes.length) classCounts[rows.classes[c]]++;
  return {
    rows: rows.words.length,
    sentences: new Set(rows.sentence).size,
    wordTypes: types.types.length,
    classCounts,
  };
}

function distributionOf(
  top: TopNeurons,
  space: NeuronSpace,
  layers: number[],
): ConceptsResult["layerDistribution"] {
  return {
    layers,
    perClass: Object.fromEntries(
      Object.entries(top.perClass).map(([c, ids]) => [c, layerDistribution(ids, space, layers).counts]),
    ),
    overall: layerDistribution(top.overall, space, layers).counts,
  };
}

function sortMatches(matches: ConceptMatch[], concepts: Concept[]): ConceptMatch[] {
  const order = new Map(concepts.map((c, i) => [c.name, i]));
  return matches.sort(
    (a, b) =>
      order.get(a.concept)! - order.get(b.concept)! ||
      a.pValue - b.pValue ||
      b.purity - a.purity ||
      a.neuron - b.neuron,
  );
}

function summarizeConcepts(matches: ConceptMatch[], concepts: Concept[], layers: number[]): ConceptSummary[] {
  return concepts.map((c) => {
    const own = matches.filter((m) => m.concept === c.name);
    const byLayer = layers.map((l) => own.filter((m) => m.layer === l).length);
    return { concept: c.name, count: own.length, byLayer };
  });
}
