/**
 * `npm run bench:latent`: Ward clustering of 20,000 token vectors of 768 dimensions cut at K = 500
 * (`codeneurons latent`'s clustering, src/latent/ward.ts) against ConceptX's, scikit-learn's
 * AgglomerativeClustering(linkage="ward"), on the same matrix in the same run. Each side runs in its
 * own process so that its peak RSS is its own (both include the 61 MB matrix); the sides alternate.
 *
 * The vectors imitate contextual token representations: word types (2,500) with centres in a rank-64
 * subspace, a shared rank-32 context component per token, isotropic noise, and 1% exact duplicates of
 * another token of the same type (the ties the merge order must break as scipy does).
 *
 * Options (environment): BENCH_RUNS (default 3) timed runs per side; BENCH_TOKENS, BENCH_DIM,
 * BENCH_CLUSTERS to change the problem. The data are written once under bench/work/latent/.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { cutTree } from "../src/latent/cut.js";
import { wardLinkageWithStats } from "../src/latent/ward.js";
import { matmul } from "../src/linalg/products.js";
import { threadCount } from "../src/linalg/runtime.js";
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

const TOKENS = Number(process.env.BENCH_TOKENS ?? 20000);
const DIM = Number(process.env.BENCH_DIM ?? 768);
const CLUSTERS = Number(process.env.BENCH_CLUSTERS ?? 500);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TYPES = 2500;
const SEED = 2022;
const DIR = join(WORK_DIR, "latent");
const DATA = join(DIR, `X-${TOKENS}x${DIM}-s${SEED}.npy`);

async function generate(): Promise<void> {
  const rng = new Rng(SEED);
  const normal = (rows: number, cols: number, scale = 1) => {
    const m = matrix(rows, cols);
    for (let i = 0; i < m.data.length; i++) m.data[i] = scale * rng.normal();
    return m;
  };
  const centres = await matmul(normal(TYPES, 64), normal(64, DIM, 0.5));
  const context = await matmul(normal(TOKENS, 32), normal(32, DIM, 0.3));
  const x = matrix(TOKENS, DIM);
  for (let t = 0; t < TOKENS; t++) {
    const type = t % TYPES;
    const copy = t >= TYPES && rng.next() < 0.01;
    for (let j = 0; j < DIM; j++) {
      x.data[t * DIM + j] = copy
        ? x.data[(t - TYPES) * DIM + j]
        : centres.data[type * DIM + j] + context.data[t * DIM + j] + 0.5 * rng.normal();
    }
  }
  await writeNpy(DATA, x.data, [TOKENS, DIM]);
}

interface SideResult {
  times: number[];
  /** CPU seconds of the timed part, all threads (the machine is shared: wall times vary with its load). */
  cpu: number[];
  peak_kib: number;
  scanned_rows?: number;
  scans?: number;
}

