import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { log } from "../util/progress.js";
import { writeRunRecord } from "../util/run-record.js";
import { openCompressedModel } from "./model.js";
import { scoreSentences } from "./predict.js";
import {
  type CompressOptions,
  type CompressResult,
  locateInputs,
  runCompress,
  testSentences,
} from "./stage.js";

/**
 * What a compressed model buys in speed: it and the full model + oracle probe (the run's oracle set
 * compressed the same way, into a temporary directory: every block, every neuron, the oracle's probe,
 * outputs only the logits, so that the difference is only what the set let go) label the run's test
 * sentences, tokenization, windows, batching and word averaging included. One untimed warm-up each,
 * then `runs` timed runs each, alternating which goes first; medians.
 */
export interface SpeedComparison {
  runs: number;
  /** Lines run per timing, and their words. */
  sentences: number;
  words: number;
  /** Seconds of each timed run. */
  compressed: number[];
  full: number[];
  median: { compressed: number; full: number };
  /** median full / median compressed. */
  speedup: number;
  /** Blocks each computes. */
  blocks: { compressed: number; full: number };
}

export interface SpeedOptions {
  runs?: number;
  /** The source model, if not the recorded one. */
  model?: string;
  batchTokens?: number;
  threads?: number;
  quiet?: boolean;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function compareWithFullModel(
  results: string,
  compressed: string,
  opts: SpeedOptions = {},
): Promise<SpeedComparison> {
  const runs = opts.runs ?? 3;
  const tmp = mkdtempSync(join(tmpdir(), "codeneurons-oracle-"));
  try {
    log("compress: the full model + oracle probe, for the speed comparison");
    await runCompress({
      results,
      set: "oracle",
      out: tmp,
      model: opts.model,
      threads: opts.threads,
      quiet: true,
    });
    const inputs = await locateInputs(results);
    const ours = await openCompressedModel(compressed, { threads: opts.threads });
    const full = await openCompressedModel(tmp, { threads: opts.threads });
    try {
      const test = await testSentences(inputs, inputs.results.input.kind);
      const time = async (model: typeof ours) => {
        const t0 = performance.now();
        await scoreSentences(model, test.a, test.b, { batchTokens: opts.batchTokens, quiet: true });
        return (performance.now() - t0) / 1000;
      };
      await time(full);
      await time(ours);
      const times = { compressed: [] as number[], full: [] as number[] };
      for (let i = 0; i < runs; i++) {
        if (i % 2 === 0) {
          times.full.push(await time(full));
          times.compressed.push(await time(ours));
        } else {
          times.compressed.push(await time(ours));
          times.full.push(await time(full));
        }
      }
      const m = { compressed: median(times.compressed), full: median(times.full) };
      return {
        runs,
        sentences: test.a.length + (test.b?.length ?? 0),
        words: [...test.a, ...(test.b ?? [])].reduce((s, l) => s + l.length, 0),
        ...times,
        median: m,
        speedup: m.full / m.compressed,
        blocks: { compressed: ours.card.layers.blocks, full: full.card.layers.blocks },
      };
    } finally {
      await ours.release();
      await full.release();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * runCompress, then (with `speedRuns` > 0) the speed comparison. Its timings join the compress run's
 * in OUT/run-record.json (seconds: speed, speedCompressed and speedFull, the medians), with what was
 * timed in details.speed; timings are not results, so the card has none.
 */
export async function compressWithSpeed(
  opts: CompressOptions & { speedRuns?: number },
): Promise<CompressResult & { speed: SpeedComparison | null }> {
  const result = await runCompress(opts);
  if (!opts.speedRuns) return { ...result, speed: null };
  const t0 = performance.now();
  const speed = await compareWithFullModel(opts.results, result.out, {
    runs: opts.speedRuns,
    model: opts.model,
    batchTokens: opts.batchTokens,
    threads: opts.threads,
    quiet: opts.quiet,
  });
  const seconds = {
    ...result.seconds,
    speed: (performance.now() - t0) / 1000,
    speedCompressed: speed.median.compressed,
    speedFull: speed.median.full,
  };
  const { runs, sentences, words, blocks } = speed;
  await writeRunRecord(result.out, "compress", seconds, { speed: { runs, sentences, words, blocks } });
  return { ...result, seconds, speed };
}
