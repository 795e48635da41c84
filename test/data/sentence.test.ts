import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseJsonArray, parseJsonl } from "../../src/data/json.js";
import {
  loadBigCloneBench,
  loadCosqa,
  loadDevign,
  readSentenceSplit,
  whitespaceTokens,
  writeSentenceSplits,
  writeSentenceTask,
} from "../../src/data/sentence/index.js";
import { InputError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { sharedData } from "./shared.js";

const fixtures = new URL("../fixtures/data/sentence/", import.meta.url).pathname;
const tmp = (): string => mkdtempSync(join(tmpdir(), "cn-sentence-"));

describe("sentence-level tasks (CodeXGLUE formats)", () => {
  it("devign: one sentence of whitespace tokens per function, target as label", async () => {
    const split = await loadDevign(join(fixtures, "devign", "train.jsonl"));
    expect(split.name).toBe("train");
    expect(split.a[0]).toEqual(["static", "int", "f(int", "a)", "{", "return", "a", "+", "1;", "}"]);
    expect(split.labels).toEqual(["0", "1", "1"]);
    const out = tmp();
    const summary = await writeSentenceTask("devign", join(fixtures, "devign"), out);
    expect(summary.splits.map((s) => [s.name, s.count, s.pair, s.labels])).toEqual([
      ["train", 3, false, { "0": 1, "1": 2 }],
      ["valid", 2, false, { "0": 1, "1": 1 }],
    ]);
    expect(readFileSync(join(out, "valid.in"), "utf8")).toBe(
      "int k(int x) { return x ? x : -1; }\nvoid m(void) { free(p); free(p); }\n",
    );
    expect(readFileSync(join(out, "valid.label"), "utf8")).toBe("0\n1\n");
    expect(await readSentenceSplit(out, "train")).toEqual(split);
  });

  it("bigclonebench: functions by idx, pairs written as two parallel files", async () => {
    const splits = await loadBigCloneBench(join(fixtures, "bigclonebench"));
    expect(splits.map((s) => s.name)).toEqual(["train", "test"]);
    expect(splits[0].a[0]).toEqual([
      "public",
      "int",
      "add(int",
      "a,",
      "int",
      "b)",
      "{",
      "return",
      "a",
      "+",
      "b;",
      "}",
    ]);
    expect(splits[0].b![2]).toEqual(["public", "String", "hi()", "{", "return", '"hello', 'world";', "}"]);
    expect(splits[0].labels).toEqual(["1", "0", "0"]);
    const out = tmp();
    const summary = await writeSentenceTask("bigclonebench", join(fixtures, "bigclonebench"), out);
    expect(summary.pairRepresentation).toMatch(/concatenation/);
    expect(summary.splits[1].files).toEqual(["test.a.in", "test.b.in", "test.label"]);
    expect(await readSentenceSplit(out, "test")).toEqual(splits[1]);
  });

  it("cosqa: (query, code) pairs, code_tokens when present, else the code split on blanks", async () => {
    const split = await loadCosqa(join(fixtures, "cosqa", "mini.json"));
    expect(split.a[1]).toEqual(["python", "read", "file", "lines"]);
    expect(split.b![0].slice(0, 6)).toEqual(["def", "f", "(", "d", ")", ":"]);
    expect(split.b![1]).toEqual(["def", "g(p):", "print('a", "b')"]);
    expect(split.labels).toEqual(["1", "0"]);
  });

  it("cosqa: the real dev set", async () => {
    const out = tmp();
    const summary = await writeSentenceTask("cosqa", sharedData("cosqa/cosqa-dev.json"), out);
    expect(summary.splits).toEqual([
      {
        name: "cosqa-dev",
        count: 604,
        pair: true,
        labels: { "0": 291, "1": 313 },
        files: ["cosqa-dev.a.in", "cosqa-dev.b.in", "cosqa-dev.label"],
        source: sharedData("cosqa/cosqa-dev.json"),
      },
    ]);
    expect(summary).toMatchObject({ format: "codeneurons-sentence-task", version: 1, dataset: "cosqa" });
    const split = await readSentenceSplit(out, "cosqa-dev");
    expect(split.a[0]).toEqual(["python", "check", "relation", "is", "symmetric"]);
    expect(split.b![0][0]).toBe("def");
  });

  it("names the file, line and field of missing or bad fields", async () => {
    const dir = tmp();
    const f = join(dir, "train.jsonl");
    writeFileSync(f, '{"func": "int a;", "target": 0}\n{"func": "int b;"}\n');
    await expect(loadDevign(f)).rejects.toThrow(`${f}:2 (field 'target'): missing field`);
    writeFileSync(f, '{"func": "int a;", "target": "x"}\n');
    await expect(loadDevign(f)).rejects.toThrow(/:1 \(field 'target'\): expected an integer/);
    writeFileSync(f, '{"func": "   ", "target": 1}\n');
    await expect(loadDevign(f)).rejects.toThrow(/:1 \(field 'func'\): empty/);
    writeFileSync(f, '{"func": "int a;", "target": 0}\n{oops\n');
    await expect(loadDevign(f)).rejects.toThrow(/train\.jsonl:2: not valid JSON/);

    const c = join(dir, "c.json");
    writeFileSync(c, '[\n  {"doc": "q", "code": "x", "label": 1},\n  {"doc": "q", "label": 0}\n]\n');
    await expect(loadCosqa(c)).rejects.toThrow(`${c}:3 (field 'code'): missing field`);

    const b = join(dir, "bcb");
    await expect(loadBigCloneBench(b)).rejects.toThrow(/expected a directory/);
    const d = tmp();
    writeFileSync(join(d, "data.jsonl"), '{"func": "f ( )", "idx": "1"}\n');
    writeFileSync(join(d, "train.txt"), "1\t1\t1\n1\t2\t0\n");
    await expect(loadBigCloneBench(d)).rejects.toThrow(
      `${join(d, "train.txt")}:2 (field 'idx2'): idx '2' is not in data.jsonl`,
    );
    writeFileSync(join(d, "train.txt"), "1\t1\n");
    await expect(loadBigCloneBench(d)).rejects.toThrow(/train\.txt:1: expected 'idx1<TAB>idx2<TAB>label'/);
    await expect(writeSentenceTask("devign", join(dir, "nothing"), tmp())).rejects.toThrow(/no such file/);
  });

  it("splits like Python's str.split()", () => {
    expect(whitespaceTokens(" a\tb\n\u001cc\u00a0d  ")).toEqual(["a", "b", "c", "d"]);
  });

  it("fuzz: mutated JSONL / JSON gives records or an InputError", () => {
    const rng = new Rng(8);
    const jsonl = readFileSync(join(fixtures, "devign", "train.jsonl"), "utf8");
    const json = readFileSync(join(fixtures, "cosqa", "mini.json"), "utf8");
    const noise = ["{", "}", '"', ",", "\n", "[", "]", ":", "\\", "x", ""];
    for (let k = 0; k < 2000; k++) {
      const base = k % 2 === 0 ? jsonl : json;
      let t = base.slice(0, rng.int(base.length + 1)) + (rng.int(2) ? base.slice(rng.int(base.length)) : "");
      for (let m = rng.int(3); m > 0; m--) {
        const at = rng.int(t.length + 1);
        t = t.slice(0, at) + noise[rng.int(noise.length)] + t.slice(at + rng.int(2));
      }
      try {
        const records = k % 2 === 0 ? parseJsonl(t, "f.jsonl") : parseJsonArray(t, "f.json");
        for (const r of records) expect(r.line).toBeGreaterThan(0);
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
      }
    }
  });

  it("a run's three split files: named train/valid/test, at least two labels, no label train lacks", async () => {
    const dir = tmp();
    const rec = (label: number, i: number) => ({
      doc: `query ${i}`,
      code: `def f${i}(): return ${i}`,
      label,
    });
    const write = (name: string, labels: number[]) => {
      writeFileSync(join(dir, name), JSON.stringify(labels.map(rec)));
      return join(dir, name);
    };
    const files = {
      train: write("a.json", [0, 1, 1]),
      valid: write("b.json", [1, 0]),
      test: write("c.json", [0]),
    };
    const summary = await writeSentenceSplits("cosqa", files, join(dir, "task"));
    expect(summary.splits.map((x) => [x.name, x.count, x.pair, x.source])).toEqual([
      ["train", 3, true, files.train],
      ["valid", 2, true, files.valid],
      ["test", 1, true, files.test],
    ]);
    expect(readFileSync(join(dir, "task", "valid.label"), "utf8")).toBe("1\n0\n");
    // One label in train: nothing to probe.
    const one = { ...files, train: write("d.json", [1, 1]) };
    await expect(writeSentenceSplits("cosqa", one, join(dir, "x"))).rejects.toThrow(
      `${one.train}: the train split has one label only (1: 2): a probe needs at least two classes`,
    );
    // An empty split.
    const empty = { ...files, test: write("e.json", []) };
    await expect(writeSentenceSplits("cosqa", empty, join(dir, "y"))).rejects.toThrow(
      `${empty.test}: the test split is empty`,
    );
    // A label no train row has.
    writeFileSync(join(dir, "f.json"), JSON.stringify([{ doc: "q", code: "x", label: 2 }]));
    await expect(
      writeSentenceSplits("cosqa", { ...files, valid: join(dir, "f.json") }, join(dir, "z")),
    ).rejects.toThrow(
      /the valid split has label '2' \(row 1\), which no train row has \(train labels: 0, 1\)/,
    );
  });
});
