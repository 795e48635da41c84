import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { ActivationStore } from "../../src/store/index.js";
import { HF_LLM, hfLlmAvailable } from "../model/hf-llm/reference.js";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "..", "..");
const CLI = join(ROOT, "src", "cli", "main.ts");
const TSX = join(ROOT, "node_modules", ".bin", "tsx");
const work = mkdtempSync(join(tmpdir(), "cn-llm-run-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * `codeneurons run --model <LLM>` end to end (label → task → extract → probe → redundancy → concepts →
 * compress → report) on the tiny Llama (a decoder with BOS) and T5 encoder of hf-llm, on a small slice of the
 * bundled Java lines.
 */
describe.skipIf(!hfLlmAvailable())("codeneurons run on the LLM families", () => {
  for (const family of ["llama", "t5"]) {
    it(`${family}: the whole analysis completes and every stage writes its results`, async () => {
      const config = join(work, `${family}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          data: {
            language: "java",
            pretokenized: true,
            train: join(ROOT, "demo", "java", "train.in"),
            valid: join(ROOT, "demo", "java", "valid.in"),
            test: join(ROOT, "demo", "java", "test.in"),
          },
          task: { seed: 1, caps: [200, 50, 50], control: "distribution" },
          redundancy: { seed: 1, curves: "until-target" },
          report: { png: false },
        }),
      );
      const out = join(work, family);
      const model = join(HF_LLM, family, "model");
      const { stdout } = await run(
        TSX,
        [CLI, "run", "--model", model, "--config", config, "--out", out, "--quiet", "--json"],
        {
          cwd: ROOT,
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      const summary = JSON.parse(stdout) as Record<string, unknown>;
      expect(JSON.stringify(summary)).toContain(family === "llama" ? "llama" : "t5");
      for (const file of [
        "activations/train/index.json",
        "probe/probe.json",
        "redundancy/redundancy.json",
        "concepts/concepts.json",
        "report/index.html",
        // The LS+CC+LCA set as a standalone model (issue 14: the LLM families compress too).
        "compressed/ls-cc-lca/card.json",
        "compressed/ls-cc-lca/model.onnx",
      ]) {
        expect(existsSync(join(out, file)), file).toBe(true);
      }
      const store = await ActivationStore.open(join(out, "activations", "train"));
      expect(store.meta.modelType).toBe(family);
      expect(store.meta.layers).toEqual([0, 1, 2, 3]);
      const redundancy = JSON.parse(readFileSync(join(out, "redundancy", "redundancy.json"), "utf8"));
      expect(redundancy.totalNeurons).toBe(4 * 64);
      const card = JSON.parse(readFileSync(join(out, "compressed", "ls-cc-lca", "card.json"), "utf8"));
      expect(card.source.modelType).toBe(family);
      const row = redundancy.summary.find((r: { name: string }) => r.name === "LS+CC+LCA");
      expect(card.accuracy.measured.accuracy.toFixed(4)).toBe(row.accuracy.toFixed(4));
      expect(card.warnings).toEqual([]);
    }, 120_000);
  }
});
