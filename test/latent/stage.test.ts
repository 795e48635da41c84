import { execFile } from "node:child_process";
import { cpSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { casingOf } from "../../src/latent/categories.js";
import { cutTree } from "../../src/latent/cut.js";
import { type LatentResult, parseLatent } from "../../src/latent/format.js";
import { runLatent } from "../../src/latent/stage.js";
import { wardLinkage } from "../../src/latent/ward.js";
import { ActivationStore, writeWordsFiles } from "../../src/store/index.js";
import { InputError, UserError } from "../../src/util/errors.js";
import { parseJsonText } from "../../src/util/json.js";
import { makeResultsDir } from "../fixtures/report/make-results.js";
import { mangledJsonTexts } from "../fuzz/json-mutations.js";

const run = promisify(execFile);
const CLI = ["--import", "tsx", join(import.meta.dirname, "..", "..", "src", "cli", "main.ts"), "latent"];
const ENV = { ...process.env, CODENEURONS_QUIET: "1" };

let dir = "";
let store = "";
let result: LatentResult;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cn-latent-"));
  await makeResultsDir(dir);
  store = join(dir, "activations");
  ({ result } = await runLatent({
    store,
    out: join(dir, "latent"),
    layers: [3, 8],
    clusters: 12,
    maxTokens: 150,
    maxPerType: 3,
    language: "java",
    quiet: true,
  }));
});

