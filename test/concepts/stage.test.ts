import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseProbeWeights, runConcepts } from "../../src/concepts/stage.js";
import { readConceptsFile } from "../../src/serve/concepts-file.js";
import { InputError } from "../../src/util/errors.js";
import { parseJsonText } from "../../src/util/json.js";
import { Rng } from "../../src/util/rng.js";
import { makeResultsDir } from "../fixtures/report/make-results.js";
import { mangledJsonTexts } from "../fuzz/json-mutations.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cn-concepts-cli-"));
  await makeResultsDir(dir);
});

/** Random truncations and character swaps of a valid file: each must parse or give an InputError. */
function fuzz(text: string, seed: number, parse: (t: string) => unknown): void {
  for (const t of mangledJsonTexts(text, seed, 300)) {
    try {
      parse(t);
    } catch (e) {
      expect(e, (e as Error).stack).toBeInstanceOf(InputError);
    }
  }
}

describe("the concepts stage's inputs (concepts/stage.ts)", () => {
  it("reads probe weights in their one layout (classes × neurons), with neuron ids from neurons, layers or the store", () => {
    const classMajor = {
      classes: ["A", "B"],
      weights: [
        [1, 2, 3],
        [4, 5, 6],
      ],
      neurons: [10, 11, 12],
    };
    const p = parseProbeWeights(classMajor, "p.json", 8, [0, 1]);
    expect(Array.from(p.weights)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(p.neurons).toEqual([10, 11, 12]);
    const nested = { probe: { classes: ["A", "B"], weights: classMajor.weights, layers: [2] } };
    const q = parseProbeWeights(nested, "p.json", 3, [0, 1, 2]);
    expect(Array.from(q.weights)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(q.neurons).toEqual([6, 7, 8]);
    // The orientation is never guessed from the shape: neurons × classes is refused, naming the layout.
    const neuronMajor = {
      classes: ["A", "B"],
      weights: [
        [1, 4],
        [2, 5],
        [3, 6],
      ],
      layers: [2],
    };
    expect(() => parseProbeWeights(neuronMajor, "p.json", 3, [0, 1, 2])).toThrow(
      /p\.json \(field 'weights'\): expected 2 × 3 weights \(outputs × inputs/,
    );
    expect(() => parseProbeWeights({ classes: ["A", "B"], weights: [[1, 2]] }, "p.json", 3, [0])).toThrow(
      /p\.json \(field 'weights'\): expected 2 × 3/,
    );
    expect(() => parseProbeWeights({ classes: ["A"], weights: [[1]] }, "p.json", 1, [0])).toThrow(
      /two classes/,
    );
  });

  it("fuzz: mangled probe and concepts files give an InputError, never a crash", async () => {
    const probe = readFileSync(join(dir, "probe.json"), "utf8");
    fuzz(probe, 5, (t) =>
      parseProbeWeights(
        parseJsonText(t, "probe.json"),
        "probe.json",
        8,
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
      ),
    );
    const concepts = readFileSync(join(dir, "concepts", "concepts.json"), "utf8");
    const file = join(dir, "fuzz-concepts.json");
    const rng = new Rng(6);
    for (let i = 0; i < 60; i++) {
      const chars = [...concepts];
      if (i % 2) chars.length = rng.int(chars.length);
      else for (let m = 0; m < 3; m++) chars[rng.int(chars.length)] = ["}", "]", '"', "0", "x"][rng.int(5)];
      writeFileSync(file, chars.join(""));
      await readConceptsFile(file).catch((e) => expect(e).toBeInstanceOf(InputError));
    }
  });

  it("refuses a task that does not match the store, naming the file, line and field", async () => {
    const train = join(dir, "task", "train.tsv");
    const good = readFileSync(train, "utf8");
    const lines = good.split("\n");
    const cols = lines[3].split("\t");
    lines[3] = [cols[0], cols[1], "notTheWord", cols[3]].join("\t");
    writeFileSync(train, lines.join("\n"));
    try {
      const err = await runConcepts({
        store: join(dir, "activations"),
        probe: join(dir, "probe.json"),
        task: join(dir, "task"),
        out: join(dir, "c2"),
        quiet: true,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).message).toMatch(/train\.tsv:4 \(field 'token'\): token 'notTheWord'/);
    } finally {
      writeFileSync(train, good);
    }
  });

  it("writes the same concepts.json for the same inputs", async () => {
    const opts = {
      store: join(dir, "activations"),
      probe: join(dir, "probe.json"),
      task: join(dir, "task"),
      quiet: true,
    };
    await runConcepts({ ...opts, out: join(dir, "r1") });
    await runConcepts({ ...opts, out: join(dir, "r2") });
    expect(readFileSync(join(dir, "r1", "concepts.json"), "utf8")).toBe(
      readFileSync(join(dir, "r2", "concepts.json"), "utf8"),
    );
  });
});
