import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ConceptsResult, NeuronReport } from "../concepts/format.js";
import { storeCorpusRows } from "../concepts/rows.js";
import { meanStd, summarizeColumn, topWordsFromSummary } from "../concepts/top-words.js";
import type { TopWord } from "../concepts/types.js";
import { type WordTypes, wordTypes } from "../concepts/word-types.js";
import { type InterventionResults, parseInterventionResults } from "../intervene/format.js";
import { type LatentResult, parseLatent } from "../latent/format.js";
import { wordCounts } from "../latent/summary.js";
import { columnClassMeans } from "../linalg/class-means.js";
import { ActivationStore, SITES, type Site } from "../store/index.js";
import { InputError, UserError } from "../util/errors.js";
import { readJsonFile } from "../util/json.js";
import {
  NeuronRefError,
  type NeuronSpace,
  neuronIdsOfLayers,
  neuronLayer,
  neuronName,
  neuronSpace,
  neuronUnit,
  parseNeuronRef,
  siteLayers,
  siteTitle,
} from "../util/neurons.js";
import type {
  CompareResponse,
  InterventionEffect,
  LatentClusterResponse,
  LatentLayerResponse,
  LineView,
  MetaResponse,
  NeuronChip,
  NeuronResponse,
  NeuronsResponse,
  PopulationInfo,
  SearchResponse,
  WordScore,
} from "./api-types.js";
import { readConceptsFile } from "./concepts-file.js";
import { HttpError, type ResultsRoot } from "./files.js";

/**
 * What the explorer shows, computed on demand from the activation store in the results directory
 * (<results>/activations) and the concepts analysis (<results>/concepts/concepts.json). Statistics run
 * over a sample: the store's first `maxRows` word rows. Without a store, neurons that concepts.json
 * describes can still be browsed (top words, heatmap lines); search and compare need the store. A store
 * with both sites shows both (the residual stream and the MLP neurons); class and concept lists are of
 * the site concepts.json was made on. A neuron's page lists the experiments of
 * <results>/intervene/intervention.json that changed it, when the results have one.
 */
export interface ExplorerOptions {
  /** The site shown first (default: concepts.json's, else the residual stream). */
  site?: Site;
  maxRows?: number;
  /** Layers kept in memory as columns (each: rows × width floats). */
  cachedLayers?: number;
}

/**
 * A neuron of the explorer: ids of the two sites overlap, so every reference carries its site. The
 * browser names neurons by their site-qualified names (`L5:3`, `L5.mlp:3`).
 */
export interface NeuronRef {
  site: Site;
  id: number;
}

export class ExplorerData {
  /** Whole layers of the sample as columns, keyed by site and layer. */
  private readonly layerCache = new Map<string, Float32Array>();
  private readonly stats = new Map<Site, { mean: Float64Array; std: Float64Array }>();
  /** concepts.json's neurons, all of `conceptsSite`, by id. */
  private readonly reports = new Map<number, NeuronReport>();
  private readonly conceptOf = new Map<number, ConceptsResult["conceptNeurons"][number]>();
  private readonly topFor = new Map<number, string[]>();

  private constructor(
    private readonly store: ActivationStore | null,
    private readonly concepts: ConceptsResult | null,
    private readonly sample: Sample | null,
    private readonly reportPath: string | null,
    private readonly interventions: InterventionResults | null,
    private readonly latent: LatentResult | null,
    private readonly opts: Required<Omit<ExplorerOptions, "site">> & { site?: Site },
  ) {
    for (const r of concepts?.neurons ?? []) this.reports.set(r.id, r);
    for (const m of concepts?.conceptNeurons ?? [])
      if (!this.conceptOf.has(m.neuron)) this.conceptOf.set(m.neuron, m);
    for (const [cls, ids] of Object.entries(concepts?.topNeurons.perClass ?? {})) {
      for (const id of ids) this.topFor.set(id, [...(this.topFor.get(id) ?? []), cls]);
    }
  }

