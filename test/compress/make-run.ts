/**
 * A small real run for the compress tests: the demo's Java lines labelled, a token task capped at
 * 150/40/40 tokens per class, the bundled model's activations of both sites (residual stream and MLP),
 * and two redundancy runs with given λs (no grid) and few percentages and thresholds, so that every
 * set exists but little is fitted:
 *   DIR/                      the layout of `codeneurons run` (redundancy/ of the hidden site)
 *   DIR/redundancy-mlp/       an output of `codeneurons redundancy --site mlp` (oracle and LCA only)
 */
import { join } from "node:path";
import { runRedundancyPipeline } from "../../src/redundancy/pipeline/pipeline.js";
import { readRunConfig } from "../../src/run/config.js";
import { extractStage, labelStage, layoutOf, taskStage } from "../../src/run/stages.js";

export const ROOT = join(import.meta.dirname, "..", "..");
export const MODEL = join(ROOT, "models", "codeneurons-java-tiny");

const SETTINGS = {
  seed: 1,
  curves: "until-target" as const,
  lambda1: 1e-3,
  lambda2: 1e-3,
  deltas: [0.03, 0.01],
  thresholds: [0.3, 0.7],
  percentages: [0.01, 0.05, 0.2],
  finePercentages: [0.01, 0.05, 0.2],
};

/** `model`: the bundled model by default, or another (the LLM families' tiny checkpoints). */
export async function makeCompressRun(out: string, model?: string): Promise<void> {
  const cfg = readRunConfig(join(ROOT, "demo", "config.json"), model ? { model } : {});
  cfg.task.caps = [150, 40, 40];
  cfg.extract.sites = ["hidden", "mlp"];
  const layout = layoutOf(out);
  await labelStage(cfg, layout);
  await taskStage(cfg, layout);
  await extractStage(cfg, layout, true);
  await runRedundancyPipeline(
    { store: layout.activations, task: layout.task, site: "hidden", seed: 1 },
    {
      out: layout.redundancy,
      steps: ["oracle", "incremental", "ls", "ccfs", "lslca", "cc", "lca"],
      settings: SETTINGS,
      quiet: true,
    },
  );
  await runRedundancyPipeline(
    { store: layout.activations, task: layout.task, site: "mlp", seed: 1 },
    { out: join(out, "redundancy-mlp"), steps: ["oracle", "lca"], settings: SETTINGS, quiet: true },
  );
}
