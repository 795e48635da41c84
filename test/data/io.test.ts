import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeToken, encodeToken } from "../../src/data/escape.js";
import {
  formatLabels,
  formatSentences,
  labelCounts,
  parseLabelled,
  parseSentences,
  readLabelled,
  writeLabelled,
} from "../../src/data/io.js";
import { InputError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";

const tmp = (): string => mkdtempSync(join(tmpdir(), "cn-data-io-"));

describe("token escape", () => {
  it("writes tokens without blanks and reads them back exactly", () => {
    const cases: [string, string][] = [
      ["plain", "plain"],
      ['"a b"', '"a\u2581b"'],
      ["\ttab", "\u27e69\u27e7tab"],
      ['"""\n x\n"""', '"""\u27e6a\u27e7\u2581x\u27e6a\u27e7"""'],
      ["\u2581", "\u27e62581\u27e7"],
      ["\u27e6", "\u27e627e6\u27e7"],
      ["\u27e7", "\u27e7"],
      ["\ufeff\u00a0\u2028", "\u27e6feff\u27e7\u27e6a0\u27e7\u27e62028\u27e7"],
      ["\u001c", "\u27e61c\u27e7"],
    ];
    for (const [raw, escaped] of cases) {
      expect(encodeToken(raw)).toBe(escaped);
      expect(decodeToken(escaped)).toBe(raw);
    }
  });

  it("round-trips random tokens made of awkward characters", () => {
    const rng = new Rng(3);
    const alphabet = [
      " ",
      "\t",
      "\n",
      "\r",
      "\u2581",
      "\u27e6",
      "\u27e7",
      "a",
      "9",
      "⟦9⟧",
      "\u0085",
      "'",
      '"',
      "\\",
      "é",
      "😀",
    ];
    for (let k = 0; k < 2000; k++) {
      let s = "";
      for (let n = 1 + rng.int(8); n > 0; n--) s += alphabet[rng.int(alphabet.length)];
      const e = encodeToken(s);
      expect(/[\s]/u.test(e)).toBe(false);
      expect(decodeToken(e)).toBe(s);
    }
  });

  it("rejects what no token encodes to", () => {
    for (const bad of [
      "",
      "a b",
      "a\tb",
      "\u27e6",
      "\u27e6zz\u27e7",
      "\u27e641\u27e7",
      "\u27e6110000\u27e7",
      "\u27e6A\u27e7",
    ])
      expect(decodeToken(bad), JSON.stringify(bad)).toBeUndefined();
  });
});

describe(".in / .label files", () => {
  it("writes atomically and reads back the same corpus", async () => {
    const dir = tmp();
    const corpus = {
      sentences: [["String", "s", "=", '"a b"', ";"], ["x"], ["\t", "\u2581"]],
      labels: [["IDENT", "IDENT", "EQUAL", "STRING", "SEMI"], ["IDENT"], ["UNKNOWN", "UNKNOWN"]],
    };
    const paths = await writeLabelled(join(dir, "p"), corpus);
    expect(paths).toEqual({ in: join(dir, "p.in"), label: join(dir, "p.label") });
    expect(await readLabelled(join(dir, "p"))).toEqual(corpus);
    expect(formatSentences(corpus.sentences)).toBe(
      'String s = "a\u2581b" ;\nx\n\u27e69\u27e7 \u27e62581\u27e7\n',
    );
  });

  it("accepts the paper's trailing spaces and CRLF line ends", () => {
    const c = parseLabelled("a b \r\nc \n", "IDENT DOT \r\nIDENT \n", { in: "x.in", label: "x.label" });
    expect(c).toEqual({ sentences: [["a", "b"], ["c"]], labels: [["IDENT", "DOT"], ["IDENT"]] });
  });

  it("names the file and line of a count mismatch", () => {
    const paths = { in: "x.in", label: "x.label" };
    expect(() => parseLabelled("a b\nc d\n", "L L\nL\n", paths)).toThrow(
      "x.label:2: 1 labels but x.in line 2 has 2 tokens",
    );
    expect(() => parseLabelled("a\nb\n", "L\n", paths)).toThrow("x.label:2: 1 lines but x.in has 2 lines");
    expect(() => parseLabelled("a\n", "L\nL\n", paths)).toThrow("x.label:2: 2 lines but x.in has 1 lines");
    // The one sentence-file reader (extraction reads the same way): runs of whitespace separate tokens.
    expect(parseSentences("a  b\t c\n", "x.in")).toEqual([["a", "b", "c"]]);
    expect(() => parseSentences("ok\na \u27e6zz\u27e7\n", "x.in")).toThrow(/x\.in:2 \(field 'token 2'\)/);
  });

  it("rejects bytes that are not UTF-8 and missing files, naming the file", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "b.in"), Buffer.from([0x61, 0xff, 0x0a]));
    writeFileSync(join(dir, "b.label"), "L\n");
    await expect(readLabelled(join(dir, "b"))).rejects.toThrow(/b\.in: not valid UTF-8/);
    await expect(readLabelled(join(dir, "missing"))).rejects.toThrow(/missing\.in: no such file/);
  });

  it("fuzz: random truncations and mutations give a corpus or an InputError, never another error", () => {
    const rng = new Rng(21);
    const inText = formatSentences([["a", "b", '"x y"'], ["c"], ["d", "e\tf"]]);
    const labelText = formatLabels([["A", "B", "S"], ["C"], ["D", "E"]]);
    const noise = [" ", "\n", "\r", "\t", "\u2581", "\u27e6", "\u27e7", "x", "\u27e641\u27e7", ""];
    for (let k = 0; k < 3000; k++) {
      const mutate = (s: string): string => {
        let t = s.slice(0, rng.int(s.length + 1)) + (rng.int(2) ? s.slice(rng.int(s.length + 1)) : "");
        for (let m = rng.int(3); m > 0; m--) {
          const at = rng.int(t.length + 1);
          t = t.slice(0, at) + noise[rng.int(noise.length)] + t.slice(at + rng.int(2));
        }
        return t;
      };
      try {
        const c = parseLabelled(mutate(inText), mutate(labelText), { in: "f.in", label: "f.label" });
        for (let i = 0; i < c.sentences.length; i++) expect(c.labels[i].length).toBe(c.sentences[i].length);
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
      }
    }
  });

  it("counts labels, most frequent first", () => {
    expect(
      labelCounts([
        ["A", "B", "A"],
        ["C", "A", "B"],
      ]),
    ).toEqual({ A: 3, B: 2, C: 1 });
    expect(Object.keys(labelCounts([["B", "A"]]))).toEqual(["A", "B"]);
  });
});
