import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import type { ConceptsResult } from "../../src/concepts/format.js";
import { SPLITS } from "../../src/data/splits.js";
import type { RedundancyResults } from "../../src/redundancy/pipeline/results.js";
import { MODEL, makeTokenTaskFiles } from "../redundancy/pipeline-helpers.js";

/**
 * The neuron sites end to end through the installed commands: a store extracted with `--sites
 * hidden,mlp` from tiny-roberta (3 blocks; hidden 16, intermediate 24), then probe, concepts,
 * redundancy and export on `--site mlp`. Names carry the site (`L2.mlp:5`), files record it, and a file
 * of one site given to a stage on the other is refused, naming the file and the field.
 */
const exec = promisify(execFile);
const MAIN = join(import.meta.dirname, "..", "..", "src", "cli", "main.ts");
const MLP_NAME = /^L[1-3]\.mlp:\d+$/;
let dir = "";
let store = "";
let task = "";

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, ["--import", "tsx", MAIN, ...args], {
      env: { ...process.env, CODENEURONS_QUIET: "1" },
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  expect(r.code, `${args.join(" ")}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

const json = <T>(file: string): T => JSON.parse(readFileSync(file, "utf8")) as T;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cn-sites-"));
  const files = await makeTokenTaskFiles(join(dir, "data"), { train: 30, valid: 10, test: 10 });
  task = files.task;
  store = join(dir, "stores");
  for (const s of SPLITS) {
    const lines = join(dir, `${s}.lines`);
    writeFileSync(lines, files.lines[s].join(","));
    await ok([
      "extract",
      "--model",
      MODEL,
      "--input",
      files.inputs[s],
      "--out",
      join(store, s),
      "--sites",
      "hidden,mlp",
      "--lines",
      `@${lines}`,
    ]);
  }
}, 120_000);

describe("--site mlp end to end", () => {
  it("probe: MLP neurons of blocks 1-3, site-qualified names, every file records the site", async () => {
    const out = join(dir, "probe-mlp");
    const summary = JSON.parse(
      await ok([
        "probe",
        "--store",
        store,
        "--task",
        task,
        "--out",
        out,
        "--site",
        "mlp",
        "--lambda1",
        "1e-3",
        "--json",
      ]),
    );
    expect(summary.site).toBe("mlp");
    expect(summary.neurons).toBe(3 * 24);
    const probe = json<Record<string, unknown>>(join(out, "probe.json"));
    expect(probe).toMatchObject({ version: 3, site: "mlp", width: 24, hidden: 16, layers: [1, 2, 3] });
    expect(probe.neurons).toEqual(Array.from({ length: 72 }, (_, i) => 24 + i));
    const metrics = json<Record<string, unknown>>(join(out, "metrics.json"));
    expect(metrics).toMatchObject({ site: "mlp", width: 24 });
    const rankings = json<{ site: string; width: number; topNeurons: { names: Record<string, string[]> } }>(
      join(out, "rankings.json"),
    );
    expect([rankings.site, rankings.width]).toEqual(["mlp", 24]);
    const names = Object.values(rankings.topNeurons.names).flat();
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(n).toMatch(MLP_NAME);
  });

  it("probe: a neuron list of MLP names; a unit past the width or a name of the other site is refused", async () => {
    const list = join(dir, "mlp-neurons.txt");
    writeFileSync(list, "L2.mlp:5 L3.mlp:0\n30\n");
    const out = join(dir, "probe-list");
    await ok([
      "probe",
      "--store",
      store,
      "--task",
      task,
      "--out",
      out,
      "--site",
      "mlp",
      "--lambda1",
      "1e-3",
      "--neurons",
      list,
    ]);
    expect(json<{ neurons: number[] }>(join(out, "probe.json")).neurons).toEqual([2 * 24 + 5, 3 * 24, 30]);
    const rankings = json<{ topNeurons: { names: Record<string, string[]> } }>(join(out, "rankings.json"));
    expect(Object.values(rankings.topNeurons.names).flat()).toContain("L2.mlp:5");

    writeFileSync(list, "L2.mlp:5\nL1.mlp:999\n");
    const wide = await cli([
      "probe",
      "--store",
      store,
      "--task",
      task,
      "--out",
      join(dir, "x"),
      "--site",
      "mlp",
      "--neurons",
      list,
    ]);
    expect(wide.code).toBe(2);
    expect(wide.stderr).toMatch(
      /mlp-neurons\.txt:2: neuron L1\.mlp:999: unit 999 is out of range: the mlp site has 24 neurons per layer/,
    );

    const other = await cli([
      "probe",
      "--store",
      store,
      "--task",
      task,
      "--out",
      join(dir, "x"),
      "--neurons",
      list,
    ]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/mlp-neurons\.txt:1: neuron L2\.mlp:5 is on the mlp site .* use --site mlp/);

    writeFileSync(list, "L0.mlp:3\n");
    const noLayer0 = await cli([
      "probe",
      "--store",
      store,
      "--task",
      task,
      "--out",
      join(dir, "x"),
      "--site",
      "mlp",
      "--neurons",
      list,
    ]);
    expect(noLayer0.code).toBe(2);
    expect(noLayer0.stderr).toMatch(
      /L0\.mlp:3 is in a layer the store does not hold \(stored mlp layers 1,2,3\)/,
    );

    const layer0 = await cli([
      "probe",
      "--store",
      store,
      "--task",
      task,
      "--out",
      join(dir, "x"),
      "--site",
      "mlp",
      "--layers",
      "0,1",
    ]);
    expect(layer0.code).toBe(2);
    expect(layer0.stderr).toMatch(/mlp layer 0 is not stored \(mlp layers 1,2,3\)/);
  });

  it("concepts: reads the mlp probe on --site mlp; refuses it on the hidden site, naming the file and field", async () => {
    const probe = join(dir, "probe-mlp", "probe.json");
    const out = join(dir, "concepts-mlp");
    const stdout = await ok([
      "concepts",
      "--store",
      join(store, "train"),
      "--probe",
      probe,
      "--task",
      task,
      "--out",
      out,
      "--site",
      "mlp",
    ]);
    expect(stdout).toMatch(/\d+ rows, 72 mlp neurons/);
    const c = json<ConceptsResult>(join(out, "concepts.json"));
    expect([c.version, c.site, c.width, c.layers]).toEqual([4, "mlp", 24, [1, 2, 3]]);
    expect(c.population).toMatchObject({ kind: "task", splits: ["train"], rows: c.corpus.rows });
    expect(c.neurons.length).toBeGreaterThan(0);
    for (const n of c.neurons) expect(n.name).toMatch(MLP_NAME);
    for (const h of c.heatmaps) for (const n of h.neurons) expect(n.name).toMatch(MLP_NAME);

    const refused = await cli([
      "concepts",
      "--store",
      join(store, "train"),
      "--probe",
      probe,
      "--task",
      task,
      "--out",
      join(dir, "x"),
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /probe-mlp\/probe\.json \(field 'site'\): holds mlp-site neurons .*but this analysis is on the hidden site; give --site mlp/,
    );
    expect(refused.stderr).not.toMatch(/internal error/);
  });

  it("redundancy: computes on the MLP neurons, records the site, names layers with it", async () => {
    const out = join(dir, "redundancy-mlp");
    const args = [
      "redundancy",
      "--store",
      store,
      "--task",
      task,
      "--out",
      out,
      "--site",
      "mlp",
      "--steps",
      "layerwise,ls",
    ];
    const r = JSON.parse(await ok([...args, "--json"])) as RedundancyResults;
    expect(r.version).toBe(3);
    expect(r.input).toMatchObject({ site: "mlp", width: 24, hidden: 16, layers: [1, 2, 3] });
    expect(r.totalNeurons).toBe(72);
    expect(r.steps.independent?.layers.map((l) => l.layer)).toEqual([1, 2, 3]);
    expect(r.steps.oracle?.probe.neurons).toBe(72);
    const text = await ok(args);
    expect(text).toMatch(/72 mlp neurons/);
    expect(text).toMatch(/independent \(test\): L1\.mlp \d/);
    expect(text).toMatch(/mlp layers? [1-3]/);
    // The hidden site of the same stores is another analysis: computed, not read from the mlp cache.
    const hidden = JSON.parse(
      await ok(["redundancy", "--store", store, "--task", task, "--out", out, "--steps", "oracle", "--json"]),
    ) as RedundancyResults;
    expect(hidden.input).toMatchObject({ site: "hidden", width: 16, layers: [0, 1, 2, 3] });
    expect(JSON.parse(readFileSync(join(out, "run-record.json"), "utf8")).details.computed).toEqual([
      "oracle",
    ]);
    expect(hidden.totalNeurons).toBe(64);
  });

  it("redundancy --sites both: each site's pipeline in OUT/<site>/, reported side by side", async () => {
    const out = join(dir, "redundancy-both");
    const args = ["redundancy", "--store", store, "--task", task, "--out", out, "--steps", "layerwise"];
    const text = await ok([...args, "--sites", "both", "--lambda1", "1e-3", "--lambda2", "0"]);
    expect(text).toMatch(
      /── residual stream \(site hidden\)[\s\S]*64 neurons[\s\S]*── MLP neurons \(site mlp\)[\s\S]*72 mlp neurons/,
    );
    const hidden = json<RedundancyResults>(join(out, "hidden", "redundancy.json"));
    const mlp = json<RedundancyResults>(join(out, "mlp", "redundancy.json"));
    expect([hidden.input.site, hidden.totalNeurons, mlp.input.site, mlp.totalNeurons]).toEqual([
      "hidden",
      64,
      "mlp",
      72,
    ]);
    expect(mlp.steps.independent?.layers.map((l) => l.layer)).toEqual([1, 2, 3]);
    // One site through --sites is --site: OUT itself; the two flags must agree.
    const one = join(dir, "redundancy-one");
    await ok([
      "redundancy",
      "--store",
      store,
      "--task",
      task,
      "--out",
      one,
      "--steps",
      "oracle",
      "--sites",
      "mlp",
      "--lambda1",
      "1e-3",
    ]);
    expect(json<RedundancyResults>(join(one, "redundancy.json")).input.site).toBe("mlp");
    const clash = await cli([...args, "--site", "hidden", "--sites", "mlp"]);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/--site hidden and --sites mlp disagree/);
  });

  it("export: --site mlp writes the MLP layers", async () => {
    const out = join(dir, "mlp.json");
    await ok([
      "export",
      "--store",
      join(store, "train"),
      "--format",
      "neurox-json",
      "--out",
      out,
      "--site",
      "mlp",
    ]);
    const first = JSON.parse(readFileSync(out, "utf8").split("\n")[0]) as {
      features: { layers: { index: number; values: number[] }[] }[];
    };
    const layers = first.features[0].layers;
    expect(layers.map((l) => l.index)).toEqual([1, 2, 3]);
    expect(layers.every((l) => l.values.length === 24)).toBe(true);
    const bad = await cli([
      "export",
      "--store",
      join(store, "train"),
      "--format",
      "neurox-json",
      "--out",
      out,
      "--site",
      "mlp",
      "--layers",
      "0",
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/mlp layer 0 is not in the store \(mlp layers 1,2,3\)/);
  });

  it("--help of every neuron command lists --site", async () => {
    for (const command of ["probe", "concepts", "redundancy", "export", "run", "serve"]) {
      expect(await ok([command, "--help"]), command).toMatch(/--site <site>/);
    }
  });
});
