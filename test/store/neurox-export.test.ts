import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ActivationStore, exportNeuroxJson, importNeuroxJson } from "../../src/store/index.js";
import { buildExportStore, EXTRACTED, FIXTURE } from "./neurox-export-store.js";

/**
 * NeuroX's own loaders accept our export (issue 18, item 4). test/fixtures/neurox-export/loaded.json is
 * what NeuroX's load_activations + load_data + create_tensors made of the export of the fixture store
 * (scripts/reference/neurox_load_reference.py, which follows NeuroX's loader code): every sentence
 * kept, none dropped for a token-count mismatch. Here the same store is exported again: the sentence
 * and label files must be those bytes, the JSON the same sentences in the same order with their input
 * lines, and the activations NeuroX read (its X, row by row) the store's own. Tolerance 1e-5: NeuroX's
 * 8 decimals, and extraction on another machine may differ in the last float32 bits.
 */
interface Loaded {
  numLayers: number;
  sentences: number;
  dropped: number[];
  lines: number[];
  source: string[][];
  target: string[][];
  shape: [number, number];
  X: number[][];
  y: string[];
}

const loaded = JSON.parse(readFileSync(join(FIXTURE, "loaded.json"), "utf8")) as Loaded;

describe("export --format neurox-json, as NeuroX loads it", () => {
  it("NeuroX's loaders kept every exported sentence (the reference's verdict on the fixture)", () => {
    expect(loaded.dropped).toEqual([]);
    expect(loaded.sentences).toBe(3);
    expect(loaded.lines).toEqual([1, 3, 5]);
    expect(loaded.shape).toEqual([15, 4 * 16]);
  });

  it("writes the .in / .label NeuroX read, line for line, and the activations it read", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cn-nx-"));
    const store = await ActivationStore.open(await buildExportStore(dir));
    try {
      const out = join(dir, "export", "acts.json");
      const r = await exportNeuroxJson(store, out, { quiet: true });
      // Line 2 is empty and line 4 was not extracted: NeuroX cannot load a sentence without tokens.
      expect(r.leftOut).toEqual([2, 4]);
      expect(r.sentences).toBe(loaded.sentences);
      expect(r.files).toEqual({
        json: out,
        in: join(dir, "export", "acts.in"),
        label: join(dir, "export", "acts.label"),
      });
      expect(readFileSync(r.files.in)).toEqual(readFileSync(join(FIXTURE, "acts.in")));
      expect(readFileSync(r.files.label!)).toEqual(readFileSync(join(FIXTURE, "acts.label")));
      // What NeuroX's load_data reads: Python's str.split() of each line.
      const split = (f: string) =>
        readFileSync(f, "utf8")
          .split("\n")
          .slice(0, -1)
          .map((l) => l.trim().split(/\s+/));
      expect(split(r.files.in)).toEqual(loaded.source);
      expect(split(r.files.label!)).toEqual(loaded.target);

      const json = readFileSync(out, "utf8")
        .trimEnd()
        .split("\n")
        .map(
          (l) =>
            JSON.parse(l) as {
              linex_index: number;
              line: number;
              features: { token: string; layers: { index: number; values: number[] }[] }[];
            },
        );
      expect(json.map((s) => s.linex_index)).toEqual([0, 1, 2]);
      expect(json.map((s) => s.line)).toEqual(loaded.lines);
      expect(json.map((s) => s.line - 1).every((l) => EXTRACTED.has(l))).toBe(true);
      // The JSON's tokens are the words themselves (the .in file holds them escaped: "a▁b").
      expect(json[1].features.map((f) => f.token)).toEqual(["String", "s", "=", '"a b"', ";"]);

      let row = 0;
      for (const s of json) {
        const words = store.words(s.line - 1);
        expect(s.features.map((f) => f.token)).toEqual(words);
        const m = await store.readRows(
          Int32Array.from(words, (_, w) => store.row(s.line - 1, w)),
          { layers: store.meta.layers },
        );
        for (let t = 0; t < words.length; t++, row++) {
          const ours = Array.from(m.data.subarray(t * m.cols, (t + 1) * m.cols));
          const neurox = loaded.X[row];
          expect(neurox.length).toBe(ours.length);
          for (let u = 0; u < ours.length; u++) expect(Math.abs(ours[u] - neurox[u])).toBeLessThan(1e-5);
          expect(loaded.y[row]).toBe(store.labels(s.line - 1)?.[t]);
        }
      }
      expect(row).toBe(loaded.shape[0]);

      // And back: the export with its own .label file imports as the same words and labels.
      const back = join(dir, "back");
      await importNeuroxJson({ inputs: [out], labels: r.files.label!, out: back, quiet: true });
      const imported = await ActivationStore.open(back);
      try {
        expect(imported.numLines).toBe(3);
        json.forEach((s, i) => {
          expect(imported.words(i)).toEqual(store.words(s.line - 1));
          expect(imported.labels(i)).toEqual(store.labels(s.line - 1));
        });
      } finally {
        imported.close();
      }
    } finally {
      store.close();
    }
  });

  it("without labels in the store, only the .in file goes beside the JSON", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cn-nx-"));
    const store = await ActivationStore.open(await buildExportStore(dir, { labels: false }));
    try {
      const r = await exportNeuroxJson(store, join(dir, "acts"), { quiet: true });
      expect(r.files).toEqual({ json: join(dir, "acts"), in: join(dir, "acts.in"), label: null });
      expect(readFileSync(r.files.in)).toEqual(readFileSync(join(FIXTURE, "acts.in")));
    } finally {
      store.close();
    }
  });
});
