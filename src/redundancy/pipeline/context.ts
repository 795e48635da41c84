import type { FittedProbe } from "../../probe/stage.js";
import { type ColumnSource, columnSource } from "../../util/matrix.js";
import { formatSeconds, log, Progress } from "../../util/progress.js";
import { clusterNeurons } from "../cluster.js";
import { contentKey, type PipelineCache } from "./cache.js";
import type { FeatureSpace, PipelineData, PipelineSource } from "./input/index.js";
import { addWork, correlationWork, NO_WORK, type StepWork } from "./plan.js";
import {
  fitProbe,
  fitProbeFrom,
  type Lambdas,
  type ProbeFit,
  type ProbeRequest,
  probeFitOf,
  type StandardizedData,
  standardizeData,
} from "./probes.js";
import type { ClusteringInfo, OracleResult, PipelineSettings, RedundancyInput } from "./results.js";

/** Flat clusters of a set of columns at every threshold, with one representative each. */
export interface Clustering extends ClusteringInfo {
  cuts: { threshold: number; clusters: number; representatives: number[] }[];
}

/**
 * What a step can use: the input, the settings, the activations (read on first use), and probes and
 * clusterings memoised in the work cache by their content.
 */
export class StepContext {
  private dataPromise: Promise<PipelineData> | null = null;
  private standardized: StandardizedData | null = null;
  /** Seconds spent reading the activations in this run. */
  loadSeconds = 0;

  constructor(
    readonly source: PipelineSource,
    readonly settings: PipelineSettings,
    private readonly cache: PipelineCache,
    readonly quiet: boolean,
    /** A probe fitted elsewhere on all neurons of this task (the probe stage's), offered as the oracle. */
    private readonly fittedOracle?: FittedProbe,
  ) {}

  get input(): RedundancyInput {
    return this.source.input;
  }

  get space(): FeatureSpace {
    return this.source.space;
  }

  data(): Promise<PipelineData> {
    this.dataPromise ??= this.timedLoad();
    return this.dataPromise;
  }

  private async timedLoad(): Promise<PipelineData> {
    const t0 = performance.now();
    const data = await this.source.load();
    this.loadSeconds = (performance.now() - t0) / 1000;
    log(`redundancy: read the activations in ${formatSeconds(this.loadSeconds)}`);
    return data;
  }

  /**
   * The splits z-scored with the training statistics, made once for all probes, in place: after this
   * the raw activations are read again from the stores when a step asks for them (`trainColumns`).
   */
  async standardizedData(): Promise<StandardizedData> {
    this.standardized ??= standardizeData(await this.data(), { inPlace: true });
    return this.standardized;
  }

  /**
   * The raw training activations by column: from memory while they are loaded and not yet z-scored,
   * afterwards read again from the stores (a layer's columns at a time for per-layer clustering).
   */
  trainColumns(): ColumnSource {
    return {
      rows: this.input.rows.train,
      cols: this.space.total,
      columns: async (columns) => {
        const data = await this.data();
        if (this.standardized === null) return columnSource(data.train.x).columns(columns);
        return this.source.readColumns("train", columns);
      },
    };
  }

  /** Drops the activations (after the last step). */
  release(): void {
    this.dataPromise = null;
    this.standardized = null;
  }

  progress(label: string, total: number, unit = "probes"): Progress {
    return new Progress(label, total, { quiet: this.quiet, unit });
  }

  /** λs of the oracle: given, or tuned on dev over the grid. */
  oracleLambdas(): Lambdas {
    const s = this.settings;
    if (s.lambda1 !== undefined || s.lambda2 !== undefined)
      return { lambda1: s.lambda1 ?? 0, lambda2: s.lambda2 ?? 0 };
    return { grid: s.lambdaGrid };
  }

  /** λs of every other probe: given, tuned per probe (`tune: "all"`), or the oracle's. */
  followerLambdas(oracle: OracleResult): Lambdas {
    const s = this.settings;
    if (s.lambda1 !== undefined || s.lambda2 !== undefined)
      return { lambda1: s.lambda1 ?? 0, lambda2: s.lambda2 ?? 0 };
    if (s.tune === "all") return { grid: s.lambdaGrid };
    return { lambda1: oracle.probe.lambda1, lambda2: oracle.probe.lambda2 };
  }

  allColumns(): number[] {
    return Array.from({ length: this.space.total }, (_, c) => c);
  }

  /**
   * The probe on the first `count` stored layers. All layers is the oracle itself (as Dalvi et al.
   * copy the baseline into the last incremental result), so it is fitted once.
   */
  prefixProbe(count: number, oracle: OracleResult, ordering = true): Promise<ProbeFit> {
    const all = count === this.space.layers.length;
    return this.probe({
      columns: this.space.prefixColumns(count),
      lambdas: all ? this.oracleLambdas() : this.followerLambdas(oracle),
      labels: "task",
      ...(ordering ? { orderingStride: this.settings.stride } : {}),
    });
  }

