import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { labelPythonSource } from "../../src/data/python/label.js";
import { tokenizePython } from "../../src/data/python/lexer.js";
import { InputError } from "../../src/util/errors.js";
import { sharedData } from "./shared.js";

const one = (src: string): [string, string][] => {
  const r = labelPythonSource(src, { sentence: "file" });
  return r.sentences.flat().map((t, i) => [t, r.labels.flat()[i]]);
};

describe("Python labels: tokenize categories", () => {
  it("splits NAME into KEYWORD and NAME, names operators exactly, keeps f-strings and prefixes whole", () => {
    expect(one("def f(x=None, *a):\n    return x += 1 if True else f'{x!r}' + rb'\\d'\n")).toEqual([
      ["def", "KEYWORD"],
      ["f", "NAME"],
      ["(", "LPAR"],
      ["x", "NAME"],
      ["=", "EQUAL"],
      ["None", "KEYWORD"],
      [",", "COMMA"],
      ["*", "STAR"],
      ["a", "NAME"],
      [")", "RPAR"],
      [":", "COLON"],
      ["return", "KEYWORD"],
      ["x", "NAME"],
      ["+=", "PLUSEQUAL"],
      ["1", "NUMBER"],
      ["if", "KEYWORD"],
      ["True", "KEYWORD"],
      ["else", "KEYWORD"],
      ["f'{x!r}'", "STRING"],
      ["+", "PLUS"],
      ["rb'\\d'", "STRING"],
    ]);
  });

  it("drops NEWLINE, NL, INDENT, DEDENT, COMMENT and blank error tokens; stray characters are UNKNOWN", () => {
    expect(one("# c\nif a:  # x\n\n    b = 1j\nmatch $ ?\n")).toEqual([
      ["if", "KEYWORD"],
      ["a", "NAME"],
      [":", "COLON"],
      ["b", "NAME"],
      ["=", "EQUAL"],
      ["1j", "NUMBER"],
      ["match", "NAME"],
      ["$", "UNKNOWN"],
      ["?", "UNKNOWN"],
    ]);
  });

  it("one sentence per line; a multi-line string belongs to its first line", () => {
    const r = labelPythonSource('x = """a\nb"""\ny = (1,\n  2)\n');
    expect(r.sentences).toEqual([
      ["x", "=", '"""a\nb"""'],
      ["y", "=", "(", "1", ","],
      ["2", ")"],
    ]);
    expect(r.sourceLines).toEqual([1, 3, 4]);
  });

  it("a tokenize error names the line, or skips that line (never the input) when asked", () => {
    expect(() => labelPythonSource("x = 1\ny = (2,\n", { file: "a.py" })).toThrow(InputError);
    expect(() => labelPythonSource("if x:\n        a\n    b\n", { file: "a.py" })).toThrow(
      "a.py:3: unindent does not match any outer indentation level",
    );
    const r = labelPythonSource("s = '''open\n", { file: "a.py", skipBadLines: true });
    expect(r.sentences).toEqual([]);
    expect(r.skipped).toEqual([{ line: 1, reason: "EOF in multi-line string" }]);
    // One bad line among good ones: only it goes (issue 18: the whole file went).
    const src = "a = 1\nif x:\n        b = 2\n    c = 3\nd = '''open\ne = (4,\nf = 5\n";
    const k = labelPythonSource(src, { file: "b.py", skipBadLines: true });
    expect(k.skipped.map((s) => s.line)).toEqual([4, 5, 6]);
    expect(k.sourceLines).toEqual([1, 2, 3, 7]);
    expect(k.sentences[0]).toEqual(["a", "=", "1"]);
    expect(k.sentences.at(-1)).toEqual(["f", "=", "5"]);
  });

  it("never drops or invents a token on CoSQA: one label per kept tokenize token", () => {
    const records = JSON.parse(readFileSync(sharedData("cosqa/cosqa-dev.json"), "utf8")) as {
      code: string;
    }[];
    for (const { code } of records) {
      const kept = tokenizePython(code).filter(
        (t) =>
          ["NAME", "NUMBER", "STRING", "OP"].includes(t.type) || (t.type === "ERRORTOKEN" && t.text.trim()),
      );
      const r = labelPythonSource(code);
      expect(r.sentences.flat()).toEqual(kept.map((t) => t.text));
      expect(r.labels.flat().length).toBe(kept.length);
    }
  });
});
