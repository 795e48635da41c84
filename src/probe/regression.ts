import { DesignMatrix } from "../linalg/design.js";
import { type ProbeFile, parseProbeFile } from "./format.js";
import { LinearModel, type ProbeInput, type ProbeOptions } from "./linear-model.js";
import { SquaredError } from "./loss.js";
import { type RegressionMetrics, regressionMetrics } from "./metrics.js";
import { type PassCount, solveBatch, type WarmStart } from "./owlqn.js";

export interface RegressionSplit {
  x: ProbeInput;
  /** One real target per row. */
  y: ArrayLike<number>;
}

/**
 * Linear regression probe for real-valued targets (NeuroX's train_linear_regression_probe objective):
 *   mean squared error + λ1·Σ|w| + λ2·‖w‖₂   (bias unpenalised), on z-scored features.
 */
export class LinearRegressionProbe extends LinearModel {
  constructor(options: ProbeOptions = {}) {
    super(options);
  }

  get outputs(): number {
    return 1;
  }

  async fit(
    x: ProbeInput,
    y: ArrayLike<number>,
    opts: { valid?: RegressionSplit; warmStart?: WarmStart } = {},
  ): Promise<this> {
    checkTargets(y);
    const design = this.trainDesign(x);
    if (design.rows !== y.length) throw new Error(`probe: ${design.rows} rows but ${y.length} targets`);
    let dev: { design: DesignMatrix; loss: SquaredError } | undefined;
    if (opts.valid) {
      checkTargets(opts.valid.y);
      const v = opts.valid.x;
      const vd =
        v instanceof DesignMatrix ? v : DesignMatrix.wrap(design.standardizer.apply(v), design.standardizer);
      dev = { design: vd, loss: new SquaredError(opts.valid.y) };
    }
    const passes: PassCount = { forward: 0, gradient: 0, dev: 0 };
    const [r] = await solveBatch(
      { design, loss: new SquaredError(y) },
      [{ lambda1: this.lambda1, lambda2: this.lambda2, init: opts.warmStart }],
      { ...this.solverOptions(), dev, passes },
    );
    this.adoptSolution(r, design.standardizer, passes, opts.warmStart === undefined);
    return this;
  }

  async predict(x: ProbeInput): Promise<Float64Array> {
    return Float64Array.from((await this.decisionFunction(x)).data);
  }

  /** R² on (x, y), as scikit-learn's regressors. */
  async score(x: ProbeInput, y: ArrayLike<number>): Promise<number> {
    return (await this.evaluate(x, y)).r2;
  }

  async evaluate(x: ProbeInput, y: ArrayLike<number>): Promise<RegressionMetrics> {
    return regressionMetrics(y, await this.predict(x));
  }

  toJSON(): ProbeFile {
    return this.baseJSON("linear");
  }

  static fromJSON(value: unknown, file = "<probe>"): LinearRegressionProbe {
    return LinearRegressionProbe.fromFile(parseProbeFile(value, file), file);
  }

  static fromFile(p: ProbeFile, file: string): LinearRegressionProbe {
    const probe = new LinearRegressionProbe();
    probe.loadBase(p, file, "linear");
    return probe;
  }
}

function checkTargets(y: ArrayLike<number>): void {
  for (let i = 0; i < y.length; i++)
    if (!Number.isFinite(y[i])) throw new Error(`target ${i} is not a finite number`);
}
