/**
 * `npm run bench:cluster`: correlation + average-linkage clustering of 9,984 neurons over 12,000 tokens,
 * cut at t = 0.1 … 0.9 with one random representative per cluster, against NeuroX's way (numpy.corrcoef
 * + scipy linkage('average') + fcluster) on the same data, in the same run. Each side runs in its own
 * process so that its peak RSS is its own (both include the 480 MB activation matrix).
 *
 * Options (environment): BENCH_RUNS (default 5: single runs of either side vary by ±15% on a 2-core VM,
 * so the medians need five) timed runs per side, the sides alternating run by run;
 * BENCH_TOKENS / BENCH_NEURONS to shrink the problem for a quick look. The synthetic activations are
 * written once under bench/work/.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { condensedLength, correlationDistances } from "../src/linalg/correlation.js";
import { matmul } from "../src/linalg/products.js";
import { threadCount } from "../src/linalg/runtime.js";
import { clusterNeurons, DEFAULT_THRESHOLDS } from "../src/redundancy/cluster.js";
import { writeFileAtomic } from "../src/util/atomic.js";
import { matrix } from "../src/util/matrix.js";
import { Rng } from "../src/util/rng.js";
import {
  appendResult,
  BENCH_DIR,
  benchLine,
  machineInfo,
  median,
  PYTHON,
  pythonHas,
  readNpyF32,
  runPythonBaseline,
  WORK_DIR,
  writeNpy,
} from "./common.js";

const TOKENS = Number(process.env.BENCH_TOKENS ?? 12000);
const NEURONS = Number(process.env.BENCH_NEURONS ?? 9984);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const GROUPS = 600;
const SEED = 2023;
const DIR = join(WORK_DIR, "cluster");
const DATA = join(DIR, `X-${TOKENS}x${NEURONS}-s${SEED}.npy`);

/**
 * Synthetic activations with correlated groups: each neuron loads (random sign, strength 0.3…3) on one
 * of GROUPS latent signals and weakly on a shared one, plus unit noise and a per-neuron offset, so
 * that |r| spreads over the whole 0…1 range and every threshold cuts something.
 */
async function generate(): Promise<void> {
  const rng = new Rng(SEED);
  const f = matrix(TOKENS, GROUPS + 1);
  for (let i = 0; i < f.data.length; i++) f.data[i] = rng.normal();
  const w = matrix(GROUPS + 1, NEURONS);
  for (let j = 0; j < NEURONS; j++) {
    w.data[rng.int(GROUPS) * NEURONS + j] = (rng.next() < 0.5 ? -1 : 1) * (0.3 + 2.7 * rng.next());
    w.data[GROUPS * NEURONS + j] = 0.3 * rng.next();
  }
  const x = await matmul(f, w);
  const offset = Float32Array.from({ length: NEURONS }, () => 4 * rng.normal());
  for (let r = 0; r < TOKENS; r++) {
    for (let j = 0; j < NEURONS; j++) x.data[r * NEURONS + j] += rng.normal() + offset[j];
  }
  await writeNpy(DATA, x.data, [TOKENS, NEURONS]);
}

/** Reads a .npy array's raw data (any dtype) after its header. */
async function readNpyData(path: string): Promise<Uint8Array> {
  const buf = await readFile(path);
  const headerLength = buf.readUInt16LE(8);
  return new Uint8Array(
    buf.buffer,
    buf.byteOffset + 10 + headerLength,
    buf.byteLength - 10 - headerLength,
  ).slice();
}

interface SideResult {
  times: number[];
  peak_kib: number;
  clusters: number[];
}