  static async open(root: ResultsRoot, options: ExplorerOptions = {}): Promise<ExplorerData> {
    const opts = {
      site: options.site,
      maxRows: options.maxRows ?? 50000,
      cachedLayers: options.cachedLayers ?? 2,
    };
    // One store, or per-split stores as `codeneurons run` writes them (the train split is explored).
    const storeDir = (await root.optional("activations", "train")) ?? (await root.optional("activations"));
    const store =
      storeDir && existsSync(join(storeDir, "index.json"))
        ? await ActivationStore.open(storeDir, { within: root.real })
        : null;
    try {
      if (store && store.meta.level !== "word")
        throw new InputError(storeDir!, "the explorer needs a word-level activation store");
      const conceptsFile = await root.optional("concepts", "concepts.json");
      const concepts = conceptsFile ? await readConceptsFile(conceptsFile) : null;
      if (!store && !concepts) {
        throw new InputError(
          root.dir,
          "nothing to explore: no activations/ store and no concepts/concepts.json inside the results directory",
        );
      }
      if (store && concepts && conceptsFile) checkConceptsAgainstStore(concepts, conceptsFile, store);
      const report = (await root.optional("report", "index.html")) ? "report/index.html" : null;
      const ivFile = await root.optional("intervene", "intervention.json");
      const interventions = ivFile ? await readJsonFile(ivFile, parseInterventionResults) : null;
      if (interventions && ivFile) checkInterventions(interventions, ivFile, store, concepts);
      const sample = store ? buildSample(store, concepts?.classes, opts.maxRows) : null;
      const latentFile = await root.optional("latent", "latent.json");
      const latent = latentFile ? await readJsonFile(latentFile, parseLatent) : null;
      if (latent && latentFile && store) checkLatentAgainstStore(latent, latentFile, store);
      const data = new ExplorerData(store, concepts, sample, report, interventions, latent, opts);
      if (opts.site && !data.sites.includes(opts.site))
        throw new UserError(
          `--site ${opts.site}: the results hold only the ${data.sites.join(" and ")} site${store ? ` (store ${store.dir})` : ""}`,
        );
      return data;
    } catch (e) {
      store?.close();
      throw e;
    }
  }

  close(): void {
    this.store?.close();
  }

  /** The sites there is something of: the store's, or concepts.json's alone. */
  get sites(): Site[] {
    return this.store ? [...this.store.meta.sites] : [this.concepts!.site];
  }

  /** The site shown first: as asked, else the concept analysis' (its classes and concepts are of it), else hidden. */
  get defaultSite(): Site {
    const sites = this.sites;
    const preferred = this.opts.site ?? this.concepts?.site ?? "hidden";
    return sites.includes(preferred) ? preferred : sites[0];
  }

  space(site: Site): NeuronSpace {
    this.checkSite(site);
    return neuronSpace(site, this.store ? this.store.dimOf(site) : this.concepts!.width);
  }

  layers(site: Site): number[] {
    this.checkSite(site);
    return this.store ? siteLayers(site, this.store.meta.layers) : this.concepts!.layers;
  }

  private checkSite(site: Site): void {
    if (!this.sites.includes(site))
      throw new HttpError(
        404,
        `no ${site} neurons here (${siteTitle(site)}): the results hold the ${this.sites.join(" and ")} site`,
      );
  }

  meta(): MetaResponse {
    const c = this.concepts;
    const site = this.defaultSite;
    return {
      model: this.store?.meta.model ?? "(concepts only)",
      hidden: this.store?.meta.hidden ?? (c?.site === "hidden" ? c.width : null),
      site,
      layers: this.layers(site),
      sites: this.sites.map((s) => ({
        site: s,
        title: siteTitle(s),
        width: this.space(s).width,
        layers: this.layers(s),
      })),
      conceptsSite: c?.site ?? null,
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
      interventions: this.interventions?.experiments.length ?? 0,
      latent: this.latent
        ? {
            site: this.latent.site,
            layers: this.latent.layers.map((l) => l.layer),
            clusters: this.latent.settings.clusters,
            tokens: this.latent.tokens.count,
            theta: this.latent.settings.theta,
          }
        : null,
    };
  }

