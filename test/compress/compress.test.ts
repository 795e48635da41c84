import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPRESSED_CARD_SCHEMA, PREDICTIONS_SCHEMA, type SetName } from "../../src/compress/format.js";
import { openCompressedModel } from "../../src/compress/model.js";
import { runPredict, scoreSentences } from "../../src/compress/predict.js";
import { runCompress } from "../../src/compress/stage.js";
import { readTask } from "../../src/data/task/tsv.js";
import { parseRedundancyResults, type RedundancyResults } from "../../src/redundancy/pipeline/results.js";
import { InputError } from "../../src/util/errors.js";
import { makeCompressRun, ROOT } from "./make-run.js";

/**
 * Issue 14: a run's selected set as a standalone model. Every set of a small real run (make-run.ts) is
 * compressed; the compressed model labels the run's test rows from their words and must score what the
 * redundancy run reported for the set, to 4 decimals (it agrees with the run's probe row by row), and
 * predict's labels of the whole test file must give the same accuracy.
 */
let dir = "";
let results: RedundancyResults;
const SETS: SetName[] = ["ls+cc+lca", "lca", "cc", "ls", "oracle"];
const ROW: Record<SetName, string> = {
  "ls+cc+lca": "LS+CC+LCA",
  lca: "LCA",
  cc: "CC",
  ls: "LS",
  oracle: "Oracle",
};
const exec = promisify(execFile);
const CLI = ["--import", "tsx", join(ROOT, "src", "cli", "main.ts")];
const ENV = { ...process.env, CODENEURONS_QUIET: "1" };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cn-compress-"));
  await makeCompressRun(dir);
  results = parseRedundancyResults(
    JSON.parse(readFileSync(join(dir, "redundancy", "redundancy.json"), "utf8")),
    "redundancy.json",
  );
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function rowOf(r: RedundancyResults, name: string) {
  const row = r.summary.find((s) => s.name === name);
  if (!row) throw new Error(`no ${name} row`);
  return row;
}

