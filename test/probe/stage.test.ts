import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseProbeWeights } from "../../src/concepts/stage.js";
import { readTaskSplit, type TaskRow, taskRows, writeTaskTsv } from "../../src/data/task/tsv.js";
import { parseProbe } from "../../src/probe/io.js";
import { LogisticProbe } from "../../src/probe/logistic.js";
import { parseNeuronList } from "../../src/probe/neuron-list.js";
import { runProbe } from "../../src/probe/stage.js";
import { InputError, UserError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { FIXTURE, makeResultsDir } from "../fixtures/report/make-results.js";

let dir = "";
let store = "";
let task = "";

/** A control task in the data helper's layout: each word type gets a fixed random class. */
async function writeControl(taskDir: string): Promise<void> {
  const rng = new Rng(3);
  const classes = ["IDENT", "KEYWORD", "MODIFIER", "NUMBER", "STRING", "TYPE"];
  const typeLabel = new Map<string, string>();
  await mkdir(join(taskDir, "control"), { recursive: true });
  for (const s of ["train", "valid", "test"]) {
    const rows: TaskRow[] = taskRows(await readTaskSplit(join(taskDir, `${s}.tsv`))).map((r) => {
      if (!typeLabel.has(r.token)) typeLabel.set(r.token, classes[rng.int(classes.length)]);
      return { ...r, label: typeLabel.get(r.token) ?? "IDENT" };
    });
    await writeTaskTsv(join(taskDir, "control", `${s}.tsv`), rows);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "probe-cli-"));
  await makeResultsDir(dir);
  store = join(dir, "activations");
  task = join(dir, "task");
  await writeControl(task);
  process.env.CODENEURONS_QUIET = "1";
});

describe("the probe stage (probe/stage.ts)", () => {
  it("grid search: writes probe, metrics and rankings; finds the planted neurons; selectivity", async () => {
    const out = join(dir, "grid");
    const { summary: s } = await runProbe({ store, task, out, selectivity: true, quiet: true });
    for (const f of ["probe.json", "metrics.json", "rankings.json"])
      expect(existsSync(join(out, f))).toBe(true);
    const n = FIXTURE.hidden * FIXTURE.layers.length;
    expect(s.neurons).toBe(n);
    expect(s.accuracy.test).toBeGreaterThan(s.interceptOnly.test);
    expect(s.selectivity?.test).toBeDefined();
    expect(s.accuracy.test - (s.controlAccuracy?.test ?? 1)).toBeCloseTo(
      s.selectivity?.test ?? Number.NaN,
      12,
    );
    const metrics = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
    expect(metrics.grid).toHaveLength(36);
    expect(metrics.test.accuracy).toBe(s.accuracy.test);
    expect(Object.keys(metrics.test.perClass).sort()).toEqual(metrics.classes);
    const rankings = JSON.parse(readFileSync(join(out, "rankings.json"), "utf8"));
    for (const key of ["lca", "bottom", "probeless", "random"])
      expect([...rankings[key].ordering].sort((a: number, b: number) => a - b)).toEqual(
        Array.from({ length: n }, (_, i) => i),
      );
    // The planted NUMBER / STRING neurons lead their classes' LCA top neurons.
    expect(rankings.topNeurons.perClass.NUMBER[0]).toBe(FIXTURE.planted[0].id);
    expect(rankings.topNeurons.perClass.STRING[0]).toBe(FIXTURE.planted[1].id);
    expect(rankings.topNeurons.names.NUMBER[0]).toBe("L5:3");
    // probe.json loads as a probe, and the concepts command reads its weights and neuron ids.
    const text = readFileSync(join(out, "probe.json"), "utf8");
    const probe = parseProbe(text, "probe.json") as LogisticProbe;
    expect(probe).toBeInstanceOf(LogisticProbe);
    const pw = parseProbeWeights(JSON.parse(text), "probe.json", FIXTURE.hidden, FIXTURE.layers);
    expect(pw.classes).toEqual(probe.classes);
    expect(Array.from(pw.neurons)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it("one λ pair on chosen layers and on a neuron list; the same seed gives the same files", async () => {
    const a = await runProbe({
      store,
      task,
      out: join(dir, "a"),
      lambda1: 1e-3,
      lambda2: 0,
      layers: [5, 8],
      quiet: true,
    });
    expect(a.summary.neurons).toBe(2 * FIXTURE.hidden);
    await runProbe({
      store,
      task,
      out: join(dir, "b"),
      lambda1: 1e-3,
      lambda2: 0,
      layers: [5, 8],
      quiet: true,
    });
    for (const f of ["probe.json", "rankings.json"])
      expect(readFileSync(join(dir, "b", f), "utf8")).toBe(readFileSync(join(dir, "a", f), "utf8"));
    const list = join(dir, "neurons.txt");
    writeFileSync(list, "L5:3 L8:5\n26, 17\n");
    const c = await runProbe({ store, task, out: join(dir, "c"), lambda1: 1e-4, neurons: list, quiet: true });
    expect(c.summary.neurons).toBe(4);
    const probe = JSON.parse(readFileSync(join(dir, "c", "probe.json"), "utf8"));
    expect(probe.neurons).toEqual([43, 69, 26, 17]);
  });

  it("a probe over the memory bound is refused before any activation is read, naming what fits", async () => {
    const run = runProbe({
      store,
      task,
      out: join(dir, "mem"),
      lambda1: 1e-4,
      maxMemoryBytes: 1000,
      quiet: true,
    });
    await expect(run).rejects.toThrow(UserError);
    await expect(
      runProbe({ store, task, out: join(dir, "mem"), lambda1: 1e-4, maxMemoryBytes: 1000, quiet: true }),
    ).rejects.toThrow(
      /neurons over \d+\/\d+\/\d+ rows need about .* over the memory bound of 1 MiB .*--layers with about 1 of the 13 layers/,
    );
  });

  it("bad input: clear errors naming the file, line or option", async () => {
    await expect(runProbe({ store, task, out: join(dir, "x"), grid: true, lambda1: 1 })).rejects.toThrow(
      UserError,
    );
    await expect(runProbe({ store, task, out: join(dir, "x"), layers: [13] })).rejects.toThrow(
      /layer 13 is not stored/,
    );
    expect(() => parseNeuronList("L1:2\nL9:99\n", "n.txt", 8, FIXTURE.layers)).toThrow(/n\.txt:2/);
    expect(() => parseNeuronList('["L1:2", true]', "n.json", 8, FIXTURE.layers)).toThrow(/neurons\[1\]/);
    expect(() => parseNeuronList("L20:1", "n.txt", 8, FIXTURE.layers)).toThrow(InputError);
    // A task row that points at another word of the store.
    const bad = join(dir, "badtask");
    await mkdir(bad, { recursive: true });
    for (const s of ["train", "valid", "test"]) {
      const rows = taskRows(await readTaskSplit(join(task, `${s}.tsv`)));
      if (s === "valid") rows[2] = { ...rows[2], token: "notTheWord" };
      await writeTaskTsv(join(bad, `${s}.tsv`), rows);
    }
    await expect(runProbe({ store, task: bad, out: join(dir, "y"), lambda1: 0 })).rejects.toThrow(
      /valid\.tsv:4.*notTheWord/,
    );
  });
});
