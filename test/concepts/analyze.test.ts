import { describe, expect, it } from "vitest";
import {
  analyzeConcepts,
  CONCEPTS_FORMAT,
  layerDistribution,
  memorySource,
} from "../../src/concepts/index.js";
import { loadReference } from "./helpers.js";

const ref = loadReference();
const source = () => memorySource(ref.activations, ref.rows, ref.neurons, ref.fixture.hidden);
const run = (extra = {}) =>
  analyzeConcepts(source(), ref.probe, { conceptTopK: 6, quiet: true, blockSize: 5, ...extra });

describe("analyzeConcepts", () => {
  it("finds the planted number, string and keyword neurons without being told which they are", async () => {
    const result = await run();
    const found = new Map(result.conceptNeurons.map((m) => [m.neuron, m]));
    const planted = ref.fixture.planted;
    expect(found.get(planted.NUMBER)?.concept).toBe("NUMBER");
    expect(found.get(planted.NUMBER)?.direction).toBe("positive");
    expect(found.get(planted.STRING)?.concept).toBe("STRING");
    // The string neuron was planted with a negative shift.
    expect(found.get(planted.STRING)?.direction).toBe("negative");
    expect(found.get(planted.KEYWORD)?.concept).toBe("KEYWORD");
    // Noise neurons must not pass a Bonferroni-corrected test.
    const plantedIds = new Set(Object.values(planted));
    expect(result.conceptNeurons.filter((m) => !plantedIds.has(m.neuron))).toEqual([]);
    for (const m of result.conceptNeurons) {
      expect(m.purity).toBeGreaterThanOrEqual(0.75);
      expect(m.lift).toBeCloseTo(m.purity / m.baseRate, 12);
    }
    const summary = Object.fromEntries(result.concepts.map((c) => [c.concept, c.count]));
    expect(summary).toMatchObject({ NUMBER: 1, STRING: 1, KEYWORD: 1, IDENT: 0 });
  });

  it("reports top neurons, their layer distribution and per-neuron detail", async () => {
    const result = await run();
    expect(result.format).toBe(CONCEPTS_FORMAT);
    expect(result.topNeurons.perClass).toEqual(ref.fixture.expected.lca["0.05"]);
    // hidden 8, 16 neurons: layers 0 and 1.
    expect(result.layers).toEqual([0, 1]);
    expect(result.layerDistribution.overall).toEqual(
      layerDistribution(result.topNeurons.overall, 8, [0, 1]).counts,
    );
    const reported = result.neurons.map((n) => n.id);
    for (const id of [...result.topNeurons.overall, ...result.conceptNeurons.map((m) => m.neuron)]) {
      expect(reported).toContain(id);
    }
    const num = result.neurons.find((n) => n.id === ref.fixture.planted.NUMBER)!;
    expect(num.name).toBe("L0:3");
    expect(num.topFor).toEqual(["NUMBER"]);
    expect(num.weights?.NUMBER).toBe(6);
    // 8 number types exist; the scan with k=6 found all six best to be numbers.
    expect(num.topWords.positive.slice(0, 6).every((w) => w.label === "NUMBER")).toBe(true);
    expect(num.classMeans.NUMBER!).toBeGreaterThan(num.classMeans.IDENT!);
    const ex = num.topWords.positive[0].examples[0];
    // An example names a real occurrence of the word with its activation.
    const row = ref.fixture.sentence.findIndex(
      (s, r) => s === ex.sentence && ref.fixture.position[r] === ex.position,
    );
    expect(ref.fixture.words[row]).toBe(num.topWords.positive[0].word);
    expect(ex.activation).toBe(Math.fround(ref.fixture.activations[row][3]));
    expect(result.stats.neurons).toEqual(ref.neurons);
  });

  it("draws heatmap lines where the class's top neurons fire and reads their activations", async () => {
    const result = await run({ heatmapLines: 2 });
    const numberMap = result.heatmaps.find((h) => h.class === "NUMBER")!;
    expect(numberMap.neurons.map((n) => n.id)).toEqual([3]);
    expect(numberMap.lines.length).toBe(2);
    for (const line of numberMap.lines) {
      expect(line.activations[0].length).toBe(line.words.length);
      const rows = ref.fixture.sentence.flatMap((s, r) => (s === line.sentence ? [r] : []));
      expect(line.words).toEqual(rows.map((r) => ref.fixture.words[r]));
      expect(line.activations[0]).toEqual(rows.map((r) => Math.fround(ref.fixture.activations[r][3])));
      expect(line.words.some((w) => /^\d/.test(w))).toBe(true);
    }
    const explicit = await run({ lines: [0, 5] });
    expect(explicit.heatmaps.every((h) => h.lines.map((l) => l.sentence).join() === "0,5")).toBe(true);
  });

  it("gives identical JSON for any block size (results do not depend on how neurons are read)", async () => {
    const a = JSON.stringify(await run({ blockSize: 1 }));
    const b = JSON.stringify(await run({ blockSize: 256 }));
    expect(a).toBe(b);
  });

  it("works on an unlabelled corpus through lexical and word-list concepts", async () => {
    const rows = { ...ref.rows, labels: new Int32Array(ref.rows.words.length).fill(-1) };
    const src = memorySource(ref.activations, rows, ref.neurons, ref.fixture.hidden);
    const result = await analyzeConcepts(src, ref.probe, {
      conceptTopK: 6,
      quiet: true,
      wordLists: { loops: ["for", "while"], control: ["if", "for", "while", "return", "new", "throw"] },
    });
    const byNeuron = new Map(result.conceptNeurons.map((m) => [m.neuron, m.concept]));
    expect(byNeuron.get(ref.fixture.planted.NUMBER)).toBe("lex:NUMBER");
    expect(byNeuron.get(ref.fixture.planted.STRING)).toBe("lex:STRING");
    expect(byNeuron.get(ref.fixture.planted.KEYWORD)).toBe("control");
    expect(result.corpus.classCounts).toEqual({ IDENT: 0, KEYWORD: 0, NUMBER: 0, STRING: 0 });
  });
});
