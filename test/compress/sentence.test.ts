import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPredict } from "../../src/compress/predict.js";
import { runCompress } from "../../src/compress/stage.js";
import { extractActivations } from "../../src/extract/extract.js";
import { openActivationModel } from "../../src/extract/model.js";
import { runRedundancyPipeline } from "../../src/redundancy/pipeline/pipeline.js";
import { parseRedundancyResults } from "../../src/redundancy/pipeline/results.js";
import { HF_LLM, hfLlmAvailable } from "../model/hf-llm/reference.js";
import { MODEL, ROOT } from "./make-run.js";

/**
 * Sentence-level tasks: one label per line (an encoder's first-token vector, a decoder's last-token
 * one, as extraction takes them), and pairs (the concatenation [v(a); v(b)]). Small tasks over the
 * demo's Java lines with the bundled model and hf-llm's tiny Llama: does a line hold `return`
 * (sentence), are two lines the same line (pair). The compressed LCA set scores what the redundancy
 * run reported, row for row with the run's probe.
 */
let dir = "";
const SPLITS = { train: [0, 160], valid: [160, 220], test: [220, 280] } as const;
const SETTINGS = {
  seed: 1,
  curves: "until-target" as const,
  lambda1: 1e-3,
  lambda2: 1e-3,
  finePercentages: [0.02, 0.1, 0.3],
};

/** The bundled encoder (first-token vectors) and the tiny Llama of hf-llm (a decoder: last-token vectors). */
const MODELS: { name: string; dir: string; representation: "first" | "last" }[] = [
  { name: "encoder", dir: MODEL, representation: "first" },
  ...(hfLlmAvailable()
    ? [{ name: "llama", dir: join(HF_LLM, "llama", "model"), representation: "last" as const }]
    : []),
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cn-compress-sentence-"));
  const lines = readFileSync(join(ROOT, "demo", "java", "train.in"), "utf8")
    .split("\n")
    .filter(Boolean);
  for (const [split, [from, to]] of Object.entries(SPLITS)) {
    const a = lines.slice(from, to);
    // Pairs: every other line paired with itself, the rest with the line 7 further on.
    const b = a.map((l, i) => (i % 2 === 0 ? l : lines[from + ((i + 7) % (to - from))]));
    mkdirSync(join(dir, "sentence"), { recursive: true });
    mkdirSync(join(dir, "pair"), { recursive: true });
    writeFileSync(join(dir, "sentence", `${split}.in`), `${a.join("\n")}\n`);
    writeFileSync(
      join(dir, "sentence", `${split}.label`),
      `${a.map((l) => (l.split(" ").includes("return") ? "RETURN" : "OTHER")).join("\n")}\n`,
    );
    writeFileSync(join(dir, "pair", `${split}.a.in`), `${a.join("\n")}\n`);
    writeFileSync(join(dir, "pair", `${split}.b.in`), `${b.join("\n")}\n`);
    writeFileSync(
      join(dir, "pair", `${split}.label`),
      `${a.map((l, i) => (l === b[i] ? "SAME" : "DIFFERENT")).join("\n")}\n`,
    );
  }
  for (const m of MODELS) {
    const model = await openActivationModel(m.dir);
    const stores = join(dir, m.name, "stores");
    try {
      for (const split of Object.keys(SPLITS)) {
        const extract = (input: string, out: string) =>
          extractActivations(model, { input, out, level: "sentence", quiet: true });
        await extract(join(dir, "sentence", `${split}.in`), join(stores, "sentence", split));
        await extract(join(dir, "pair", `${split}.a.in`), join(stores, "pair", "a", split));
        await extract(join(dir, "pair", `${split}.b.in`), join(stores, "pair", "b", split));
      }
    } finally {
      await model.release();
    }
    for (const kind of ["sentence", "pair"])
      await runRedundancyPipeline(
        { store: join(stores, kind), task: join(dir, kind), seed: 1 },
        {
          out: join(dir, m.name, `redundancy-${kind}`),
          steps: ["oracle", "lca"],
          settings: SETTINGS,
          quiet: true,
        },
      );
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("compress and predict on sentence-level tasks", () => {
  for (const m of MODELS)
    for (const kind of ["sentence", "pair"] as const) {
      it(`${m.name}, ${kind}: the LCA set's compressed model scores what the run reported, and predict labels every ${kind}`, async () => {
        const results = join(dir, m.name, `redundancy-${kind}`);
        const reported = parseRedundancyResults(
          JSON.parse(readFileSync(join(results, "redundancy.json"), "utf8")),
          "redundancy.json",
        );
        const row = reported.summary.find((s) => s.name === "LCA")!;
        const out = join(dir, m.name, "c", kind);
        const { card } = await runCompress({ results, set: "lca", out, quiet: true });
        expect(card.input.kind).toBe(kind);
        expect(card.input.sentenceRepresentation).toBe(m.representation);
        expect(card.set.sides).toBe(kind === "pair" ? 2 : 1);
        expect(card.accuracy.measured.rows).toBe(SPLITS.test[1] - SPLITS.test[0]);
        expect(card.accuracy.measured.accuracy.toFixed(4)).toBe(row.accuracy.toFixed(4));
        expect(card.accuracy.measured.agreement).toBe(card.accuracy.measured.rows);

        const input = join(dir, kind, kind === "pair" ? "test.a.in" : "test.in");
        const inputB = kind === "pair" ? join(dir, kind, "test.b.in") : undefined;
        const p = await runPredict({ model: out, input, inputB, quiet: true });
        const rows = p.text.trim().split("\n");
        expect(rows[0].split("\t").slice(0, 3)).toEqual(["sentence", "label", "probability"]);
        expect(rows.length - 1).toBe(SPLITS.test[1] - SPLITS.test[0]);
        const labels = readFileSync(join(dir, kind, "test.label"), "utf8")
          .trim()
          .split("\n");
        const right = rows.slice(1).filter((r, i) => r.split("\t")[1] === labels[i]).length;
        expect((right / labels.length).toFixed(4)).toBe(row.accuracy.toFixed(4));
        if (kind === "pair")
          await expect(runPredict({ model: out, input, quiet: true })).rejects.toThrow(/classifies pairs/);
      });
    }
});