  private latentLayer(layer: number): LatentResult["layers"][number] {
    if (!this.latent) throw new HttpError(404, "no latent concepts here (latent/latent.json)");
    const l = this.latent.layers.find((x) => x.layer === layer);
    if (!l)
      throw new HttpError(
        404,
        `latent.json has no layer ${layer} (it has ${this.latent.layers.map((x) => x.layer).join(", ")})`,
      );
    return l;
  }

  /** The clusters of a layer, largest first. */
  latentClusters(layer: number): LatentLayerResponse {
    const l = this.latentLayer(layer);
    const r = this.latent!;
    return {
      layer,
      site: r.site,
      tokens: r.tokens.count,
      theta: r.settings.theta,
      alignment: l.alignment.map((a) => ({ family: a.family, aligned: a.aligned })),
      novel: l.novel,
      clusters: [...l.clusters]
        .sort((a, b) => b.size - a.size || a.id - b.id)
        .map((c) => ({
          id: c.id,
          size: c.size,
          aligned: c.aligned.map((a) => `${a.family} ${a.value}`),
          words: wordCounts(c.tokens, r.tokens.word)
            .slice(0, 6)
            .map((w) => w.word),
        })),
    };
  }

  /** One cluster: its categories, neurons, words and tokens in their lines. */
  latentCluster(layer: number, id: number): LatentClusterResponse {
    const l = this.latentLayer(layer);
    const c = l.clusters.find((x) => x.id === id);
    if (!c)
      throw new HttpError(404, `layer ${layer} has no latent cluster ${id} (0–${l.clusters.length - 1})`);
    const r = this.latent!;
    return {
      layer,
      site: r.site,
      id,
      size: c.size,
      aligned: c.aligned,
      majority: c.majority,
      neurons: c.neurons,
      words: wordCounts(c.tokens, r.tokens.word),
      occurrences: c.tokens.slice(0, 60).map((t) => ({
        sentence: r.tokens.sentence[t],
        position: r.tokens.position[t],
        word: r.tokens.word[t],
        words: this.store ? this.store.words(r.tokens.sentence[t]) : null,
      })),
    };
  }

  /** `site` query parameter: one of the sites here; absent, the default site. */
  siteParam(text: string | null): Site {
    if (text === null || text === "") return this.defaultSite;
    if (!(SITES as readonly string[]).includes(text))
      throw new HttpError(400, `site must be one of ${SITES.join(", ")}`);
    this.checkSite(text as Site);
    return text as Site;
  }

  /**
   * Parses a neuron reference: a name (`L5:3`, `L5.mlp:3`: the name says its site) or an id of
   * `site`. 400 when malformed, 404 when there is no such neuron here.
   */
  parseNeuron(text: string | null, site: Site = this.defaultSite): NeuronRef {
    if (text === null || text === "") throw new HttpError(400, "missing neuron id");
    let ref: NeuronRef;
    try {
      // Bounded before parsing: a URL can be any length.
      if (!/^(\d{1,9}|L\d{1,4}(\.[A-Za-z]{1,8})?:\d{1,6})$/.test(text))
        throw new NeuronRefError("", "malformed");
      ref = parseNeuronRef(text, site, (s) => this.space(s));
    } catch (e) {
      if (!(e instanceof NeuronRefError)) throw e;
      // The message starts with what was typed (cut to a readable length: a URL can be long).
      const typed = text.length > 40 ? `${text.slice(0, 40)}…` : text;
      if (e.reason === "out-of-range") throw new HttpError(404, `${typed}: ${e.message}`);
      throw new HttpError(
        400,
        `${typed}: ${e.message || "not a neuron: expected L{layer}:{unit}, L{layer}.mlp:{unit} or a number"}`,
      );
    }
    const layers = this.layers(ref.site);
    // Errors name the neuron as it was typed (and its name when the text was an id).
    const space = this.space(ref.site);
    const name = neuronName(ref.id, space);
    const typed = text === name ? text : `${text} (${name})`;
    if (!layers.includes(neuronLayer(ref.id, space))) {
      throw new HttpError(
        404,
        `neuron ${typed} is not in the stored ${ref.site === "hidden" ? "" : `${ref.site} `}layers: ${layerList(ref.site, layers)}`,
      );
    }
    if (!this.store && !this.reports.has(ref.id))
      throw new HttpError(404, `concepts.json has no details of neuron ${typed}`);
    return ref;
  }

