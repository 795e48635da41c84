import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ActivationStore, exportNeuroxJson, importNeuroxJson } from "../../src/store/index.js";
import { InputError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { sharedData } from "../data/shared.js";

const SAMPLE = sharedData("neurox-sample");
const tmp = () => mkdtempSync(join(tmpdir(), "cn-neurox-"));

describe("NeuroX JSON import/export", () => {
  it("imports the real NeuroX output (CodeBERT layer 0) with its labels", async () => {
    const out = join(tmp(), "store");
    await importNeuroxJson({
      inputs: [`${SAMPLE}/codebert-layer0.json`],
      labels: `${SAMPLE}/test.label`,
      out,
      quiet: true,
    });
    const store = await ActivationStore.open(out);
    expect(store.meta.hidden).toBe(768);
    expect(store.meta.layers).toEqual([0]);
    const lines = readFileSync(`${SAMPLE}/test.in`, "utf8").trimEnd().split("\n");
    expect(store.numLines).toBe(lines.length);
    expect(store.words(0)).toEqual(lines[0].trim().split(" "));
    expect(store.labels(0)?.[0]).toBe("IDENT");
    // First value of the first word, as written in the file (float32 storage: relative error ~6e-8).
    const m = await store.readRows([0], { neurons: [0, 1] });
    expect(m.data[0]).toBeCloseTo(0.06709319, 6);
    expect(m.data[1]).toBeCloseTo(0.00361835, 6);
    store.close();
  });

  it("round-trips export → import with all layers in one file, values to NeuroX's 8 decimals", async () => {
    const dir = tmp();
    const rng = new Rng(5);
    const vec = () => Array.from({ length: 4 }, () => Math.round(rng.normal() * 1e6) / 1e6);
    const sentences = [["a", "b"], ["c"], ["d", "e", "f"]];
    const lines = sentences.map((words, i) =>
      JSON.stringify({
        linex_index: i,
        features: words.map((token) => ({
          token,
          layers: [0, 1, 2].map((index) => ({ index, values: vec() })),
        })),
      }),
    );
    writeFileSync(join(dir, "all.json"), `${lines.join("\n")}\n`);
    await importNeuroxJson({ inputs: [join(dir, "all.json")], out: join(dir, "s1"), quiet: true });
    const s1 = await ActivationStore.open(join(dir, "s1"));
    expect(s1.meta.layers).toEqual([0, 1, 2]);
    expect(s1.meta.numRows).toBe(6);
    const n = await exportNeuroxJson(s1, join(dir, "back.json"), { quiet: true });
    expect(n.sentences).toBe(3);
    const back = readFileSync(join(dir, "back.json"), "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    const orig = lines.map((l) => JSON.parse(l));
    for (let s = 0; s < 3; s++) {
      for (let t = 0; t < orig[s].features.length; t++) {
        expect(back[s].features[t].token).toBe(orig[s].features[t].token);
        for (let l = 0; l < 3; l++) {
          const a = back[s].features[t].layers[l].values as number[];
          const b = orig[s].features[t].layers[l].values as number[];
          // float32 storage then rounding to 8 decimals: within 1e-6 of the original.
          for (let u = 0; u < a.length; u++) expect(Math.abs(a[u] - b[u])).toBeLessThan(1e-6);
        }
      }
    }
  });

  it("joins per-layer files (layer given by @L) and checks tokens agree", async () => {
    const dir = tmp();
    const mk = (vals: number) =>
      JSON.stringify({
        linex_index: 0,
        features: [{ token: "x", layers: [{ index: 0, values: [vals, vals] }] }],
      });
    writeFileSync(join(dir, "l0.json"), `${mk(1)}\n`);
    writeFileSync(join(dir, "l3.json"), `${mk(3)}\n`);
    await importNeuroxJson({
      inputs: [join(dir, "l0.json"), `${join(dir, "l3.json")}@3`],
      out: join(dir, "s"),
      quiet: true,
    });
    const s = await ActivationStore.open(join(dir, "s"));
    expect(s.meta.layers).toEqual([0, 3]);
    const m = await s.readRows([0]);
    expect(Array.from(m.data)).toEqual([1, 1, 3, 3]);
  });

  it("rejects malformed files with the file and line named (fuzz)", async () => {
    const dir = tmp();
    const good = readFileSync(`${SAMPLE}/codebert-layer0.json`, "utf8").split("\n")[0];
    const rng = new Rng(11);
    let rejected = 0;
    for (let trial = 0; trial < 40; trial++) {
      let bad: string;
      const cut = rng.int(good.length);
      if (trial % 3 === 0) bad = good.slice(0, cut);
      else if (trial % 3 === 1)
        bad = good.slice(0, cut) + String.fromCharCode(33 + rng.int(90)) + good.slice(cut + 1);
      else bad = good.replace('"token"', '"tok"');
      const file = join(dir, `bad${trial}.json`);
      writeFileSync(file, `${bad}\n`);
      try {
        await importNeuroxJson({ inputs: [file], out: join(dir, `o${trial}`), quiet: true });
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        expect((e as Error).message).toContain(`bad${trial}.json`);
        rejected++;
      }
    }
    // A byte flip inside a number can still be valid JSON; most mutations must be rejected.
    expect(rejected).toBeGreaterThan(25);
  });
});