/** Our side, in a child process: one timed run (tree and cut), labels written for the comparison. */
async function worker(): Promise<void> {
  const x = readNpyF32(DATA);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const { tree, stats } = await wardLinkageWithStats(x);
  const labels = cutTree(tree, CLUSTERS);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const result: SideResult = {
    times: [seconds],
    cpu: [(cpu.user + cpu.system) / 1e6],
    peak_kib: process.resourceUsage().maxRSS,
    scanned_rows: stats.scannedRows,
    scans: stats.scans,
  };
  await writeNpy(join(DIR, "ours_labels.npy"), labels, [labels.length]);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runWorker(): Promise<SideResult> {
  const args = [...process.execArgv, join(BENCH_DIR, "latent.ts"), "--worker"];
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

async function readLabels(path: string): Promise<Int32Array> {
  const buf = await readFile(path);
  const headerLength = buf.readUInt16LE(8);
  return new Int32Array(
    buf.buffer.slice(buf.byteOffset + 10 + headerLength, buf.byteOffset + buf.byteLength),
  );
}

/** Whether two labelings are the same partition (equal up to renaming), and whether the numbers agree. */
function comparePartitions(a: Int32Array, b: Int32Array): { identical: boolean; sameNumbers: boolean } {
  if (a.length !== b.length) return { identical: false, sameNumbers: false };
  const ab = new Map<number, number>();
  const ba = new Map<number, number>();
  let identical = true;
  for (let i = 0; i < a.length; i++) {
    if ((ab.get(a[i]) ?? b[i]) !== b[i] || (ba.get(b[i]) ?? a[i]) !== a[i]) identical = false;
    ab.set(a[i], b[i]);
    ba.set(b[i], a[i]);
  }
  return { identical, sameNumbers: a.every((v, i) => v === b[i]) };
}

async function main(): Promise<void> {
  await mkdir(DIR, { recursive: true });
  if (!existsSync(DATA)) {
    process.stderr.write(`generating ${TOKENS} x ${DIM} synthetic token vectors → ${DATA}\n`);
    await generate();
  }
  process.stderr.write(
    `machine: ${JSON.stringify(machineInfo())}; ${RUNS} run(s) per side, alternating, ${threadCount()} threads\n`,
  );
  const hasPython = pythonHas(["numpy", "sklearn"]);
  const ours: SideResult = { times: [], cpu: [], peak_kib: 0 };
  const base: SideResult = { times: [], cpu: [], peak_kib: 0 };
  const loads: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    loads.push(loadavg()[0]);
    const o = await runWorker();
    ours.times.push(o.times[0]);
    ours.cpu.push(o.cpu[0]);
    ours.peak_kib = Math.max(ours.peak_kib, o.peak_kib);
    ours.scanned_rows = o.scanned_rows;
    ours.scans = o.scans;
    process.stderr.write(
      `ours run ${r + 1}/${RUNS}: ${o.times[0].toFixed(2)} s (load1 ${loads.at(-1)?.toFixed(1)})\n`,
    );
    if (!hasPython) continue;
    loads.push(loadavg()[0]);
    const labelsOut = r === 0 ? join(DIR, "baseline_labels.npy") : "-";
    const b = await runPythonBaseline<SideResult>(join(BENCH_DIR, "latent_baseline.py"), [
      DATA,
      String(CLUSTERS),
      labelsOut,
    ]);
    base.times.push(b.times[0]);
    base.cpu.push(b.cpu[0]);
    base.peak_kib = Math.max(base.peak_kib, b.peak_kib);
    process.stderr.write(
      `baseline run ${r + 1}/${RUNS}: ${b.times[0].toFixed(2)} s (load1 ${loads.at(-1)?.toFixed(1)})\n`,
    );
  }
  const oursSec = median(ours.times);
  const common = {
    tokens: TOKENS,
    dim: DIM,
    clusters: CLUSTERS,
    peak_mb_ours: ours.peak_kib / 1024,
  };
  if (!hasPython) {
    const line = benchLine("latent", oursSec, null, common);
    await appendResult("latent", { lines: [line], ours: ours.times, baseline: null, ...common, loads });
    return;
  }
  const cmp = comparePartitions(
    await readLabels(join(DIR, "ours_labels.npy")),
    await readLabels(join(DIR, "baseline_labels.npy")),
  );
  const baseSec = median(base.times);
  const extra = {
    identical: cmp.identical,
    peak_mb_ours: ours.peak_kib / 1024,
    peak_mb_baseline: base.peak_kib / 1024,
    same_numbers: cmp.sameNumbers,
    cpu_ours: median(ours.cpu),
    cpu_baseline: median(base.cpu),
    tokens: TOKENS,
    dim: DIM,
    clusters: CLUSTERS,
    scanned_rows: ours.scanned_rows ?? 0,
    scans: ours.scans ?? 0,
    load1_min: Math.min(...loads),
    load1_max: Math.max(...loads),
  };
  const line = benchLine("latent", oursSec, baseSec, extra);
  await appendResult("latent", {
    lines: [line],
    ours: ours.times,
    baseline: base.times,
    cpuOurs: ours.cpu,
    cpuBaseline: base.cpu,
    ratio: baseSec / oursSec,
    ...extra,
    threads: threadCount(),
    loadsBeforeEachRun: loads,
    python: PYTHON,
  });
}

if (process.argv.includes("--worker")) await worker();
else await main();