  neurons(q: { layer?: number; site?: Site; cls?: string; concept?: string }): NeuronsResponse {
    if (q.layer !== undefined) {
      const site = q.site ?? this.defaultSite;
      const space = this.space(site);
      if (!this.layers(site).includes(q.layer))
        throw new HttpError(404, `${site === "hidden" ? "" : `${site} `}layer ${q.layer} is not stored`);
      const ids = neuronIdsOfLayers([q.layer], space);
      const available = this.store ? ids : ids.filter((id) => this.reports.has(id));
      return {
        title: site === "hidden" ? `Layer ${q.layer}` : `Layer ${q.layer} MLP`,
        neurons: available.map((id) => this.chip({ site, id }, null)),
      };
    }
    // Classes and concepts come from concepts.json: neurons of its site.
    const site = this.concepts?.site ?? "hidden";
    if (q.cls !== undefined) {
      const cls = q.cls;
      // The class comes from the query string: only the file's own keys, never Object.prototype's.
      const ids = ownValue(this.concepts?.topNeurons.perClass, cls);
      if (!ids) throw new HttpError(404, `no top neurons for class '${cls}'`);
      return {
        title: `Top neurons of ${cls}`,
        neurons: ids.map((id) =>
          this.chip({ site, id }, ownValue(this.reports.get(id)?.weights, cls) ?? null),
        ),
      };
    }
    if (q.concept !== undefined) {
      const known = this.concepts?.concepts.some((k) => k.concept === q.concept);
      if (!known) throw new HttpError(404, `no concept '${q.concept}'`);
      const matches = this.concepts!.conceptNeurons.filter((m) => m.concept === q.concept);
      return {
        title: `${q.concept} neurons`,
        neurons: matches.map((m) => this.chip({ site, id: m.neuron }, m.purity)),
      };
    }
    throw new HttpError(400, "give one of layer, class or concept");
  }

  /** What concepts.json says of a neuron, when it is of the analysed site. */
  private fromConcepts<T>(ref: NeuronRef, map: Map<number, T>): T | undefined {
    return ref.site === this.concepts?.site ? map.get(ref.id) : undefined;
  }

  private named(ref: NeuronRef): { id: number; site: Site; name: string; layer: number } {
    const space = this.space(ref.site);
    return { id: ref.id, site: ref.site, name: neuronName(ref.id, space), layer: neuronLayer(ref.id, space) };
  }

  private chip(ref: NeuronRef, score: number | null): NeuronChip {
    return {
      ...this.named(ref),
      topFor: this.fromConcepts(ref, this.topFor) ?? [],
      concept: this.fromConcepts(ref, this.conceptOf)?.concept ?? null,
      score,
    };
  }

  async neuron(ref: NeuronRef, lines: number[] = []): Promise<NeuronResponse> {
    if (!this.store || !this.sample) return this.neuronFromConcepts(ref);
    const column = await this.column(ref);
    const summary = summarizeColumn(column, this.sample.types);
    const wordOpts = {
      k: 15,
      examples: 2,
      classes: this.sample.classes,
      sentence: this.sample.sentence,
      position: this.sample.position,
    };
    const report = this.fromConcepts(ref, this.reports);
    const match = this.fromConcepts(ref, this.conceptOf);
    const chosen = [...lines.map((l) => this.checkLine(l)), ...topSentences(column, this.sample, 6, lines)];
    const reported = this.conceptsPopulation();
    return {
      ...this.named(ref),
      population: this.samplePopulation(),
      mean: summary.mean,
      std: summary.std,
      topFor: this.fromConcepts(ref, this.topFor) ?? [],
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
      inReport:
        report && reported
          ? {
              population: reported,
              topWords: {
                positive: report.topWords.positive.map(wordScore),
                negative: report.topWords.negative.map(wordScore),
              },
            }
          : null,
      lines: await this.lineViews(chosen, [ref]),
      interventions: this.interventionsOf(ref),
    };
  }