describe("codeneurons latent (the stage)", () => {
  it("samples tokens ConceptX's way: at most maxPerType of a word type, at most maxTokens, in store order", async () => {
    const s = await ActivationStore.open(store);
    try {
      const t = result.tokens;
      expect(t.count).toBe(150);
      const perType = new Map<string, number>();
      for (const w of t.word) perType.set(w, (perType.get(w) ?? 0) + 1);
      expect(Math.max(...perType.values())).toBeLessThanOrEqual(3);
      const rows = t.sentence.map((line, i) => s.row(line, t.position[i]));
      expect(rows).toEqual([...rows].sort((a, b) => a - b));
      t.word.forEach((w, i) => {
        expect(s.words(t.sentence[i])[t.position[i]]).toBe(w);
      });
    } finally {
      s.close();
    }
  });

  it("each layer's clusters are the Ward tree of the sampled rows cut at K", async () => {
    const s = await ActivationStore.open(store);
    try {
      const rows = result.tokens.sentence.map((line, i) => s.row(line, result.tokens.position[i]));
      for (const layer of result.layers) {
        const x = await s.readRows(rows, { layers: [layer.layer] });
        const labels = cutTree(await wardLinkage(x), 12);
        expect(layer.clusters).toHaveLength(12);
        for (const c of layer.clusters) for (const t of c.tokens) expect(labels[t]).toBe(c.id);
      }
    } finally {
      s.close();
    }
  });

  it("aligns a cluster with a category when at least θ of its tokens have it, and counts the novel ones", () => {
    const families = result.categories.map((c) => c.family);
    expect(families).toEqual(["label", "parent", "casing", "position"]);
    for (const layer of result.layers) {
      let novel = 0;
      const alignedPerFamily = new Map<string, number>();
      for (const c of layer.clusters) {
        const expected: string[] = [];
        for (const cat of result.categories) {
          const counts = new Map<string, number>();
          for (const t of c.tokens) {
            const v = cat.token[t];
            if (v >= 0) counts.set(cat.values[v], (counts.get(cat.values[v]) ?? 0) + 1);
          }
          let any = false;
          for (const [value, n] of counts) {
            if (n / c.size >= 0.9) {
              expected.push(`${cat.family}:${value}`);
              any = true;
            }
          }
          if (any) alignedPerFamily.set(cat.family, (alignedPerFamily.get(cat.family) ?? 0) + 1);
        }
        expect(c.aligned.map((a) => `${a.family}:${a.value}`).sort()).toEqual(expected.sort());
        if (expected.length === 0) novel++;
      }
      expect(layer.novel).toBeCloseTo(novel / 12, 12);
      for (const a of layer.alignment)
        expect(a.aligned).toBeCloseTo((alignedPerFamily.get(a.family) ?? 0) / 12, 12);
    }
  });

  it("computes categories from the code: labels, tree-sitter parents, identifier casing, line ends", () => {
    const cat = (family: string) => result.categories.find((c) => c.family === family)!;
    const t = result.tokens;
    const label = cat("label");
    const parent = cat("parent");
    const casing = cat("casing");
    const position = cat("position");
    t.word.forEach((w, i) => {
      const l = label.values[label.token[i]];
      // Casing is of identifiers only.
      if (l === "IDENT") expect(casing.values[casing.token[i]]).toBe(casingOf(w));
      else expect(casing.token[i]).toBe(-1);
      expect(parent.token[i]).toBeGreaterThanOrEqual(0);
    });
    expect(parent.values).toContain("argument_list");
    expect(position.values.every((v) => ["first", "last", "only"].includes(v))).toBe(true);
    expect(["x", "myValue", "MyClass", "MAX_SIZE", "my_var", "_tmp"].map(casingOf)).toEqual([
      "lower",
      "camelCase",
      "PascalCase",
      "UPPER_CASE",
      "snake_case",
      "other",
    ]);
  });

  it("lists the neurons most active on each cluster, of the cluster's layer", () => {
    for (const layer of result.layers)
      for (const c of layer.clusters) {
        expect(c.neurons).toHaveLength(5);
        for (const n of c.neurons) expect(n.name.startsWith(`L${layer.layer}:`)).toBe(true);
        expect(c.neurons.map((n) => n.z)).toEqual([...c.neurons.map((n) => n.z)].sort((a, b) => b - a));
      }
  });

  it("writes the same file for the same settings, and reads it back", async () => {
    const again = await runLatent({
      store,
      out: join(dir, "latent2"),
      layers: [3, 8],
      clusters: 12,
      maxTokens: 150,
      maxPerType: 3,
      language: "java",
      quiet: true,
    });
    expect(again.result).toEqual(result);
    const file = join(dir, "latent", "latent.json");
    expect(parseLatent(parseJsonText(readFileSync(file, "utf8"), file), file)).toEqual(result);
  });

  it("refuses bad input with clear errors", async () => {
    const base = { store, out: join(dir, "bad"), quiet: true, maxTokens: 50, clusters: 5 };
    await expect(runLatent({ ...base, clusters: 51 })).rejects.toThrow(
      /51 clusters is more than the 50 tokens sampled/,
    );
    await expect(runLatent({ ...base, layers: [13] })).rejects.toThrow(
      /has no hidden layer 13 \(it has 0, 1,/,
    );
    await expect(runLatent({ ...base, families: ["parent"] })).rejects.toThrow(/need the code's language/);
    await expect(runLatent({ ...base, theta: 0 })).rejects.toThrow(UserError);
    const unlabelled = join(dir, "unlabelled");
    cpSync(store, unlabelled, { recursive: true });
    const lines = readFileSync(join(store, "words.txt"), "utf8").split("\n").slice(0, -1);
    rmSync(join(unlabelled, "labels.txt"));
    await writeWordsFiles(
      unlabelled,
      lines.map((l) => (l === "" ? [] : l.split(" "))),
    );
    await expect(runLatent({ ...base, store: unlabelled })).rejects.toThrow(
      /has no labels \(labels\.txt\), which the label and casing categories need/,
    );
    const positions = await runLatent({ ...base, store: unlabelled, layers: [2], families: ["position"] });
    expect(positions.result.categories.map((c) => c.family)).toEqual(["position"]);
  });

  it("fuzz: mangled latent.json files give an InputError, never a crash", () => {
    const file = join(dir, "latent", "latent.json");
    const text = readFileSync(file, "utf8");
    const alphabet = ['"', "{", "}", "[", "]", ",", ":", "0", "-7", "1e400", "null", "99999", " "];
    for (const t of mangledJsonTexts(text, 19, 200, alphabet)) {
      try {
        parseLatent(parseJsonText(t, file), file);
      } catch (e) {
        expect(e, (e as Error).stack).toBeInstanceOf(InputError);
      }
    }
    // Parts that do not fit together are named.
    const broken = JSON.parse(text) as LatentResult;
    broken.layers[0].clusters[0].tokens.push(broken.layers[0].clusters[1].tokens[0]);
    broken.layers[0].clusters[0].size++;
    expect(() => parseLatent(broken, file)).toThrow(
      /layers\.0\.clusters\.\d+\.tokens.*token \d+ is in two clusters/,
    );
  });
});

describe("codeneurons latent (the command)", () => {
  it("prints the summary (--json), exits 2 on bad input", async () => {
    const out = join(dir, "cli");
    const { stdout } = await run(
      "node",
      [
        ...CLI,
        "--store",
        store,
        "--layers",
        "5",
        "--clusters",
        "8",
        "--tokens",
        "120",
        "--out",
        out,
        "--json",
      ],
      { env: ENV },
    );
    const summary = JSON.parse(stdout);
    expect(summary.tokens).toBe(120);
    expect(summary.layers.map((l: { layer: number }) => l.layer)).toEqual([5]);
    // Without --lang there is no parent family.
    expect(summary.families).toEqual(["label", "casing", "position"]);
    const err = await run("node", [...CLI, "--store", store, "--clusters", "500", "--out", out], {
      env: ENV,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toMatch(
      /codeneurons: error: 500 clusters is more than the \d+ tokens/,
    );
  });
});
