import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { LabelledCorpus } from "../../src/data/io.js";
import { defaultTaskClasses } from "../../src/data/label.js";
import { type PerSplit, SPLITS } from "../../src/data/splits.js";
import {
  binaryPredicate,
  buildBinary,
  buildTokenTagging,
  NEGATIVE,
  POSITIVE,
  type TaskBuild,
  type TaskSource,
  writeTask,
} from "../../src/data/task/build.js";
import { controlTask } from "../../src/data/task/control.js";
import { type Candidate, selectTask } from "../../src/data/task/select.js";
import {
  checkTaskAgainstSentences,
  formatTaskTsv,
  parseTaskTsv,
  readTask,
  readTaskSplit,
  taskRows,
} from "../../src/data/task/tsv.js";
import { InputError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";

const source = (corpus: LabelledCorpus, prefix: string): TaskSource => ({
  prefix,
  in: `${prefix}.in`,
  label: `${prefix}.label`,
  sha256: { in: "0", label: "0" },
  corpus,
});

/** A synthetic split: `n` sentences of tokens drawn per class from the given vocabularies. */
function synthetic(seed: number, n: number, vocab: Record<string, string[]>): LabelledCorpus {
  const rng = new Rng(seed);
  const classes = Object.keys(vocab);
  const corpus: LabelledCorpus = { sentences: [], labels: [] };
  for (let s = 0; s < n; s++) {
    const words: string[] = [];
    const labels: string[] = [];
    for (let w = 0; w < 6; w++) {
      const cls = classes[rng.int(classes.length)];
      words.push(vocab[cls][rng.int(vocab[cls].length)]);
      labels.push(cls);
    }
    corpus.sentences.push(words);
    corpus.labels.push(labels);
  }
  return corpus;
}

const VOCAB = {
  KEYWORD: ["if", "for", "while", "return", "new", "this", "try", "catch"],
  TYPE: ["int", "long", "byte", "char", "short", "double"],
  IDENT: Array.from({ length: 300 }, (_, i) => `id${i}`),
  NUMBER: Array.from({ length: 40 }, (_, i) => String(i)),
  SEMI: [";"],
};

function syntheticSources(): PerSplit<TaskSource> {
  return {
    train: source(synthetic(1, 400, VOCAB), "train"),
    valid: source(synthetic(2, 200, VOCAB), "valid"),
    test: source(synthetic(3, 200, VOCAB), "test"),
  };
}

const opts = {
  seed: 7,
  caps: { train: 60, valid: 20, test: 25 },
  control: "distribution" as const,
  classes: ["KEYWORD", "TYPE", "IDENT", "NUMBER"],
  closedClasses: ["KEYWORD", "TYPE"],
};

/** The rules of docs/DESIGN.md, asserted on any build. */
function assertRules(build: TaskBuild): void {
  const { rows, wordLists } = build.selection;
  const trainTexts = new Set(rows.train.map((r) => r.token));
  for (const split of ["valid", "test"] as const)
    for (const r of rows[split]) expect(trainTexts.has(r.token), `${split} ${r.token}`).toBe(false);
  for (const [cls, lists] of Object.entries(wordLists)) {
    const seen = new Map<string, string>();
    for (const s of SPLITS)
      for (const w of lists[s]) {
        expect(seen.get(w), `${cls} ${w}`).toBeUndefined();
        seen.set(w, s);
      }
    for (const s of SPLITS) for (const r of rows[s]) if (r.label === cls) expect(seen.get(r.token)).toBe(s);
  }
  for (const s of SPLITS) {
    const src = build.sources[s].corpus;
    for (const r of rows[s]) {
      expect(src.sentences[r.sentence][r.word]).toBe(r.token);
      if (build.kind === "token-tagging") expect(src.labels[r.sentence][r.word]).toBe(r.label);
    }
    const keys = rows[s].map((r) => `${r.sentence}:${r.word}`);
    expect(new Set(keys).size).toBe(keys.length);
  }
}

describe("token tagging selection", () => {
  it("applies the lexical controls and the caps, and accounts for every removed token", () => {
    const build = buildTokenTagging(syntheticSources(), opts);
    assertRules(build);
    const { removed, rows } = build.selection;
    for (const s of SPLITS)
      for (const cls of opts.classes) {
        const r = removed[s][cls];
        expect(r.candidates).toBe(r.otherSplitWordList + r.seenInTrain + r.overCap + r.selected);
        expect(rows[s].filter((x) => x.label === cls).length).toBe(r.selected);
        expect(r.selected).toBeLessThanOrEqual(opts.caps[s]);
      }
    // SEMI is not a class of the task.
    expect(SPLITS.every((s) => rows[s].every((r) => r.label !== "SEMI"))).toBe(true);
    expect(build.selection.wordLists.KEYWORD.train.length).toBeGreaterThan(0);
    expect(build.selection.wordLists.KEYWORD.valid.length).toBeGreaterThan(0);
    expect(build.selection.wordLists.KEYWORD.test.length).toBeGreaterThan(0);
  });

  it("takes train NUMBER tokens unseen in valid/test first", () => {
    // A task needs two classes and rows in every split: IDENT, of many word types, is the other.
    const train = synthetic(1, 400, { NUMBER: ["0", "1", "2", "77", "88"], IDENT: VOCAB.IDENT });
    const other = synthetic(2, 100, { NUMBER: ["0", "1", "2"], IDENT: VOCAB.IDENT });
    const sources = { train: source(train, "t"), valid: source(other, "v"), test: source(other, "x") };
    const caps = { train: 50, valid: 30, test: 30 };
    const classes = ["NUMBER", "IDENT"];
    const numbers = (rows: { label: string; token: string }[]) => rows.filter((r) => r.label === "NUMBER");
    const build = buildTokenTagging(sources, { seed: 1, caps, control: "none", classes });
    expect(new Set(numbers(build.selection.rows.train).map((r) => r.token))).toEqual(new Set(["77", "88"]));
    expect(numbers(build.selection.rows.valid).length).toBe(30);
    const random = buildTokenTagging(sources, { seed: 1, caps, control: "none", classes, preferUnseen: [] });
    expect(numbers(random.selection.rows.valid).length).toBeLessThan(30);
    expect(random.selection.shortfall.some((f) => f.split === "valid" && f.label === "NUMBER")).toBe(true);
  });

  it("is deterministic for a seed and changes with the seed", () => {
    const a = buildTokenTagging(syntheticSources(), opts);
    const b = buildTokenTagging(syntheticSources(), opts);
    const c = buildTokenTagging(syntheticSources(), { ...opts, seed: 8 });
    for (const s of SPLITS)
      expect(formatTaskTsv(a.selection.rows[s])).toBe(formatTaskTsv(b.selection.rows[s]));
    expect(formatTaskTsv(a.control!.rows.train)).toBe(formatTaskTsv(b.control!.rows.train));
    expect(formatTaskTsv(a.selection.rows.train)).not.toBe(formatTaskTsv(c.selection.rows.train));
  });

  it("reports a shortfall with its reason", () => {
    const build = buildTokenTagging(syntheticSources(), {
      ...opts,
      caps: { train: 60, valid: 20, test: 100000 },
    });
    const f = build.selection.shortfall.find((x) => x.split === "test" && x.label === "IDENT");
    expect(f).toBeDefined();
    expect(f!.reason).toMatch(/have a text seen among the selected train tokens/);
  });
});

describe("control task", () => {
  it("gives each word type one label, drawn from the train class distribution (tolerance 0.03)", () => {
    // 3000 types, 70% A / 30% B in train: type-level label shares have a standard deviation of about
    // sqrt(0.21 / 3000) = 0.008, so 0.03 is about 3.5 standard deviations.
    const mk = (prefix: string, n: number, a: number): Candidate[] =>
      Array.from({ length: n }, (_, i) => ({
        sentence: i,
        word: 0,
        token: `${prefix}${i}`,
        label: i < a ? "A" : "B",
      }));
    const rows = { train: mk("t", 2000, 1400), valid: mk("v", 500, 250), test: mk("x", 500, 250) };
    const c = controlTask(rows, ["A", "B"], "distribution", 3);
    expect(c.distribution).toEqual({ A: 0.7, B: 0.3 });
    expect(c.types).toBe(3000);
    const all = [...c.rows.train, ...c.rows.valid, ...c.rows.test];
    const shareA = all.filter((r) => r.label === "A").length / all.length;
    expect(Math.abs(shareA - 0.7)).toBeLessThan(0.03);
    const u = controlTask(rows, ["A", "B"], "uniform", 3);
    const allU = [...u.rows.train, ...u.rows.valid, ...u.rows.test];
    expect(Math.abs(allU.filter((r) => r.label === "A").length / allU.length - 0.5)).toBeLessThan(0.03);
  });

  it("labels every occurrence of a word type the same way, across splits", () => {
    const build = buildTokenTagging(syntheticSources(), opts);
    const byType = new Map<string, string>();
    for (const s of SPLITS)
      for (const r of build.control!.rows[s]) {
        expect(byType.get(r.token) ?? r.label).toBe(r.label);
        byType.set(r.token, r.label);
      }
    for (const s of SPLITS)
      expect(build.control!.rows[s].map((r) => `${r.sentence}:${r.word}`)).toEqual(
        build.selection.rows[s].map((r) => `${r.sentence}:${r.word}`),
      );
  });
});

describe("binary concept tasks", () => {
  it("balances positives and negatives under the same controls", () => {
    const pred = binaryPredicate({ labels: ["NUMBER"] });
    const build = buildBinary(syntheticSources(), pred, {
      seed: 2,
      caps: { train: 50, valid: 15, test: 15 },
      control: "none",
    });
    assertRules(build);
    for (const s of SPLITS) {
      const pos = build.selection.rows[s].filter((r) => r.label === POSITIVE);
      const neg = build.selection.rows[s].filter((r) => r.label === NEGATIVE);
      expect(pos.length).toBe(neg.length);
      expect(pos.length).toBeGreaterThan(0);
      for (const r of pos) expect(build.sources[s].corpus.labels[r.sentence][r.word]).toBe("NUMBER");
      for (const r of neg) expect(build.sources[s].corpus.labels[r.sentence][r.word]).not.toBe("NUMBER");
    }
  });

  it("takes a regular expression on the token text", () => {
    const pred = binaryPredicate({ regex: "^id1" });
    expect(pred.test("id17", "IDENT")).toBe(true);
    expect(pred.test("id2", "IDENT")).toBe(false);
    expect(() => binaryPredicate({ regex: "(" })).toThrow(/--regex/);
    expect(() => binaryPredicate({})).toThrow(/exactly one/);
  });
});

describe("task TSV files", () => {
  it("write and read back, with the control task and summary", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cn-task-"));
    const build = buildTokenTagging(syntheticSources(), opts);
    const summary = await writeTask(dir, build);
    const task = await readTask(dir);
    for (const s of SPLITS) {
      expect(taskRows(task[s])).toEqual(build.selection.rows[s]);
      checkTaskAgainstSentences(task[s], build.sources[s].corpus.sentences, `${s}.tsv`);
    }
    expect((await readTask(dir, { control: true })).train.label).toEqual(
      build.control!.rows.train.map((r) => r.label),
    );
    expect(task.summary).toEqual(JSON.parse(JSON.stringify(summary)));
    expect(readFileSync(join(dir, "train.tsv"), "utf8").split("\n")[0]).toBe("sentence\tword\ttoken\tlabel");
    expect(
      readFileSync(join(dir, "wordlists", "TYPE.valid.txt"), "utf8")
        .trim()
        .split("\n"),
    ).toEqual(build.selection.wordLists.TYPE.valid);
    expect(() =>
      checkTaskAgainstSentences(task.train, build.sources.valid.corpus.sentences, "train.tsv"),
    ).toThrow(/train\.tsv:\d+:/);
  });

  it("a split whose rows per label disagree with summary.json is an error (issue 17: truncated, swapped)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cn-task-counts-"));
    await writeTask(dir, buildTokenTagging(syntheticSources(), opts));
    const train = join(dir, "train.tsv");
    const text = readFileSync(train, "utf8");
    const lines = text.trimEnd().split("\n");
    // Truncated at a line boundary: still a valid TSV, one row short.
    writeFileSync(train, `${lines.slice(0, -1).join("\n")}\n`);
    await expect(readTask(dir)).rejects.toThrow(/train\.tsv: holds \d+ rows labelled .*summary\.json says/);
    await expect(readTaskSplit(train)).rejects.toThrow(InputError);
    // The control task's splits against the summary's control counts; valid.tsv in place of train.tsv.
    writeFileSync(train, readFileSync(join(dir, "valid.tsv")));
    await expect(readTask(dir)).rejects.toThrow(InputError);
    writeFileSync(train, text);
    const controlTrain = join(dir, "control", "train.tsv");
    const control = readFileSync(controlTrain, "utf8");
    writeFileSync(controlTrain, control.replace(/\t([A-Z]+)\n/, "\tNOPE\n"));
    await expect(readTask(dir, { control: true })).rejects.toThrow(/control\/train\.tsv: holds/);
    await expect(readTaskSplit(controlTrain)).rejects.toThrow(InputError);
    writeFileSync(controlTrain, control);
    expect((await readTask(dir)).train.label.length).toBe(lines.length - 1);
    // A summary.json that is someone else's JSON is not the task's: the split reads as it is.
    writeFileSync(join(dir, "summary.json"), JSON.stringify({ note: "not a task summary" }));
    expect((await readTaskSplit(train)).label.length).toBe(lines.length - 1);
    // One that is not JSON at all (a truncated summary) is an error.
    writeFileSync(join(dir, "summary.json"), '{"format": "codeneurons-task", "vers');
    await expect(readTaskSplit(train)).rejects.toThrow(InputError);
  });

  it("keeps tokens with blanks whole, quoting a field with quotes as csv does", () => {
    const rows = [{ sentence: 0, word: 1, token: '"a b"\t', label: "STRING" }];
    expect(formatTaskTsv(rows)).toBe(
      'sentence\tword\ttoken\tlabel\n0\t1\t"""a\u2581b""\u27e69\u27e7"\tSTRING\n',
    );
    expect(taskRows(parseTaskTsv(formatTaskTsv(rows), "x.tsv"))).toEqual(rows);
    // A version 1 task directory wrote the quotes raw; its files still read.
    const raw = 'sentence\tword\ttoken\tlabel\n0\t1\t"a\u2581b"\u27e69\u27e7\tSTRING\n';
    expect(taskRows(parseTaskTsv(raw, "x.tsv", "raw"))).toEqual(rows);
    // Only the canonical quoting reads: a stray or undoubled quote names the field.
    for (const bad of ['a"b', '"a"b"', '"ab', '"ab"'])
      expect(() => parseTaskTsv(`sentence\tword\ttoken\tlabel\n0\t1\t${bad}\tL\n`, "x.tsv")).toThrow(
        /x\.tsv:2 \(field 'token'\)/,
      );
  });

  it("names the line and column of a bad row", () => {
    const h = "sentence\tword\ttoken\tlabel\n";
    expect(() => parseTaskTsv("bad\n", "x.tsv")).toThrow(/^x\.tsv:1: expected the header/);
    expect(() => parseTaskTsv(`${h}0\t1\ta\n`, "x.tsv")).toThrow(
      "x.tsv:2: expected 4 tab-separated columns, found 3",
    );
    expect(() => parseTaskTsv(`${h}0\t1\ta\tL\n-1\t0\tb\tL\n`, "x.tsv")).toThrow(
      /x\.tsv:3 \(field 'sentence'\)/,
    );
    expect(() => parseTaskTsv(`${h}0\t01\ta\tL\n`, "x.tsv")).toThrow(/x\.tsv:2 \(field 'word'\)/);
    expect(() => parseTaskTsv(`${h}0\t1\t\u27e6\tL\n`, "x.tsv")).toThrow(/x\.tsv:2 \(field 'token'\)/);
    expect(() => parseTaskTsv(`${h}0\t1\ta\t\n`, "x.tsv")).toThrow(/x\.tsv:2 \(field 'label'\)/);
  });

  it("fuzz: mutated TSV text gives a task split or an InputError", () => {
    const rng = new Rng(4);
    const text = formatTaskTsv(buildTokenTagging(syntheticSources(), opts).selection.rows.valid.slice(0, 20));
    const noise = ["\t", "\n", "-", "x", " ", "\u27e6", "99999999999", ""];
    for (let k = 0; k < 3000; k++) {
      let t = text.slice(0, rng.int(text.length + 1));
      for (let m = rng.int(4); m > 0; m--) {
        const at = rng.int(t.length + 1);
        t = t.slice(0, at) + noise[rng.int(noise.length)] + t.slice(at + rng.int(3));
      }
      try {
        const split = parseTaskTsv(t, "f.tsv");
        expect(split.token.length).toBe(split.label.length);
        for (const s of split.sentence) expect(s).toBeGreaterThanOrEqual(0);
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
      }
    }
  });
});