  /** The experiments that changed the neuron, smallest set first (the most specific evidence). */
  private interventionsOf(ref: NeuronRef): InterventionEffect[] {
    const r = this.interventions;
    if (!r || r.site !== ref.site) return [];
    const score = (s: { accuracy: number; loss: number | null }) => ({ accuracy: s.accuracy, loss: s.loss });
    return r.experiments
      .filter((e) => e.ids.includes(ref.id))
      .sort((a, b) => a.ids.length - b.ids.length)
      .map((e) => ({
        label: e.label,
        neurons: e.ids.length,
        mode: r.mode,
        evaluation: r.evaluation,
        split: r.split,
        controls: r.controls.count,
        classes: [
          ...r.classes.map((c) => ({
            class: c,
            rows: r.baseline.perClass[c].rows,
            before: score(r.baseline.perClass[c]),
            after: score(e.after.perClass[c]),
            random: r.controls.count > 0 ? e.controls.perClass[c] : null,
          })),
          {
            class: "all classes",
            rows: r.baseline.overall.rows,
            before: score(r.baseline.overall),
            after: score(e.after.overall),
            random: r.controls.count > 0 ? e.controls.overall : null,
          },
        ],
      }));
  }

  /** The rows the explorer's own statistics are over: the store's first words. */
  private samplePopulation(): PopulationInfo {
    const rows = this.sample?.words.length ?? 0;
    const all = this.store?.meta.numRows ?? rows;
    return {
      kind: "store",
      rows,
      description:
        rows < all
          ? `all words: the store's first ${rows} words (of ${all})`
          : `all words of the store (${rows})`,
    };
  }

  /** concepts.json's rows, as the report names them (null for a file older than version 4). */
  private conceptsPopulation(): PopulationInfo | null {
    const p = this.concepts?.population;
    if (!p) return null;
    return { kind: p.kind, rows: p.rows, description: p.description };
  }

  private checkLine(line: number): number {
    const n = this.store?.numLines ?? 0;
    if (!Number.isInteger(line) || line < 0 || line >= n)
      throw new HttpError(400, `line ${line} is not in 0..${n - 1}`);
    return line;
  }

  private neuronFromConcepts(ref: NeuronRef): NeuronResponse {
    const r = this.reports.get(ref.id)!;
    const lines: LineView[] = [];
    for (const h of this.concepts!.heatmaps) {
      const n = h.neurons.findIndex((x) => x.id === ref.id);
      if (n < 0) continue;
      for (const l of h.lines)
        lines.push({ sentence: l.sentence, words: l.words, activations: [l.activations[n]] });
    }
    const match = this.conceptOf.get(ref.id);
    const c = this.concepts!;
    return {
      id: ref.id,
      site: ref.site,
      name: r.name,
      layer: r.layer,
      population: this.conceptsPopulation() ?? {
        kind: "task",
        rows: c.corpus.rows,
        description: `the rows concepts.json analysed (${c.corpus.rows})`,
      },
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
      // These are the report's statistics already.
      inReport: null,
      lines,
      interventions: this.interventionsOf(ref),
    };
  }

  /** The neurons of one site that fire most on a token. */
  async search(token: string, site: Site = this.defaultSite): Promise<SearchResponse> {
    const sample = this.needSample("search");
    const space = this.space(site);
    const t = sample.types.types.indexOf(token);
    if (t < 0)
      return { token, site, occurrences: 0, neurons: [], suggestions: suggestions(sample.types, token) };
    const rows = sample.types.rowsOfType.subarray(sample.types.offsets[t], sample.types.offsets[t + 1]);
    // Enough occurrences for a stable mean; more only costs reading time.
    const used = Array.from(rows.subarray(0, 2000), (r) => sample.storeRows[r]);
    const ids = this.allNeuronIds(site);
    const m = await this.store!.readRows(used, { layers: this.layers(site), site });
    const { mean, std } = await this.neuronStats(site);
    const n = m.cols;
    const sums = new Float64Array(n);
    for (let r = 0; r < m.rows; r++) for (let j = 0; j < n; j++) sums[j] += m.data[r * n + j];
    const scored = ids.map((id, j) => {
      const onToken = sums[j] / m.rows;
      return {
        id,
        site,
        name: neuronName(id, space),
        layer: neuronLayer(id, space),
        mean: onToken,
        z: std[j] > 0 ? (onToken - mean[j]) / std[j] : 0,
      };
    });
    scored.sort((a, b) => b.z - a.z || a.id - b.id);
    return { token, site, occurrences: rows.length, neurons: scored.slice(0, 30), suggestions: [] };
  }