/** Our side, in a child process: one timed run; with --dump, the labels and distances to compare. */
async function worker(): Promise<void> {
  const x = readNpyF32(DATA);
  const run = Number(process.argv[process.argv.indexOf("--run") + 1] ?? 0);
  const t0 = performance.now();
  const res = await clusterNeurons(x, { thresholds: DEFAULT_THRESHOLDS, seed: run, progress: false });
  const seconds = (performance.now() - t0) / 1000;
  const peakKib = process.resourceUsage().maxRSS;
  const assignment = res.cuts.map((c) => c.assignment);
  if (process.argv.includes("--dump")) {
    await writeNpy(join(DIR, "ours_labels.npy"), Int32Array.from(assignment.flat()), [
      assignment.length,
      NEURONS,
    ]);
    // Untimed: our distances, to say by how much float32 and float64 correlations differ.
    const d = await correlationDistances(x, { progress: false });
    await writeFileAtomic(join(DIR, "ours_distances.f64"), new Uint8Array(d.data.buffer));
  }
  const result: SideResult = {
    times: [seconds],
    peak_kib: peakKib,
    clusters: assignment.map((a) => Math.max(...a)),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runWorker(run: number, dump: boolean): Promise<SideResult> {
  const args = [...process.execArgv, join(BENCH_DIR, "cluster.ts"), "--worker", "--run", String(run)];
  if (dump) args.push("--dump");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"], env: process.env });
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`our worker exited with ${code}`));
      const line = out
        .trim()
        .split("\n")
        .reverse()
        .find((l) => l.startsWith("{"));
      if (!line) return reject(new Error("our worker printed no JSON result"));
      resolve(JSON.parse(line) as SideResult);
    });
  });
}

/** Sides alternate run by run, so that a change in the machine's load hits both alike. */
async function interleaved(hasPython: boolean) {
  const ours: SideResult = { times: [], peak_kib: 0, clusters: [] };
  const base: SideResult = { times: [], peak_kib: 0, clusters: [] };
  const loads: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const dump = r === RUNS - 1;
    loads.push(loadavg()[0]);
    const o = await runWorker(r, dump);
    ours.times.push(o.times[0]);
    ours.peak_kib = Math.max(ours.peak_kib, o.peak_kib);
    ours.clusters = o.clusters;
    process.stderr.write(
      `ours run ${r + 1}/${RUNS}: ${o.times[0].toFixed(2)} s (load1 ${loads.at(-1)?.toFixed(1)})\n`,
    );
    if (!hasPython) continue;
    loads.push(loadavg()[0]);
    const b = await runPythonBaseline<SideResult>(join(BENCH_DIR, "cluster_baseline.py"), [
      DATA,
      DIR,
      "1",
      String(threadCount()),
      dump ? "1" : "0",
      String(r),
    ]);
    base.times.push(b.times[0]);
    base.peak_kib = Math.max(base.peak_kib, b.peak_kib);
    base.clusters = b.clusters;
    process.stderr.write(
      `baseline run ${r + 1}/${RUNS}: ${b.times[0].toFixed(2)} s (load1 ${loads.at(-1)?.toFixed(1)})\n`,
    );
  }
  return { ours, base, loads };
}

/** Cluster numbers relabelled by first appearance, so that equal partitions compare equal. */
function canonical(labels: Int32Array): Int32Array {
  const map = new Map<number, number>();
  return labels.map((c) => {
    let v = map.get(c);
    if (v === undefined) {
      v = map.size + 1;
      map.set(c, v);
    }
    return v;
  });
}

/** Neurons whose cluster (as a set of neurons) differs between the two partitions. */
function neuronsInDifferentClusters(a: Int32Array, b: Int32Array): number {
  const key = (labels: Int32Array) => {
    const members = new Map<number, number[]>();
    labels.forEach((c, i) => {
      const m = members.get(c) ?? [];
      m.push(i);
      members.set(c, m);
    });
    return Array.from(labels, (c) => members.get(c)!.join(","));
  };
  const ka = key(a);
  const kb = key(b);
  let differ = 0;
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) differ++;
  return differ;
}

interface Comparison {
  identical: boolean;
  sameNumbering: boolean;
  differing: { threshold: number; neurons: number; oursClusters: number; baselineClusters: number }[];
  maxDistanceDiff: number;
  closestHeightToThreshold: number;
}

