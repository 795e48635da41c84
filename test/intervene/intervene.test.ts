import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseInterventionResults } from "../../src/intervene/format.js";
import { matchedRandomSet, runInterventionStage, setUpIntervention } from "../../src/intervene/stage.js";
import { neuronSpace } from "../../src/util/neurons.js";
import { Rng } from "../../src/util/rng.js";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "..", "..");
const TSX = join(ROOT, "node_modules", ".bin", "tsx");
const CLI = join(ROOT, "src", "cli", "main.ts");
const work = mkdtempSync(join(tmpdir(), "cn-intervene-"));
const RESULTS = join(work, "demo");

interface Reference {
  options: { sweep: { class: string; ks: number[] }; controls: number; mode: string };
  rows: number[];
  logProb: number[][];
}
const REFERENCE = JSON.parse(
  readFileSync(join(ROOT, "test", "fixtures", "intervene", "reference.json"), "utf8"),
) as Reference;

/**
 * `codeneurons intervene` on the demo's results (the bundled RoBERTa masked LM): per-row log-probabilities
 * of the true first subword, with and without interventions, against PyTorch forward hooks
 * (bench/intervene_baseline.py → test/fixtures/intervene/reference.json; float32 on both sides, measured
 * agreement 4e-6, tolerance 1e-4); seeded controls; arguments checked before any work.
 */
beforeAll(async () => {
  await run(TSX, [CLI, "run", "--demo", "--out", RESULTS, "--quiet"], { cwd: ROOT, maxBuffer: 64 << 20 });
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("codeneurons intervene", () => {
  it("reproduces PyTorch forward hooks: baseline, the sweep's experiments and their controls (1e-4)", async () => {
    const opts = { results: RESULTS, ...REFERENCE.options, out: join(work, "ref"), quiet: true };
    const results = await runInterventionStage(opts);
    const setup = await setUpIntervention(opts);
    try {
      const sets = [[] as number[], ...results.experiments.flatMap((e) => [e.ids, ...e.controls.sets])];
      expect(sets.length).toBe(REFERENCE.logProb.length);
      let worst = 0;
      for (const [x, ids] of sets.entries()) {
        const scores = await setup.score(ids.length === 0 ? [] : await setup.editsOf(ids));
        REFERENCE.rows.forEach((row, i) => {
          worst = Math.max(worst, Math.abs(scores.logProb[row] - REFERENCE.logProb[x][i]));
        });
      }
      expect(worst).toBeLessThan(1e-4);
      // The experiments change something: zeroing NUMBER's top neuron moves some log-probabilities.
      expect(REFERENCE.logProb[1].some((v, i) => Math.abs(v - REFERENCE.logProb[0][i]) > 1e-3)).toBe(true);
    } finally {
      await setup.close();
    }
  }, 120_000);

  it("scale:1 is exactly the baseline; controls are reproducible from the seed and match layers", async () => {
    const base = {
      results: RESULTS,
      neurons: ["top:NUMBER:5"],
      controls: 3,
      out: join(work, "a"),
      quiet: true,
    };
    const a = await runInterventionStage({ ...base, mode: "scale:1", seed: 7 });
    expect(a.experiments[0].after).toEqual(a.baseline);
    const b = await runInterventionStage({ ...base, mode: "scale:1", seed: 7, out: join(work, "b") });
    expect(b.experiments[0].controls.sets).toEqual(a.experiments[0].controls.sets);
    const c = await runInterventionStage({ ...base, mode: "scale:1", seed: 8, out: join(work, "c") });
    expect(c.experiments[0].controls.sets).not.toEqual(a.experiments[0].controls.sets);
    const space = neuronSpace("hidden", a.width);
    const layerCounts = (ids: readonly number[]) =>
      ids.map((id) => Math.floor(id / space.width)).sort((x, y) => x - y);
    for (const set of a.experiments[0].controls.sets) {
      expect(layerCounts(set)).toEqual(layerCounts(a.experiments[0].ids));
      expect(set.some((id) => a.experiments[0].ids.includes(id))).toBe(false);
    }
    expect(matchedRandomSet([3, 300, 301], space, [0, 1], new Rng(1))).toEqual(
      matchedRandomSet([3, 300, 301], space, [0, 1], new Rng(1)),
    );
  }, 120_000);

  it("refuses bad arguments before any forward pass, naming the argument", async () => {
    const base = { results: RESULTS, mode: "zero", out: join(work, "bad"), quiet: true };
    await expect(runInterventionStage({ ...base, neurons: ["top:NOPE:3"] })).rejects.toThrow(
      /--neurons: class 'NOPE' is not one of the probe's classes/,
    );
    await expect(runInterventionStage({ ...base, neurons: ["top:NUMBER:100000"] })).rejects.toThrow(
      /--neurons top:NUMBER:100000: K must be 1 … \d+/,
    );
    await expect(runInterventionStage({ ...base, neurons: ["L9:3"] })).rejects.toThrow(/layer/);
    await expect(runInterventionStage({ ...base, neurons: ["L1:9999"] })).rejects.toThrow(/unit 9999/);
    await expect(runInterventionStage({ ...base, neurons: ["concept:NOPE"] })).rejects.toThrow(
      /no concept neurons for 'NOPE'/,
    );
    await expect(runInterventionStage({ ...base, mode: "scale:x", neurons: ["L1:3"] })).rejects.toThrow(
      /--mode/,
    );
    await expect(
      runInterventionStage({ ...base, neurons: ["L1:3"], evaluation: "causal-lm" }),
    ).rejects.toThrow(/--evaluation causal-lm: roberta is a masked LM/);
    await expect(runInterventionStage({ ...base })).rejects.toThrow(/give --neurons and\/or --sweep/);
    await expect(
      runInterventionStage({ ...base, sweep: { class: "NUMBER", ks: [1, 100000] } }),
    ).rejects.toThrow(/--ks 100000: larger than the class's ranking/);
  }, 60_000);

  it("the CLI writes intervention.json that its schema reads back and prints the effect", async () => {
    const out = join(work, "cli");
    const { stdout } = await run(
      TSX,
      [
        CLI,
        "intervene",
        "--results",
        RESULTS,
        "--neurons",
        "top:STRING:5",
        "--controls",
        "2",
        "--out",
        out,
        "--quiet",
      ],
      { cwd: ROOT },
    );
    expect(stdout).toMatch(/intervene \(masked-lm, zero, 2 random controls\)/);
    expect(stdout).toMatch(/top:STRING:5 \(5 neurons\): \w+ [\d.]+% → [\d.]+% \(random: /);
    const file = join(out, "intervention.json");
    const results = parseInterventionResults(JSON.parse(readFileSync(file, "utf8")), file);
    expect(results.experiments[0].neurons).toHaveLength(5);
    expect(results.experiments[0].neurons[0]).toMatch(/^L\d+:\d+$/);
  }, 120_000);
});