  /**
   * The offered oracle when it is this pipeline's oracle: the task's classes, every neuron of the site
   * in column order, λs tuned on the same grid with the same solver settings (then the probe stage's
   * grid search is this step's, point for point). Otherwise null, and the oracle is fitted here.
   */
  sharedOracle(lambdas: Lambdas): FittedProbe | null {
    const f = this.fittedOracle;
    if (!f) return null;
    const s = this.settings;
    const ids = this.space.ids(this.allColumns());
    const why =
      f.control || f.site !== this.input.site || this.space.sides !== 1
        ? "another site or task"
        : f.neurons.length !== ids.length || f.neurons.some((n, i) => n !== ids[i])
          ? "other neurons"
          : `${f.probe.classes}` !== `${this.input.classes}`
            ? "other classes"
            : !("grid" in lambdas) ||
                !f.grid ||
                `${[...f.grid.lambdas].sort()}` !== `${[...lambdas.grid].sort()}`
              ? "λs not tuned on this pipeline's grid"
              : (f.solver.patience ?? 5) !== s.patience || (f.solver.maxIter ?? 500) !== s.maxIter
                ? "other solver settings"
                : null;
    if (why) log(`redundancy: oracle: fitting it here (the probe offered has ${why})`);
    return why ? null : f;
  }

  /** The fit of a probe request from a probe fitted elsewhere: scored on this pipeline's dev and test rows. */
  async adoptProbe(fitted: FittedProbe, req: ProbeRequest): Promise<ProbeFit> {
    const data = await this.data();
    const z = await this.standardizedData();
    return probeFitOf(fitted.probe, data, z, req, fitted.grid?.points);
  }

  /** The solver settings every probe of the run uses. */
  private get solver(): { patience: number; maxIter: number } {
    return { patience: this.settings.patience, maxIter: this.settings.maxIter };
  }

  async probe(req: ProbeRequest, precomputed?: () => Promise<ProbeFit>): Promise<ProbeFit> {
    const solver = this.solver;
    const key = contentKey(
      "probe",
      this.input.fingerprint,
      req.labels,
      req.labels === "control" ? this.input.control : null,
      req.columns,
      req.lambdas,
      solver,
      req.orderingStride ?? null,
    );
    return this.cache.work(
      "probe",
      key,
      precomputed ??
        (async () => {
          const data = await this.data();
          const classes = req.labels === "control" ? (data.control?.classes ?? []) : this.input.classes;
          this.countProbe(req.columns.length, classes.length);
          return fitProbe(data, await this.standardizedData(), classes, req, solver);
        }),
    );
  }

  /** Probes fitted outside the work cache (warm-started search sizes). */
  uncachedFits = 0;

  /**
   * What the running step fitted and clustered (cache hits cost nothing and count nothing): the work
   * the cost model's constants are per unit of (plan.ts). The pipeline resets it before each step.
   */
  work: StepWork = NO_WORK;

  private countProbe(neurons: number, classes: number): void {
    this.work = addWork(this.work, { probes: 1, products: neurons * this.input.rows.train * classes });
  }

  /**
   * A minimal-set search's probe started from the previous size's (settings.warmStarts): fitted here,
   * not through the work cache, because its start is the previous fit's weights, which the cache does
   * not keep; the search step's result is cached as a whole.
   */
  async probeFrom(
    req: ProbeRequest,
    previous: { w: Float64Array; b: Float64Array } | null,
  ): Promise<ProbeFit & { weights: { w: Float64Array; b: Float64Array } }> {
    this.uncachedFits++;
    this.countProbe(req.columns.length, this.input.classes.length);
    return fitProbeFrom(
      await this.data(),
      await this.standardizedData(),
      this.input.classes,
      req,
      this.solver,
      previous,
    );
  }

  /** Correlation clustering of the columns over the training rows, cut at every threshold. */
  async cluster(columns: readonly number[]): Promise<Clustering> {
    const s = this.settings;
    const key = contentKey(
      "cluster",
      this.input.fingerprint,
      columns,
      s.thresholds,
      s.seed,
      s.representative,
    );
    return this.cache.work("cluster", key, async () => {
      const train = this.trainColumns();
      // Columns are read only as the clustering asks for them (per layer above the memory bound).
      const source: ColumnSource = {
        rows: train.rows,
        cols: columns.length,
        columns: (idx) => train.columns(idx.map((i) => columns[i])),
      };
      const r = await clusterNeurons(source, {
        thresholds: s.thresholds,
        seed: s.seed,
        representative: s.representative,
        neuronIds: columns,
        // Columns are full-matrix indices: ⌊column / width⌋ separates layers (and pair sides).
        hidden: this.space.width,
        layersPerSide: this.space.layers.length,
        tooLarge: "per-layer-linked",
        progress: !this.quiet,
      });
      this.work = addWork(this.work, {
        correlations: correlationWork(columns.length, this.space.width, train.rows, r.scope),
      });
      return {
        scope: r.scope,
        representative: r.representative,
        constantNeurons: r.constantNeurons.length,
        ...(r.note ? { note: r.note } : {}),
        cuts: r.cuts.map((c) => ({
          threshold: c.threshold,
          clusters: c.clusterCount,
          representatives: [...c.representatives].sort((a, b) => a - b),
        })),
      };
    });
  }

  misses(kind: "probe" | "cluster"): number {
    return this.cache.misses(kind);
  }
}