describe("selection engine", () => {
  it("gives every closed-class word to exactly one split and meets the caps when the data allow", () => {
    const mk = (counts: Record<string, number>): Candidate[] =>
      Object.entries(counts).flatMap(([w, n]) =>
        Array.from({ length: n }, (_, i) => ({ sentence: i, word: 0, token: w, label: "TYPE" })),
      );
    const candidates = {
      train: mk({ int: 500, long: 100, byte: 50, char: 10 }),
      valid: mk({ int: 200, long: 80, byte: 30, char: 5 }),
      test: mk({ int: 150, long: 40, byte: 45, char: 8 }),
    };
    const sel = selectTask(candidates, {
      classes: ["TYPE"],
      caps: { train: 100, valid: 50, test: 40 },
      closedClasses: ["TYPE"],
      preferUnseen: [],
      unseenInTrain: true,
      seed: 1,
    });
    expect(sel.wordLists.TYPE).toEqual({ train: ["char", "int"], valid: ["long"], test: ["byte"] });
    expect(sel.shortfall).toEqual([]);
  });
});

describe("a task a probe can learn from (issue 18)", () => {
  const caps = { train: 30, valid: 10, test: 10 };

  it("a class without train tokens is an error naming the labels the train split has", () => {
    expect(() =>
      buildTokenTagging(syntheticSources(), { seed: 1, caps, control: "none", classes: ["IDENT", "STRING"] }),
    ).toThrow(
      /class STRING has no tokens in the train split train; its labels are .*IDENT \(\d+\).*choose the classes among them/,
    );
    // One class is no classification.
    expect(() =>
      buildTokenTagging(syntheticSources(), { seed: 1, caps, control: "none", classes: ["IDENT"] }),
    ).toThrow("a token tagging task needs at least two classes, got IDENT");
  });

  it("a split left empty by the lexical controls is an error, not an empty task", () => {
    // Every valid/test token text also occurs in train: nothing is left for valid.
    const same = synthetic(1, 100, { NUMBER: ["0"], TYPE: ["int"] });
    const sources = { train: source(same, "t"), valid: source(same, "v"), test: source(same, "x") };
    expect(() =>
      buildTokenTagging(sources, { seed: 1, caps, control: "none", classes: ["NUMBER", "TYPE"] }),
    ).toThrow(
      /the task's valid split is empty: none of its tokens of NUMBER, TYPE is left after the lexical controls \(v; 100 sentences\)/,
    );
  });

  it("a binary task whose positive tokens are absent is an error naming the predicate", () => {
    expect(() =>
      buildBinary(syntheticSources(), binaryPredicate({ labels: ["STRING"] }), {
        seed: 1,
        caps,
        control: "none",
      }),
    ).toThrow(
      "the task would be empty or have one class: no positive tokens (label in {STRING}) in the train split train; its labels are NUMBER (499)",
    );
  });

  it("the default classes are the language's: Python's tokenize categories, Java's six", () => {
    const py = defaultTaskClasses("python");
    expect([...py.classes]).toEqual(["NAME", "KEYWORD", "NUMBER", "STRING"]);
    expect([...py.closed]).toEqual(["KEYWORD"]);
    expect([...defaultTaskClasses("java").classes]).toEqual([
      "MODIFIER",
      "IDENT",
      "KEYWORD",
      "TYPE",
      "NUMBER",
      "STRING",
    ]);
    expect([...defaultTaskClasses("go").classes]).toEqual(["IDENT", "KEYWORD", "TYPE", "NUMBER", "STRING"]);
    expect([...defaultTaskClasses("javascript").classes]).toEqual(["IDENT", "KEYWORD", "NUMBER", "STRING"]);
    // The splits' PREFIX.meta.json names the language: a Python task by default.
    const corpus = synthetic(3, 200, {
      NAME: VOCAB.IDENT,
      KEYWORD: ["if", "for", "def", "return", "while", "in", "not", "import", "class", "with"],
      NUMBER: VOCAB.NUMBER,
      STRING: Array.from({ length: 80 }, (_, i) => `'s${i}'`),
    });
    const python = (p: string) => ({
      ...source(corpus, p),
      labeler: { lang: "python", parser: "native" as const },
    });
    const build = buildTokenTagging(
      { train: python("t"), valid: python("v"), test: python("x") },
      { seed: 1, caps: { train: 20, valid: 5, test: 5 }, control: "none", unseenInTrain: false },
    );
    expect(build.config.classes).toEqual(["NAME", "KEYWORD", "NUMBER", "STRING"]);
    expect(build.config.closedClasses).toEqual(["KEYWORD"]);
  });
});