  /** Two neurons, of one site or of two. */
  async compare(a: NeuronRef, b: NeuronRef): Promise<CompareResponse> {
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

  private allNeuronIds(site: Site): number[] {
    return neuronIdsOfLayers(this.layers(site), this.space(site));
  }

  /** A neuron's activations over the sample rows, via a cache of whole layers (the store reads layers). */
  private async column(ref: NeuronRef): Promise<Float32Array> {
    const space = this.space(ref.site);
    const cols = await this.layerColumns(ref.site, neuronLayer(ref.id, space));
    const n = this.sample!.words.length;
    const u = neuronUnit(ref.id, space);
    return cols.subarray(u * n, (u + 1) * n);
  }

  private async layerColumns(site: Site, layer: number): Promise<Float32Array> {
    const key = `${site}.${layer}`;
    const cached = this.layerCache.get(key);
    if (cached) {
      this.layerCache.delete(key);
      this.layerCache.set(key, cached);
      return cached;
    }
    const sample = this.sample!;
    const m = await this.store!.readRows(sample.storeRows, { layers: [layer], site });
    const n = m.rows;
    const h = m.cols;
    const cols = new Float32Array(n * h);
    for (let r = 0; r < n; r++) for (let u = 0; u < h; u++) cols[u * n + r] = m.data[r * h + u];
    this.layerCache.set(key, cols);
    while (this.layerCache.size > this.opts.cachedLayers)
      this.layerCache.delete(this.layerCache.keys().next().value!);
    return cols;
  }

  /** Mean and std of every neuron of a site over the sample, computed once (one pass over each layer). */
  private async neuronStats(site: Site): Promise<{ mean: Float64Array; std: Float64Array }> {
    const known = this.stats.get(site);
    if (known) return known;
    const ids = this.allNeuronIds(site);
    const mean = new Float64Array(ids.length);
    const std = new Float64Array(ids.length);
    for (let j = 0; j < ids.length; j++) {
      const m = meanStd(await this.column({ site, id: ids[j] }));
      mean[j] = m.mean;
      std[j] = m.std;
    }
    const stats = { mean, std };
    this.stats.set(site, stats);
    return stats;
  }

  private async lineViews(sentences: number[], refs: NeuronRef[]): Promise<LineView[]> {
    const out: LineView[] = [];
    for (const s of sentences) {
      const words = this.store!.words(s);
      if (words.length === 0) continue;
      const rows = words.map((_, i) => this.store!.row(s, i));
      // One read per neuron: the two neurons of a comparison may be of two sites.
      const activations: number[][] = [];
      for (const ref of refs) {
        const m = await this.store!.readRows(rows, { neurons: [ref.id], site: ref.site });
        activations.push(Array.from(m.data, round));
      }
      out.push({ sentence: s, words, activations });
    }
    return out;
  }
}

/**
 * concepts.json must describe neurons the store holds: of one of its sites, with that site's width
 * (ids are layer × width + unit). Refused at start-up, naming the file and the field.
 */
function checkConceptsAgainstStore(c: ConceptsResult, file: string, store: ActivationStore): void {
  if (!store.meta.sites.includes(c.site)) {
    throw new InputError(
      file,
      `holds ${c.site}-site neurons (${siteTitle(c.site)}), but the activation store ${store.dir} has only the ${store.meta.sites.join(" and ")} site`,
      { field: "site" },
    );
  }
  const width = store.dimOf(c.site);
  if (c.width !== width) {
    throw new InputError(
      file,
      `counts ${c.width} neurons per layer, the store's ${c.site} site has ${width}: concepts of another model?`,
      { field: "width" },
    );
  }
}

/**
 * intervention.json must be of neurons the explorer shows: a site the results hold, with its width
 * (ids are layer × width + unit). Refused at start-up, naming the file and the field.
 */
function checkInterventions(
  r: InterventionResults,
  file: string,
  store: ActivationStore | null,
  concepts: ConceptsResult | null,
): void {
  const sites = store ? store.meta.sites : concepts ? [concepts.site] : [];
  if (!sites.includes(r.site))
    throw new InputError(
      file,
      `holds ${r.site}-site experiments (${siteTitle(r.site)}), but the results have only the ${sites.join(" and ")} site`,
      { field: "site" },
    );
  const width = store ? store.dimOf(r.site) : concepts!.width;
  if (r.width !== width)
    throw new InputError(
      file,
      `counts ${r.width} neurons per layer, the results' ${r.site} site has ${width}: an intervention on another model?`,
      { field: "width" },
    );
}

/** latent.json names tokens by store line and word: they must be this store's. */
function checkLatentAgainstStore(latent: LatentResult, file: string, store: ActivationStore): void {
  const t = latent.tokens;
  for (let i = 0; i < t.count; i++) {
    const words = store.words(t.sentence[i]);
    if (t.sentence[i] >= store.numLines || words[t.position[i]] !== t.word[i])
      throw new InputError(
        file,
        `token ${i} ('${t.word[i]}' at line ${t.sentence[i]}, word ${t.position[i]}) is not the store's word there: latent.json of another store?`,
        { field: `tokens.word.${i}` },
      );
  }
  if (!store.meta.sites.includes(latent.site) || store.dimOf(latent.site) !== latent.width)
    throw new InputError(file, `the ${latent.site} site of width ${latent.width} is not the store's`, {
      field: "width",
    });
}

/** The explorer's rows: the first word rows of the store, with labels when the store has them. */
interface Sample {
  words: readonly string[];
  sentence: Int32Array;
  position: Int32Array;
  labels: Int32Array;
  classes: string[];
  storeRows: Int32Array;
  sentences: number;
  types: WordTypes;
}

function buildSample(store: ActivationStore, conceptClasses: string[] | undefined, maxRows: number): Sample {
  const rows = storeCorpusRows(store, maxRows, conceptClasses);
  return {
    ...rows,
    classes: [...rows.classes],
    // Rows are consecutive words of consecutive lines: a new sentence starts where the number changes.
    sentences: rows.sentence.filter((s, i) => i === 0 || s !== rows.sentence[i - 1]).length,
    types: wordTypes(rows),
  };
}

/** `record[key]` when it is the record's own key: a key from a URL can be `__proto__` or `constructor`. */
function ownValue<T>(record: Record<string, T> | null | undefined, key: string): T | undefined {
  return record && Object.hasOwn(record, key) ? record[key] : undefined;
}

function wordScore(w: TopWord): WordScore {
  return { word: w.word, score: round(w.score), count: w.count, label: w.label, examples: w.examples };
}

function classMeansOf(column: Float32Array, sample: Sample): NeuronResponse["classMeans"] {
  const { means, counts } = columnClassMeans(column, sample.labels, sample.classes.length);
  return sample.classes.map((cls, c) => {
    const mean = means[c];
    return { class: cls, mean: mean === null ? null : round(mean), count: counts[c] };
  });
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

/** "L0 … L4" (hidden) or "L1.mlp … L4.mlp": the names of a site's stored layers, as typed. */
function layerList(site: Site, layers: number[]): string {
  const name = (l: number) => (site === "hidden" ? `L${l}` : `L${l}.${site}`);
  if (layers.length === 0) return "none";
  const consecutive = layers.every((l, i) => i === 0 || l === layers[i - 1] + 1);
  return consecutive && layers.length > 2
    ? `${name(layers[0])} … ${name(layers[layers.length - 1])}`
    : layers.map(name).join(", ");
}