describe("codeneurons compress: the compressed model scores what the run reported", () => {
  for (const set of SETS) {
    it(`${set}: test accuracy equal to the redundancy run's to 4 decimals, same rows`, async () => {
      const r = await runCompress({ results: dir, set, out: join(dir, "c", set), quiet: true });
      const card = r.card;
      expect(COMPRESSED_CARD_SCHEMA.parse(card)).toEqual(card);
      const row = rowOf(results, ROW[set]);
      expect(card.accuracy.run.test).toBe(row.accuracy);
      expect(card.accuracy.measured.rows).toBe(results.input.rows.test);
      expect(card.accuracy.measured.accuracy.toFixed(4)).toBe(row.accuracy.toFixed(4));
      expect(card.accuracy.measured.agreement).toBe(card.accuracy.measured.rows);
      expect(card.warnings).toEqual([]);
      // The cut: the blocks computed are the highest layer the set's neurons come from.
      const layers = [...new Set(card.set.ids.map((id) => Math.floor(id / results.input.width)))];
      expect(card.layers.used).toEqual(layers.sort((a, b) => a - b));
      expect(card.layers.blocks).toBe(Math.max(...layers));
      expect(card.set.ids.length).toBe(row.neurons);
      expect(card.neurons.ids).toEqual([...new Set(card.set.ids)].sort((a, b) => a - b));
      expect(card.neurons.names[0]).toMatch(/^L\d+:\d+$/);
      expect(existsSync(join(r.out, "run-record.json"))).toBe(true);
    });
  }

  it("the MLP site: a set of MLP neurons (an output of `codeneurons redundancy`) scores as reported", async () => {
    const mlpResults = join(dir, "redundancy-mlp");
    const r = await runCompress({ results: mlpResults, set: "lca", out: join(dir, "c", "mlp"), quiet: true });
    const reported = parseRedundancyResults(
      JSON.parse(readFileSync(join(mlpResults, "redundancy.json"), "utf8")),
      "redundancy.json",
    );
    expect(r.card.set.site).toBe("mlp");
    expect(r.card.neurons.names[0]).toMatch(/^L\d+\.mlp:\d+$/);
    expect(r.card.accuracy.measured.accuracy.toFixed(4)).toBe(rowOf(reported, "LCA").accuracy.toFixed(4));
    expect(r.card.accuracy.measured.agreement).toBe(r.card.accuracy.measured.rows);
  });

  it("predict on the whole test file gives the run's accuracy on the task's test rows", async () => {
    const model = join(dir, "c", "ls+cc+lca");
    const out = join(dir, "predictions.tsv");
    await exec(
      "node",
      [...CLI, "predict", "--model", model, "--input", join(dir, "data", "test.in"), "--out", out],
      {
        env: ENV,
      },
    );
    const lines = readFileSync(out, "utf8").trim().split("\n");
    expect(lines[0].split("\t").slice(0, 5)).toEqual(["sentence", "word", "token", "label", "probability"]);
    const label = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const f = line.split("\t");
      label.set(`${f[0]}:${f[1]}`, f[3]);
      const probs = f.slice(5).map(Number);
      expect(Math.abs(probs.reduce((s, p) => s + p, 0) - 1)).toBeLessThan(1e-4);
      expect(Number(f[4])).toBe(Math.max(...probs));
    }
    const task = await readTask(join(dir, "task"));
    let right = 0;
    task.test.label.forEach((l, i) => {
      if (label.get(`${task.test.sentence[i]}:${task.test.word[i]}`) === l) right++;
    });
    const accuracy = right / task.test.label.length;
    expect(accuracy.toFixed(4)).toBe(rowOf(results, "LS+CC+LCA").accuracy.toFixed(4));

    const json = await runPredict({
      model,
      input: join(dir, "data", "test.in"),
      format: "json",
      quiet: true,
    });
    const file = PREDICTIONS_SCHEMA.parse(JSON.parse(json.text));
    expect(file.predictions.length).toBe(lines.length - 1);
    expect(file.predictions[0].label).toBe(lines[1].split("\t")[3]);
  });

  it("runs on plain onnxruntime: input_ids and attention_mask in, logits and the kept neurons out", async () => {
    const out = join(dir, "c", "ls+cc+lca");
    const card = COMPRESSED_CARD_SCHEMA.parse(JSON.parse(readFileSync(join(out, "card.json"), "utf8")));
    const session = await ort.InferenceSession.create(join(out, "model.onnx"));
    expect([...session.inputNames].sort()).toEqual(["attention_mask", "input_ids"]);
    const compressed = await openCompressedModel(out);
    try {
      const tok = compressed.activations.tokenizer;
      const words = ["public", "int", "x", "=", "42", ";"];
      const ids = [
        ...tok.prefixIds,
        ...words.flatMap((w, i) => tok.tokenizeWord(w, i === 0)),
        ...tok.suffixIds,
      ];
      const n = ids.length;
      // Two rows, the second padded: padding must not change the first row's logits.
      const padded = [...ids, ...ids.slice(0, n - 2), tok.padId, tok.padId];
      const mask = [...ids.map(() => 1), ...Array(n - 2).fill(1), 0, 0];
      const res = await session.run({
        input_ids: new ort.Tensor(
          "int64",
          BigInt64Array.from(padded, (v) => BigInt(v)),
          [2, n],
        ),
        attention_mask: new ort.Tensor(
          "int64",
          BigInt64Array.from(mask, (v) => BigInt(v)),
          [2, n],
        ),
      });
      const C = card.probe.classes.length;
      expect(res.logits.dims).toEqual([2, n, C]);
      expect(res.neurons.dims).toEqual([2, n, card.neurons.ids.length]);
      // The same words through predict: one-subword words' labels are their token's argmax.
      const scores = await scoreSentences(compressed, [words], undefined, { quiet: true });
      const logits = res.logits.data as Float32Array;
      let pos = tok.prefixIds.length;
      words.forEach((w, i) => {
        const pieces = tok.tokenizeWord(w, i === 0).length;
        if (pieces === 1) {
          const row = Array.from(logits.subarray(pos * C, (pos + 1) * C));
          expect(row.indexOf(Math.max(...row))).toBe(scores.labels[i]);
        }
        pos += pieces;
      });
    } finally {
      await compressed.release();
    }
  });
});

