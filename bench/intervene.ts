/**
 * bench:intervene — a sweep of `codeneurons intervene` on the bundled model and the demo's test split:
 * the top-K NUMBER neurons for K = 1, 2, 5, 10, 20, 50, each beside 10 random controls (67 evaluations
 * of every test row, masked-LM), against PyTorch forward hooks doing the same masked-token evaluation on
 * the same weights, token ids, batches and neuron sets (bench/intervene_baseline.py, a plain
 * re-implementation of RoBERTa in scripts/reference/hf_models.py). Both sides are timed end to end over
 * the 67 evaluations (our side also pays for reading the results and opening the model; the baseline's
 * load is reported apart). The baseline's per-row log-probabilities are checked against ours.
 *
 * Prints: BENCH intervene ours=<s> baseline=<s> ratio=<baseline/ours> runs=67 rows=<n> max_logp_diff=<x>
 *         … ours_cpu_s=<s> baseline_cpu_s=<s> cpu_ratio=<x> (CPU seconds of each process, all threads)
 * Usage: npm run bench:intervene [-- --runs 3]
 *        npm run bench:intervene -- --fixture   (writes test/fixtures/intervene/, a small reference)
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { runInterventionStage, setUpIntervention } from "../src/intervene/stage.js";
import { threadCount } from "../src/linalg/runtime.js";
import type { UnitEdit } from "../src/model/intervention.js";
import {
  appendResult,
  BENCH_DIR,
  benchLine,
  machineInfo,
  median,
  pythonHas,
  runPythonBaseline,
  WORK_DIR,
} from "./common.js";

const ROOT = resolve(BENCH_DIR, "..");
const RESULTS = join(WORK_DIR, "intervene-demo");
const KS = [1, 2, 5, 10, 20, 50];

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "1" },
    controls: { type: "string", default: "10" },
    fixture: { type: "boolean", default: false },
  },
});

/** The demo's results (task, stores, probe, concepts), made once with the CLI. */
function ensureDemoResults(): void {
  if (existsSync(join(RESULTS, "probe", "probe.json"))) return;
  process.stderr.write(`bench:intervene: running the demo into ${RESULTS}\n`);
  const r = spawnSync(
    join(ROOT, "node_modules", ".bin", "tsx"),
    [join(ROOT, "src", "cli", "main.ts"), "run", "--demo", "--out", RESULTS, "--quiet"],
    { cwd: ROOT, stdio: "inherit" },
  );
  if (r.status !== 0) throw new Error("bench:intervene: the demo run failed");
}

interface BaselineEdit {
  site: string;
  layer: number;
  units: number[];
  replace: number[];
  values: number[];
  scales: number[];
}

function baselineEdits(edits: readonly UnitEdit[]): BaselineEdit[] {
  return edits.map((e) => {
    const units = [...e.units];
    return {
      site: e.site,
      layer: e.layer,
      units,
      replace: units.map((u) => e.replace[u]),
      values: units.map((u) => e.value[u]),
      scales: units.map((u) => e.scale[u]),
    };
  });
}

interface BaselineResult {
  seconds: number;
  cpu_seconds: number;
  load_seconds: number;
  experiments: { log_prob: number[]; correct: number[] }[];
}