async function compare(): Promise<Comparison> {
  const n = NEURONS;
  const ours = new Int32Array((await readNpyData(join(DIR, "ours_labels.npy"))).buffer);
  const base = new Int32Array((await readNpyData(join(DIR, "baseline_labels.npy"))).buffer);
  const differing: Comparison["differing"] = [];
  let sameNumbering = true;
  DEFAULT_THRESHOLDS.forEach((t, k) => {
    const a = ours.subarray(k * n, (k + 1) * n);
    const b = base.subarray(k * n, (k + 1) * n);
    if (a.some((v, i) => v !== b[i])) sameNumbering = false;
    const ca = canonical(a);
    const cb = canonical(b);
    if (ca.some((v, i) => v !== cb[i])) {
      differing.push({
        threshold: t,
        neurons: neuronsInDifferentClusters(a, b),
        oursClusters: Math.max(...a),
        baselineClusters: Math.max(...b),
      });
    }
  });
  const dOurs = new Float64Array((await readFile(join(DIR, "ours_distances.f64"))).buffer.slice(0));
  const dBase = new Float64Array((await readNpyData(join(DIR, "baseline_distances.npy"))).buffer);
  let maxDistanceDiff = 0;
  if (dOurs.length === condensedLength(n) && dBase.length === dOurs.length) {
    for (let i = 0; i < dOurs.length; i++)
      maxDistanceDiff = Math.max(maxDistanceDiff, Math.abs(dOurs[i] - dBase[i]));
  } else {
    maxDistanceDiff = Number.NaN;
  }
  const heights = new Float64Array((await readNpyData(join(DIR, "baseline_heights.npy"))).buffer);
  let closest = Number.POSITIVE_INFINITY;
  for (const h of heights) for (const t of DEFAULT_THRESHOLDS) closest = Math.min(closest, Math.abs(h - t));
  return {
    identical: differing.length === 0,
    sameNumbering,
    differing,
    maxDistanceDiff,
    closestHeightToThreshold: closest,
  };
}

async function main(): Promise<void> {
  await mkdir(DIR, { recursive: true });
  if (!existsSync(DATA)) {
    process.stderr.write(`generating ${TOKENS} x ${NEURONS} synthetic activations → ${DATA}\n`);
    await generate();
  }
  process.stderr.write(
    `machine: ${JSON.stringify(machineInfo())}; ${RUNS} run(s) per side, alternating, ${threadCount()} threads\n`,
  );
  const hasPython = pythonHas(["numpy", "scipy"]);
  const { ours, base, loads } = await interleaved(hasPython);
  const oursSec = median(ours.times);
  if (!hasPython) {
    const line = benchLine("cluster", oursSec, null, {
      neurons: NEURONS,
      tokens: TOKENS,
      peak_mb_ours: ours.peak_kib / 1024,
    });
    await appendResult("cluster", {
      lines: [line],
      ours: ours.times,
      baseline: null,
      neurons: NEURONS,
      tokens: TOKENS,
      loads,
    });
    return;
  }
  const baseSec = median(base.times);
  const cmp = await compare();
  for (const d of cmp.differing) {
    process.stderr.write(
      `t=${d.threshold}: ${d.neurons} neurons in different clusters (ours ${d.oursClusters} clusters, ` +
        `baseline ${d.baselineClusters})\n`,
    );
  }
  process.stderr.write(
    `max |d_ours − d_numpy| = ${cmp.maxDistanceDiff.toExponential(2)}; closest baseline merge height to a ` +
      `threshold: ${cmp.closestHeightToThreshold.toExponential(2)}; same cluster numbers: ${cmp.sameNumbering}\n` +
      `clusters per t: ours ${ours.clusters.join(" ")} | baseline ${base.clusters.join(" ")}\n`,
  );
  // Runs alternate, so run k of each side saw about the same machine: the median of the per-pair
  // ratios shrugs off a slow spell that hits only some runs (the headline stays the ratio of medians).
  const pairRatios = ours.times.map((t, k) => base.times[k] / t);
  const extra = {
    pair_ratio_median: median(pairRatios),
    identical: cmp.identical,
    neurons: NEURONS,
    tokens: TOKENS,
    peak_mb_ours: ours.peak_kib / 1024,
    peak_mb_baseline: base.peak_kib / 1024,
    max_dist_diff: cmp.maxDistanceDiff,
    load1_min: Math.min(...loads),
    load1_max: Math.max(...loads),
  };
  const line = benchLine("cluster", oursSec, baseSec, extra);
  await appendResult("cluster", {
    lines: [line],
    ours: ours.times,
    baseline: base.times,
    ratio: baseSec / oursSec,
    pairRatios,
    ...extra,
    differing: cmp.differing,
    sameNumbering: cmp.sameNumbering,
    closestHeightToThreshold: cmp.closestHeightToThreshold,
    clustersOurs: ours.clusters,
    clustersBaseline: base.clusters,
    threads: threadCount(),
    loadsBeforeEachRun: loads,
    python: PYTHON,
  });
}

if (process.argv.includes("--worker")) await worker();
else await main();
