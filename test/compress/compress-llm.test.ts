import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPRESSED_CARD_SCHEMA, type SetName } from "../../src/compress/format.js";
import { openCompressedModel } from "../../src/compress/model.js";
import { runPredict } from "../../src/compress/predict.js";
import { locateInputs, runCompress, testSentences } from "../../src/compress/stage.js";
import { readTask } from "../../src/data/task/tsv.js";
import { extractRows } from "../../src/extract/extract.js";
import { parseRedundancyResults } from "../../src/redundancy/pipeline/results.js";
import { closeSplitStores, openSplitStores, readTaskActivations } from "../../src/store/index.js";
import { HF_LLM, hfLlmAvailable } from "../model/hf-llm/reference.js";
import { makeCompressRun } from "./make-run.js";

/**
 * Issue 14 on the block-streamed LLM families: a small real run (make-run.ts: the demo's Java lines,
 * token task, both sites) on the tiny checkpoints of hf-llm — Llama (RoPE, GQA, RMSNorm), the T5
 * encoder (relative position buckets) and GPT-NeoX (parallel residual, partial rotary) — and its
 * sets compressed: the compressed model labels the run's test rows from their words and scores what
 * the redundancy run reported, to 4 decimals, agreeing with the run's probe on every row; its kept
 * units, averaged per word, equal the run's stored activations of the test rows to 1e-4; predict's
 * labels of the test file give the same accuracy.
 */
const FAMILIES = ["llama", "t5", "gpt_neox"] as const;
/** The Oracle models keep their weights in ONNX external data (the path of checkpoints above 2 GiB). */
const CASES: { site: "hidden" | "mlp"; set: SetName; row: string; results: string; external: boolean }[] = [
  { site: "hidden", set: "ls+cc+lca", row: "LS+CC+LCA", results: "", external: false },
  { site: "hidden", set: "oracle", row: "Oracle", results: "", external: true },
  { site: "mlp", set: "lca", row: "LCA", results: "redundancy-mlp", external: false },
];
let dir = "";

beforeAll(async () => {
  if (!hfLlmAvailable()) return;
  dir = mkdtempSync(join(tmpdir(), "cn-compress-llm-"));
  for (const family of FAMILIES) await makeCompressRun(join(dir, family), join(HF_LLM, family, "model"));
}, 600_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hfLlmAvailable())("compress and predict on the LLM families", () => {
  for (const family of FAMILIES) {
    for (const c of CASES) {
      it(`${family}, ${c.site} site, ${c.set}: the compressed model scores what the run reported`, async () => {
        const results = join(dir, family, c.results);
        const reported = parseRedundancyResults(
          JSON.parse(readFileSync(join(results, c.results ? "" : "redundancy", "redundancy.json"), "utf8")),
          "redundancy.json",
        );
        const row = reported.summary.find((s) => s.name === c.row)!;
        const out = join(dir, family, "c", `${c.site}-${c.set}`);
        const { card } = await runCompress({
          results,
          set: c.set,
          out,
          quiet: true,
          externalData: c.external ? "always" : "auto",
        });
        expect(card.files.externalData).toBe(c.external ? "model.onnx.data" : null);
        if (c.external) expect(statSync(join(out, "model.onnx.data")).size).toBeGreaterThan(card.files.bytes);
        expect(COMPRESSED_CARD_SCHEMA.parse(card)).toEqual(card);
        expect(card.source.modelType).toBe(family);
        expect(card.set.site).toBe(c.site);
        expect(card.files.tokenizer).toContain("tokenizer.json");
        expect(card.input.causal).toBe(family !== "t5");
        expect(card.layers.of).toBe(3);
        expect(card.layers.blocks).toBe(Math.max(...card.layers.used));
        expect(card.accuracy.measured.rows).toBe(reported.input.rows.test);
        expect(card.accuracy.measured.accuracy.toFixed(4)).toBe(row.accuracy.toFixed(4));
        expect(card.accuracy.measured.agreement).toBe(card.accuracy.measured.rows);
        expect(card.warnings).toEqual([]);

        // The kept units as the written graph computes them, averaged per word by extraction's own
        // code, against the run's stored activations of the same test rows.
        const inputs = await locateInputs(results);
        const test = await testSentences(inputs, "token");
        const model = await openCompressedModel(out, { output: "neurons" });
        let kept: Awaited<ReturnType<typeof extractRows>>;
        try {
          kept = await extractRows(model.activations, test.a, {
            aggregation: card.input.aggregation,
            quiet: true,
          });
        } finally {
          await model.release();
        }
        const task = await readTask(inputs.task);
        const stores = await openSplitStores(inputs.store);
        let worst = 0;
        try {
          const stored = await readTaskActivations(
            stores.test,
            task.test,
            { neurons: card.neurons.ids, site: c.site },
            inputs.task,
          );
          const K = card.neurons.ids.length;
          expect(kept.blocks[0].dim).toBe(K);
          for (let i = 0; i < test.rows; i++) {
            const row = test.rowOf(kept, i);
            for (let k = 0; k < K; k++) {
              const d = Math.abs(kept.blocks[0].data[row * K + k] - stored.data[i * K + k]);
              worst = Math.max(worst, Number.isNaN(d) ? Number.POSITIVE_INFINITY : d);
            }
          }
        } finally {
          closeSplitStores(stores);
        }
        expect(worst).toBeLessThan(1e-4);

        if (c.set !== "ls+cc+lca") return;
        // predict on the whole test file: the task's test rows get the run's accuracy.
        const p = await runPredict({ model: out, input: join(dir, family, "data", "test.in"), quiet: true });
        const label = new Map<string, string>();
        for (const line of p.text.trim().split("\n").slice(1)) {
          const f = line.split("\t");
          label.set(`${f[0]}:${f[1]}`, f[3]);
        }
        let right = 0;
        task.test.label.forEach((l, i) => {
          if (label.get(`${task.test.sentence[i]}:${task.test.word[i]}`) === l) right++;
        });
        expect((right / task.test.label.length).toFixed(4)).toBe(row.accuracy.toFixed(4));
      });
    }
  }
});