describe("codeneurons compress and predict: bad input", () => {
  it("a set the run did not compute names the step", async () => {
    await expect(
      runCompress({ results: join(dir, "redundancy-mlp"), set: "cc", out: join(dir, "x1"), quiet: true }),
    ).rejects.toThrow(/did not compute the CC set \(step 'cc'; it ran .*oracle/);
  });

  it("a directory that is not a results directory, and a model that is not the run's", async () => {
    await expect(runCompress({ results: join(dir, "task"), set: "lca", quiet: true })).rejects.toThrow(
      /neither a results directory of `codeneurons run`/,
    );
    const other = join(ROOT, "test", "fixtures", "models", "tiny-bert");
    await expect(
      runCompress({ results: dir, set: "lca", model: other, out: join(dir, "x2"), quiet: true }),
    ).rejects.toThrow(/tiny-bert is not the model of .*: bert with 2 layers × 16/);
  });

  it("results whose stores changed since the run: the refitted probe does not reproduce the run", async () => {
    const copy = mkdtempSync(join(tmpdir(), "cn-compress-changed-"));
    try {
      const r = JSON.parse(readFileSync(join(dir, "redundancy-mlp", "redundancy.json"), "utf8"));
      r.steps.lca.minimal.test.accuracy = 0.5;
      r.summary.find((s: { name: string }) => s.name === "LCA").accuracy = 0.5;
      writeFileSync(join(copy, "redundancy.json"), JSON.stringify(r));
      await expect(
        runCompress({ results: copy, set: "lca", out: join(copy, "c"), quiet: true }),
      ).rejects.toThrow(/refitted on the run's activations scores test .*says test 0.5/);
      expect(existsSync(join(copy, "c", "card.json"))).toBe(false);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it("refuses to write into a directory that is not a compressed model", async () => {
    await expect(
      runCompress({ results: dir, set: "lca", out: join(dir, "task"), quiet: true }),
    ).rejects.toThrow(/exists and is not a compressed model/);
  });

  it("predict: not a compressed model, a damaged model file, a missing tokenizer file, pairs on a word model", async () => {
    const input = join(dir, "data", "test.in");
    await expect(runPredict({ model: join(dir, "task"), input })).rejects.toThrow(
      /card\.json: not found: .* is not a compressed model/,
    );
    const copy = mkdtempSync(join(tmpdir(), "cn-compress-bad-"));
    try {
      const src = join(dir, "c", "lca");
      for (const f of ["card.json", "model.onnx", "tokenizer.json", "config.json", "tokenizer_config.json"])
        if (existsSync(join(src, f))) copyFileSync(join(src, f), join(copy, f));
      const card = JSON.parse(readFileSync(join(copy, "card.json"), "utf8"));
      card.files.tokenizer = card.files.tokenizer.filter((f: string) => existsSync(join(copy, f)));
      writeFileSync(join(copy, "card.json"), JSON.stringify(card));
      await expect(runPredict({ model: copy, input, inputB: input, quiet: true })).rejects.toThrow(
        /does not classify pairs/,
      );
      const bytes = readFileSync(join(copy, "model.onnx"));
      bytes[bytes.length - 5] ^= 0xff;
      writeFileSync(join(copy, "model.onnx"), bytes);
      const err = await runPredict({ model: copy, input }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(/model\.onnx: is not the model the card describes/);
      card.files.tokenizer.push("vocab.txt");
      writeFileSync(join(copy, "card.json"), JSON.stringify(card));
      await expect(runPredict({ model: copy, input })).rejects.toThrow(/names tokenizer file vocab\.txt/);
      writeFileSync(join(copy, "card.json"), "{ not json");
      await expect(runPredict({ model: copy, input })).rejects.toThrow(/card\.json:1/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it("the CLI: exit code 2 and one line for bad input, the card summary for a good run", async () => {
    const err = await exec("node", [...CLI, "compress", "--results", join(dir, "nope"), "--set", "lca"], {
      env: ENV,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toMatch(/codeneurons: error: .*nope/);
    const { stdout } = await exec(
      "node",
      [...CLI, "compress", "--results", dir, "--set", "ls", "--out", join(dir, "c", "cli"), "--quiet"],
      { env: ENV },
    );
    expect(stdout).toMatch(/layers: cut after block \d+ of 4/);
    expect(stdout).toMatch(/test accuracy: [\d.]+% on \d+ rows \(the run: [\d.]+%\)/);
  });
});
