import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { CorpusRows, ProbeWeights } from "../../src/concepts/index.js";
import { type Matrix, matrix } from "../../src/util/matrix.js";
import { neuronSpace } from "../../src/util/neurons.js";

/** The fixture written by scripts/reference/concepts_reference.py. */
export interface ReferenceFixture {
  classes: string[];
  hidden: number;
  words: string[];
  labels: number[];
  sentence: number[];
  position: number[];
  activations: number[][];
  weights: number[][];
  planted: Record<string, number>;
  expected: {
    types: string[];
    typeLabel: number[];
    lca: Record<string, Record<string, number[]>>;
    neurons: {
      mean: number;
      std: number;
      positive: [string, number][];
      negative: [string, number][];
      abs: [string, number, number][];
      classMeans: number[];
    }[];
    conceptScanK6: { concept: string; direction: string; hits: number; drawn: number; pValue: number }[];
    hypergeomTails: [number, number, number, number, number][];
  };
}

export interface Reference {
  fixture: ReferenceFixture;
  rows: CorpusRows;
  probe: ProbeWeights;
  activations: Matrix;
  columns: Float32Array[];
  neurons: number[];
}

export function loadReference(): Reference {
  const path = fileURLToPath(new URL("./fixtures/reference.json", import.meta.url));
  const fixture = JSON.parse(readFileSync(path, "utf8")) as ReferenceFixture;
  const rows: CorpusRows = {
    words: fixture.words,
    sentence: Int32Array.from(fixture.sentence),
    position: Int32Array.from(fixture.position),
    labels: Int32Array.from(fixture.labels),
    classes: fixture.classes,
  };
  const n = fixture.weights.length;
  const neurons = Array.from({ length: n }, (_, i) => i);
  const probe: ProbeWeights = {
    weights: Float32Array.from(fixture.weights.flat()),
    classes: fixture.classes,
    neurons,
    space: neuronSpace("hidden", fixture.hidden),
  };
  const activations = matrix(fixture.activations.length, n, Float32Array.from(fixture.activations.flat()));
  const columns = neurons.map((j) => Float32Array.from(fixture.activations, (row) => row[j]));
  return { fixture, rows, probe, activations, columns, neurons };
}
