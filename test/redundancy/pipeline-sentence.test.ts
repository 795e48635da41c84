import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { openPipelineSource } from "../../src/redundancy/pipeline/input/index.js";
import { generatedControl } from "../../src/redundancy/pipeline/input/sentence.js";
import { decodeIdRanges } from "../../src/redundancy/pipeline/results.js";
import { InputError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { makeSentenceTasks, runPipeline } from "./pipeline-helpers.js";

/**
 * Sentence-level tasks: one sentence vector per row (devign format), and pairs whose rows are the
 * concatenation [v(a); v(b)] of two sentence stores (CoSQA format), over tiny-roberta (64 neurons per
 * side). The checks are about layout (neuron ids, layers on both sides), the generated control task
 * and the inputs' errors; the tiny random model's accuracies mean nothing.
 */
let dir = "";
let tasks: Awaited<ReturnType<typeof makeSentenceTasks>>;
let single: Awaited<ReturnType<typeof runPipeline>>;
let pair: Awaited<ReturnType<typeof runPipeline>>;

const withoutSeconds = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === "seconds" ? undefined : x)));

beforeAll(async () => {
  process.env.CODENEURONS_QUIET = "1";
  dir = await mkdtemp(join(tmpdir(), "cn-pipeline-sentence-"));
  tasks = await makeSentenceTasks(join(dir, "data"));
  single = await runPipeline(tasks.sentence, { out: join(dir, "single"), quiet: true });
  pair = await runPipeline(tasks.pair, { out: join(dir, "pair"), quiet: true });
});

describe("redundancy pipeline on sentence-level tasks", () => {
  it("single sentences: every step, 64 neurons, a generated per-sentence control task", () => {
    expect(single.input.kind).toBe("sentence");
    expect(single.input.rows).toEqual({ train: 80, valid: 30, test: 30 });
    expect(single.totalNeurons).toBe(64);
    expect(single.input.classes).toEqual(["0", "1"]);
    expect(single.skipped).toEqual([]);
    expect(single.input.control).toMatch(/^generated \(seed 1, one label per distinct sentence\)/);
    const c = single.steps.control!;
    const o = single.steps.oracle!.probe;
    // Binary task: F1 of class "1" is reported; selectivity is real − control accuracy (rounding only).
    expect(o.test.f1).toBeDefined();
    expect(Math.abs(c.selectivity.test - (o.test.accuracy - c.probe.test.accuracy))).toBeLessThan(1e-12);
    expect(single.summary.map((s) => s.name)).toContain("LS+CC+LCA");
  });

  it("pairs: [v(a); v(b)] columns, layers taken on both sides, b-side ids offset by (L+1)·hidden", () => {
    expect(pair.input.kind).toBe("pair");
    expect(pair.input.sides).toBe(2);
    expect(pair.input.sideOffset).toBe(64);
    expect(pair.totalNeurons).toBe(128);
    expect(pair.steps.independent!.layers.every((l) => l.probe.neurons === 32)).toBe(true);
    expect(pair.steps.incremental!.layers.map((l) => l.probe.neurons)).toEqual([32, 64, 96, 128]);
    for (const s of pair.steps.ls!.selections) expect(s.neurons).toBe(s.layers.length * 32);
    const ids = pair.steps.cc!.thresholds.flatMap((t) => decodeIdRanges(t.ids));
    expect(ids.every((id) => id >= 0 && id < 128)).toBe(true);
    // Clusters of a kept-layer prefix only hold ids of those layers, on either side.
    for (const g of pair.steps.ccfs!.groups) {
      const layerOf = (id: number) => Math.floor((id % 64) / 16);
      for (const t of g.thresholds)
        expect(decodeIdRanges(t.ids).every((id) => layerOf(id) < g.layers.length)).toBe(true);
    }
  });

  it("the b side can also be given as its own store directory; the results are the same", async () => {
    const r = await runPipeline(
      { store: join(tasks.pair.store, "a"), storeB: join(tasks.pair.store, "b"), task: tasks.pair.task },
      { out: join(dir, "pair-b"), quiet: true, steps: ["oracle", "ls"] },
    );
    // Same stores and task files: the same fingerprint, cache keys and numbers (only timings differ).
    expect(r.input.fingerprint).toBe(pair.input.fingerprint);
    expect(withoutSeconds(r.steps.oracle)).toEqual(withoutSeconds(pair.steps.oracle));
    expect(withoutSeconds(r.steps.ls)).toEqual(withoutSeconds(pair.steps.ls));
  });

  it("bad inputs name the file: missing b stores, another task's store, no task files", async () => {
    await expect(openPipelineSource({ store: tasks.sentence.store, task: tasks.pair.task })).rejects.toThrow(
      /needs the stores of both sides/,
    );
    await expect(
      runPipeline(
        { store: join(tasks.pair.store, "b"), task: tasks.sentence.task },
        { out: join(dir, "x"), quiet: true, steps: ["oracle"] },
      ),
    ).rejects.toThrow(/train\.in:1.*sentence 0 is not the store's line 0/);
    await expect(openPipelineSource({ store: tasks.sentence.store, task: dir })).rejects.toThrow(
      /is not a task directory/,
    );
  });

  it("control label files: used when present; truncated or mutated files give an InputError, never a crash", async () => {
    const task = join(dir, "data", "sentence", "task");
    const control = join(task, "control");
    mkdirSync(control, { recursive: true });
    const counts = { train: 80, valid: 30, test: 30 };
    const valid = (n: number) => Array.from({ length: n }, (_, i) => (i % 3 === 0 ? "A" : "B")).join("\n");
    for (const [s, n] of Object.entries(counts)) writeFileSync(join(control, `${s}.label`), `${valid(n)}\n`);
    const ok = await openPipelineSource({ store: tasks.sentence.store, task });
    expect(ok.input.control).toBe(control);
    const data = await ok.load();
    // The one control probe (probe/control.ts) chooses among the real classes and the control labels.
    expect(data.control?.classes).toEqual(["0", "1", "A", "B"]);
    expect(Array.from(data.control!.y.test.slice(0, 4))).toEqual([2, 3, 3, 2]);
    ok.close();
    const rng = new Rng(5);
    const text = `${valid(80)}\n`;
    for (let trial = 0; trial < 40; trial++) {
      const cut = rng.int(text.length);
      const mutated =
        trial % 2 === 0
          ? text.slice(0, cut)
          : `${text.slice(0, cut)}${[" ", "\n", "\n\n", "x y", "\t"][rng.int(5)]}${text.slice(cut + 1)}`;
      writeFileSync(join(control, "train.label"), mutated);
      const source = await openPipelineSource({ store: tasks.sentence.store, task });
      try {
        await source.load();
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        expect((e as Error).message).toContain("train.label");
      } finally {
        source.close();
      }
    }
  });

  it("the generated control task gives each distinct sentence one label, drawn with the seed", () => {
    const splits = {
      train: { name: "train", a: [["a"], ["b"], ["a"], ["c"]], labels: ["0", "1", "0", "1"] },
      valid: { name: "valid", a: [["b"], ["d"]], labels: ["0", "1"] },
      test: { name: "test", a: [["a"]], labels: ["1"] },
    };
    const c = generatedControl(splits, ["0", "1"], "sentence", 3);
    expect(c.y.train[0]).toBe(c.y.train[2]);
    expect(c.y.valid[0]).toBe(c.y.train[1]);
    expect(c.y.test[0]).toBe(c.y.train[0]);
    expect(generatedControl(splits, ["0", "1"], "sentence", 3)).toEqual(c);
  });
});
