import { describe, expect, it } from "vitest";
import { logFactorialTable } from "../../src/concepts/concept-neurons.js";
import {
  conceptScanner,
  conceptsFromClasses,
  hypergeometricTail,
  summarizeColumn,
  topNeuronsPerClass,
  topWords,
  wordTypes,
} from "../../src/concepts/index.js";
import { columnClassMeans } from "../../src/linalg/class-means.js";
import { loadReference } from "./helpers.js";

// Expected values come from scripts/reference/concepts_reference.py (numpy float64 over float32 inputs).
const ref = loadReference();
const E = ref.fixture.expected;

describe("concepts against the Python reference", () => {
  it("builds the same word types and majority labels", () => {
    const types = wordTypes(ref.rows);
    expect(types.types).toEqual(E.types);
    expect(Array.from(types.label)).toEqual(E.typeLabel);
  });

  it("selects the same LCA top neurons at 5%, 30% and 100% mass", () => {
    for (const p of ["0.05", "0.3", "1"]) {
      const top = topNeuronsPerClass(ref.probe, Number(p));
      expect(top.perClass).toEqual(E.lca[p]);
      const union = [...new Set(Object.values(E.lca[p]).flat())].sort((a, b) => a - b);
      expect(top.overall).toEqual(union);
    }
  });

  it("matches mean, std, top words (positive, negative, NeuroX |z|) and class means per neuron", () => {
    const types = wordTypes(ref.rows);
    ref.columns.forEach((column, j) => {
      const want = E.neurons[j];
      const s = summarizeColumn(column, types);
      // Float64 sums of the same float32 values in a different order: 1e-9 relative is ample.
      expect(s.mean).toBeCloseTo(want.mean, 9);
      expect(s.std).toBeCloseTo(want.std, 9);
      for (const direction of ["positive", "negative"] as const) {
        const got = topWords(column, types, { k: 5, direction });
        expect(got.map((w) => w.word)).toEqual(want[direction].map((w) => w[0]));
        got.forEach((w, i) => {
          expect(w.score).toBeCloseTo(want[direction][i][1] as number, 9);
        });
      }
      const abs = topWords(column, types, { k: 5, direction: "abs" });
      expect(abs.map((w) => w.word)).toEqual(want.abs.map((w) => w[0]));
      abs.forEach((w, i) => {
        expect(w.score).toBeCloseTo(want.abs[i][1] as number, 9);
        // NeuroX's normalised score: score / best score.
        expect(w.relative).toBeCloseTo(want.abs[i][2] as number, 9);
      });
      const { means } = columnClassMeans(column, ref.rows.labels, ref.rows.classes.length);
      means.forEach((m, c) => {
        expect(m).toBeCloseTo(want.classMeans[c], 9);
      });
    });
  });

  it("computes hypergeometric upper tails like scipy.stats.hypergeom.sf", () => {
    for (const [n, K, k, x, p] of E.hypergeomTails) {
      // Sum of exp(log-binomials): relative error well under 1e-9 at these sizes.
      expect(Math.abs(hypergeometricTail(logFactorialTable(n), n, K, k, x) - p)).toBeLessThanOrEqual(
        1e-9 * p + 1e-15,
      );
    }
  });

  it("picks the same most significant concept per neuron and finds the planted neurons", () => {
    const types = wordTypes(ref.rows);
    const scanner = conceptScanner(types, conceptsFromClasses(types, ref.rows.classes), 6);
    ref.columns.forEach((column, j) => {
      const scan = scanner.scan(summarizeColumn(column, types))!;
      const want = E.conceptScanK6[j];
      expect({ concept: ref.rows.classes[scan.concept], direction: scan.direction, hits: scan.hits }).toEqual(
        {
          concept: want.concept,
          direction: want.direction,
          hits: want.hits,
        },
      );
      // 1e-9 relative, as above.
      expect(Math.abs(scanner.pValue(scan.concept, scan.hits) - want.pValue)).toBeLessThanOrEqual(
        1e-9 * want.pValue,
      );
    });
    for (const [concept, neuron] of Object.entries(ref.fixture.planted)) {
      expect(E.conceptScanK6[neuron].concept).toBe(concept);
    }
  });
});
