/**
 * `npx tsx bench/op-profile.ts [--batch 8 --seq 128 --runs 5 --layers all|last]`: where onnxruntime's
 * time goes inside the forward pass of the bench's random BERT-base (bench/random-bert.ts), per
 * operator type, from onnxruntime's own profiler (session option enableProfiling): the share of each
 * op type in the node time of the timed runs, and the GFLOP/s of the MatMul / Gemm nodes alone.
 * A diagnostic for issue 15 (what to fuse or change next), not a benchmark with a baseline.
 */
import { readFileSync } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { threadCount } from "../src/linalg/runtime.js";
import { loadModel } from "../src/model/load.js";
import { Rng } from "../src/util/rng.js";
import { sharedData } from "../test/data/shared.js";
import { WORK_DIR } from "./common.js";
import { ensureRandomBert, RANDOM_BERT_DIR } from "./random-bert.js";

const { values: args } = parseArgs({
  options: {
    batch: { type: "string", default: "8" },
    seq: { type: "string", default: "128" },
    runs: { type: "string", default: "5" },
    layers: { type: "string", default: "all" },
  },
});

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string; output_type_shape?: unknown };
}

async function main(): Promise<void> {
  await ensureRandomBert(readFileSync(sharedData("java-token-lines/train.in"), "utf8").split("\n"));
  const batch = Number(args.batch);
  const seq = Number(args.seq);
  const runs = Number(args.runs);
  const dir = join(WORK_DIR, "op-profile");
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const model = await loadModel(RANDOM_BERT_DIR);
  const layerCount = model.config.numLayers;
  const layers = args.layers === "last" ? [layerCount] : Array.from({ length: layerCount + 1 }, (_, i) => i);
  const runner = await model.createRunner({
    layers,
    threads: threadCount(),
    session: { enableProfiling: true, profileFilePrefix: join(dir, "ort") },
  });
  const rng = new Rng(5);
  const ids = new BigInt64Array(batch * seq);
  for (let i = 0; i < ids.length; i++) ids[i] = BigInt(1000 + rng.int(20000));
  const input = { batch, seq, inputIds: ids };
  await runner.run(input); // warm-up
  const t0 = performance.now();
  for (let r = 0; r < runs; r++) await runner.run(input);
  const wall = (performance.now() - t0) / 1000 / runs;
  await runner.release();
  const file = (await readdir(dir)).find((f) => f.endsWith(".json"));
  if (!file) throw new Error(`no onnxruntime profile in ${dir}`);
  const events = JSON.parse(readFileSync(join(dir, file), "utf8")) as ProfileEvent[];
  const nodes = events.filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time"));
  // The warm-up's nodes come first: keep the last `runs` runs' worth.
  const perRun = nodes.length / (runs + 1);
  const timed = nodes.slice(Math.round(perRun));
  const byOp = new Map<string, number>();
  let total = 0;
  for (const e of timed) {
    const op = e.args?.op_name ?? "?";
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    total += e.dur;
  }
  const h = model.config.hiddenSize;
  const inter = model.config.intermediateSize;
  const tokens = batch * seq;
  const gemmFlops = layerCount * 2 * tokens * (4 * h * h + 2 * h * inter);
  const gemmUs = [...byOp].filter(([op]) => /MatMul|Gemm|FusedMatMul|Attention/.test(op));
  process.stdout.write(
    `batch ${batch} × seq ${seq}, ${layers.length} outputs, ${threadCount()} threads: ${wall.toFixed(3)} s per forward pass (wall), node time ${(total / 1e6 / runs).toFixed(3)} s\n`,
  );
  for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]))
    process.stdout.write(
      `  ${op.padEnd(28)} ${(us / 1e6 / runs).toFixed(4).padStart(8)} s  ${((100 * us) / total).toFixed(1).padStart(5)}%\n`,
    );
  const matmulUs = gemmUs.reduce((s, [, us]) => s + us, 0) / runs;
  process.stdout.write(
    `projections + feed-forward: ${(gemmFlops / 1e9).toFixed(1)} GFLOP per pass; MatMul/Gemm/Attention nodes ${(matmulUs / 1e6).toFixed(3)} s → ${(gemmFlops / (matmulUs / 1e6) / 1e9).toFixed(1)} GFLOP/s\n`,
  );
}

await main();