async function main(): Promise<void> {
  ensureDemoResults();
  const controls = Number(args.controls);
  const opts = {
    results: RESULTS,
    sweep: { class: "NUMBER", ks: args.fixture ? [1, 5] : KS },
    mode: "zero",
    controls: args.fixture ? 1 : controls,
    out: join(WORK_DIR, "intervene-out"),
    quiet: true,
  };
  // The neuron sets and batches both sides use: from our setup and the sets our run recorded.
  const first = await runInterventionStage(opts);
  const setup = await setUpIntervention(opts);
  const experiments: BaselineEdit[][] = [[]];
  const ours: Float32Array[] = [(await setup.score([])).logProb];
  for (const e of first.experiments) {
    for (const ids of [e.ids, ...e.controls.sets]) {
      const edits = await setup.editsOf(ids);
      experiments.push(baselineEdits(edits));
      if (args.fixture) ours.push((await setup.score(edits)).logProb);
    }
  }
  const items: number[][][] = [];
  const batches = setup.plan.batches.map((b, i) => {
    const ids: number[][] = [];
    const mask: number[][] = [];
    const at = (values: ArrayLike<number | bigint>, k: number) => Number(values[k]);
    for (let r = 0; r < b.batch; r++) {
      ids.push(Array.from({ length: b.seq }, (_, k) => at(b.inputIds, r * b.seq + k)));
      mask.push(
        Array.from({ length: b.seq }, (_, k) => (b.attentionMask ? at(b.attentionMask, r * b.seq + k) : 1)),
      );
    }
    const its: number[][] = [];
    setup.plan.sequences[i].forEach((s, r) => {
      s.rows.forEach((row, k) => {
        its.push([r, s.at[k], s.to[k], row]);
      });
    });
    items.push(its);
    return { ids, mask, items: its.map(([r, at, to]) => [r, at, to]) };
  });
  const modelDir = resolve(setup.modelSource);
  await setup.close();
  const specFile = join(WORK_DIR, "intervene-baseline.json");
  await mkdir(WORK_DIR, { recursive: true });
  await writeFile(
    specFile,
    JSON.stringify({ model: modelDir, threads: threadCount(), batches, experiments }),
  );
  if (!pythonHas(["torch", "numpy"])) {
    process.stderr.write("bench:intervene: python3-torch / numpy missing: baseline skipped\n");
    return;
  }
  const rowOrder = items.flat().map((it) => it[3]);

  if (args.fixture) {
    // A small reference for test/intervene: the baseline's log-probabilities per row and experiment.
    const base = await runPythonBaseline<BaselineResult>(join(BENCH_DIR, "intervene_baseline.py"), [
      specFile,
    ]);
    const dir = join(ROOT, "test", "fixtures", "intervene");
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, "reference.json"),
      `${JSON.stringify({
        note: "bench/intervene_baseline.py (PyTorch forward hooks) on the demo's test rows: log p of each row's true first subword, per experiment (0 = no intervention, then the sweep's experiments and their controls in intervention.json order)",
        options: { sweep: opts.sweep, controls: opts.controls, mode: opts.mode },
        rows: rowOrder,
        logProb: base.experiments.map((e) => e.log_prob.map((v) => Number(v.toFixed(7)))),
      })}\n`,
    );
    let worst = 0;
    base.experiments.forEach((e, x) => {
      e.log_prob.forEach((v, i) => {
        worst = Math.max(worst, Math.abs(v - ours[x][rowOrder[i]]));
      });
    });
    process.stdout.write(`fixture written; max |log p ours − PyTorch| = ${worst}\n`);
    return;
  }

  const oursTimes: number[] = [];
  const baseTimes: number[] = [];
  // CPU seconds of each process (every thread), beside wall-clock: on a shared machine the wall-clock
  // of either side depends on what else runs; CPU time much less.
  const oursCpu: number[] = [];
  const baseCpu: number[] = [];
  let lastBase: BaselineResult | null = null;
  for (let r = 0; r < Number(args.runs); r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await runInterventionStage(opts);
    const c = process.cpuUsage(c0);
    oursTimes.push((performance.now() - t0) / 1000);
    oursCpu.push((c.user + c.system) / 1e6);
    lastBase = await runPythonBaseline<BaselineResult>(join(BENCH_DIR, "intervene_baseline.py"), [specFile]);
    baseTimes.push(lastBase.seconds);
    baseCpu.push(lastBase.cpu_seconds);
  }
  // Check: the baseline's log-probabilities of the unchanged model against ours.
  const check = await setUpIntervention(opts);
  const unchanged = (await check.score([])).logProb;
  await check.close();
  let worst = 0;
  lastBase!.experiments[0].log_prob.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(v - unchanged[rowOrder[i]]));
  });
  const line = benchLine("intervene", median(oursTimes), median(baseTimes), {
    runs: experiments.length,
    rows: rowOrder.length,
    max_logp_diff: worst,
    baseline_load_s: lastBase!.load_seconds,
    ours_cpu_s: median(oursCpu),
    baseline_cpu_s: median(baseCpu),
    cpu_ratio: median(baseCpu) / median(oursCpu),
  });
  await appendResult("intervene", {
    machine: machineInfo(),
    lines: [line],
    ours: oursTimes,
    baseline: baseTimes,
    oursCpu,
    baselineCpu: baseCpu,
    evaluations: experiments.length,
  });
}

await main();
