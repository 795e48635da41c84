import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  alignPieces,
  javaTokenLabel,
  labelJavaSource,
  labelJavaTokenLines,
} from "../../src/data/java/label.js";
import { JavaLexError, lexJava } from "../../src/data/java/lexer.js";
import { InputError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { sharedData } from "./shared.js";

const kinds = (src: string): string[] => lexJava(src).tokens.map((t) => `${t.kind}:${t.text}`);
const labels = (src: string): string => labelJavaSource(src, { sentence: "file" }).labels.flat().join(" ");

describe("Java lexer: javalang token classes", () => {
  it("classifies words like javalang (Keyword / Modifier / BasicType / Boolean / Null / Identifier)", () => {
    expect(kinds("public static void main ( String [ ] args )")).toEqual([
      "Modifier:public",
      "Modifier:static",
      "Keyword:void",
      "Identifier:main",
      "Separator:(",
      "Identifier:String",
      "Separator:[",
      "Separator:]",
      "Identifier:args",
      "Separator:)",
    ]);
    expect(kinds("int x = true ? null : false; default var record $a _b é")).toEqual([
      "BasicType:int",
      "Identifier:x",
      "Operator:=",
      "Boolean:true",
      "Operator:?",
      "Null:null",
      "Operator::",
      "Boolean:false",
      "Separator:;",
      "Modifier:default",
      "Identifier:var",
      "Identifier:record",
      "Identifier:$a",
      "Identifier:_b",
      "Identifier:é",
    ]);
  });

  it("reads numbers with javalang's rules", () => {
    const cases: [string, string][] = [
      ["0", "DecimalInteger"],
      ["42", "DecimalInteger"],
      ["1_000_000", "DecimalInteger"],
      ["10L", "DecimalInteger"],
      ["0L", "DecimalInteger"],
      ["09", "DecimalInteger"],
      ["0777", "OctalInteger"],
      ["0x1F", "HexInteger"],
      ["0xFFFFL", "HexInteger"],
      ["0b1010", "BinaryInteger"],
      ["1.5", "DecimalFloatingPoint"],
      [".5", "DecimalFloatingPoint"],
      ["1.", "DecimalFloatingPoint"],
      ["1e10", "DecimalFloatingPoint"],
      ["1.5E-3", "DecimalFloatingPoint"],
      ["2f", "DecimalFloatingPoint"],
      ["3.0d", "DecimalFloatingPoint"],
      ["0x1.8p1", "HexFloatingPoint"],
      ["0x1p-3f", "HexFloatingPoint"],
    ];
    for (const [text, kind] of cases) expect(kinds(text), text).toEqual([`${kind}:${text}`]);
  });

  it("keeps javalang's operator set: >> and >>> are split, >>= and >>>= are one token", () => {
    expect(kinds("a >> b >>> c >>= d >>>= e << f <<= g")).toEqual([
      "Identifier:a",
      "Operator:>",
      "Operator:>",
      "Identifier:b",
      "Operator:>",
      "Operator:>",
      "Operator:>",
      "Identifier:c",
      "Operator:>>=",
      "Identifier:d",
      "Operator:>>>=",
      "Identifier:e",
      "Operator:<<",
      "Identifier:f",
      "Operator:<<=",
      "Identifier:g",
    ]);
    expect(kinds("List<List<String>> x")).toEqual([
      "Identifier:List",
      "Operator:<",
      "Identifier:List",
      "Operator:<",
      "Identifier:String",
      "Operator:>",
      "Operator:>",
      "Identifier:x",
    ]);
    expect(kinds("f(a...); x -> y; A::b; a.b")).toContain("Operator:...");
    expect(kinds("x -> y; A::b")).toEqual([
      "Identifier:x",
      "Operator:->",
      "Identifier:y",
      "Separator:;",
      "Identifier:A",
      "Operator:::",
      "Identifier:b",
    ]);
  });

  it("reads strings, characters, text blocks and annotations; drops comments", () => {
    expect(kinds(`@Override /* c */ String s = "a \\"b\\" c"; // end`)).toEqual([
      "Annotation:@",
      "Identifier:Override",
      "Identifier:String",
      "Identifier:s",
      "Operator:=",
      'String:"a \\"b\\" c"',
      "Separator:;",
    ]);
    expect(kinds(`char c = '\\n'; char d = '\\u0041'; char e = '\\377';`)).toEqual([
      "BasicType:char",
      "Identifier:c",
      "Operator:=",
      "Character:'\\n'",
      "Separator:;",
      "BasicType:char",
      "Identifier:d",
      "Operator:=",
      "Character:'A'",
      "Separator:;",
      "BasicType:char",
      "Identifier:e",
      "Operator:=",
      "Character:'\\377'",
      "Separator:;",
    ]);
    const block = 'String t = """\n    hello "world"\n    \\"""\n    """;\nint y;';
    const toks = lexJava(block).tokens;
    expect(toks[3]).toMatchObject({ kind: "String", line: 1, text: block.slice(11, block.indexOf(";")) });
    expect(toks.at(-2)).toMatchObject({ text: "y", line: 5 });
    expect(kinds("/** javadoc */ x /* a\nb */ y")).toEqual(["Identifier:x", "Identifier:y"]);
  });

  it("translates unicode escapes before lexing (token text is the translated text)", () => {
    expect(kinds("\\u0041bc = \\uuu0031;")).toEqual([
      "Identifier:Abc",
      "Operator:=",
      "DecimalInteger:1",
      "Separator:;",
    ]);
    // An escaped backslash is not the start of a unicode escape.
    expect(kinds('"\\\\u0041"')).toEqual(['String:"\\\\u0041"']);
    expect(kinds("char c = '\\u0000';").at(-2)).toBe("Character:'\u0000'");
    // Offsets and lines refer to the original text.
    const src = 'a\\u0041b c\n"\\u00e9" x';
    expect(lexJava(src).tokens.map((t) => [t.text, t.offset, t.end, t.line])).toEqual([
      ["aAb", 0, 8, 1],
      ["c", 9, 10, 1],
      ['"é"', 11, 19, 2],
      ["x", 20, 21, 2],
    ]);
  });

  it("reports unterminated strings, characters, text blocks and comments with the line where they start", () => {
    const line = (src: string): number => {
      try {
        lexJava(src);
      } catch (e) {
        expect(e).toBeInstanceOf(JavaLexError);
        return (e as JavaLexError).line;
      }
      return -1;
    };
    expect(line('int a;\nString s = "abc;\nint b;')).toBe(2);
    expect(line("int a;\nchar c = 'x;\n")).toBe(2);
    expect(line('a;\nb;\nString t = """\nabc\n')).toBe(3);
    expect(line("a;\n/* never closed\n\nb;")).toBe(2);
    expect(line("a;\nb # c;")).toBe(2);
    expect(line('x;\n"bad \\q escape";')).toBe(2);
    expect(line("x;\ny = \\u00G1;")).toBe(2);
    expect(line('String s = "ok";')).toBe(-1);
  });

  it("skips bad lines when asked and records them", () => {
    const src = 'int a = 1;\nString s = "abc;\nint b = 2;\n/* open\nint c;';
    expect(() => labelJavaSource(src, { file: "A.java" })).toThrow(/A\.java:2: unterminated string literal/);
    const r = labelJavaSource(src, { file: "A.java", skipBadLines: true });
    // Lines go, never the rest of the input: after the unterminated comment's line, lexing goes on.
    expect(r.sentences).toEqual([
      ["int", "a", "=", "1", ";"],
      ["int", "b", "=", "2", ";"],
      ["int", "c", ";"],
    ]);
    expect(r.sourceLines).toEqual([1, 3, 5]);
    expect(r.skipped).toEqual([
      { line: 2, reason: "unterminated string literal" },
      { line: 4, reason: "unterminated block comment" },
    ]);
  });
});

describe("Java labels: the paper's scheme (docs/DESIGN.md)", () => {
  it("labels word classes and literals", () => {
    expect(labels("public final int x = 0x1F + 07 + 0b1 + 1.5 + 2 + 0x1p1;")).toBe(
      "MODIFIER MODIFIER TYPE IDENT EQUAL UNKNOWN PLUS UNKNOWN PLUS UNKNOWN PLUS NUMBER PLUS NUMBER PLUS UNKNOWN SEMI",
    );
    expect(labels("if (x == null) return true; else s = \"a\" + 'c';")).toBe(
      "KEYWORD LPAR IDENT EQEQUAL IDENT RPAR KEYWORD BOOL SEMI KEYWORD IDENT EQUAL STRING PLUS UNKNOWN SEMI",
    );
    expect(labelJavaSource("c = 'c';", { charLiteralLabel: "STRING" }).labels[0]).toEqual([
      "IDENT",
      "EQUAL",
      "STRING",
      "SEMI",
    ]);
  });

  it("labels every operator and separator by the table, including PLUSEUQAL (sic)", () => {
    const table: Record<string, string> = {
      "(": "LPAR",
      ")": "RPAR",
      ".": "DOT",
      ";": "SEMI",
      ",": "COMMA",
      "=": "EQUAL",
      "{": "LBRACE",
      "}": "RBRACE",
      "[": "LSQB",
      "]": "RSQB",
      "<": "LESS",
      ">": "GREATER",
      "==": "EQEQUAL",
      "!=": "NOTEQUAL",
      "+": "PLUS",
      "-": "MINUS",
      "*": "STAR",
      "/": "SLASH",
      "?": "CONDITIONOP",
      ":": "COLON",
      "&&": "AND",
      "||": "OR",
      "!": "NOT",
      "++": "DOUBLEPLUS",
      "--": "DOUBLEMINUS",
      "+=": "PLUSEUQAL",
      "-=": "MINEQUAL",
      "@": "AT",
      "...": "ELLIPSIS",
      "::": "DOUBLECOLON",
      "->": "RARROW",
      "<<": "LEFTSHIFT",
      "&": "AMPER",
      "|": "VBAR",
      "^": "CIRCUMFLEX",
      "%": "PERCENT",
      "~": "TILDE",
      "<=": "LESSEQUAL",
      ">=": "GREATEREQUAL",
      "*=": "STAREQUAL",
      "/=": "SLASHEQUAL",
      "%=": "PERCENTEQUAL",
      "&=": "AMPEREQUAL",
      "|=": "VBAREQUAL",
      "^=": "CIRCUMFLEXEQUAL",
      "<<=": "LEFTSHIFTEQUAL",
      ">>=": "RIGHTSHIFTEQUAL",
      ">>>=": "UNSIGNEDRIGHTSHIFTEQUAL",
    };
    for (const [op, label] of Object.entries(table)) {
      const toks = lexJava(op).tokens;
      expect(toks.length, op).toBe(1);
      expect(javaTokenLabel(toks[0].kind, toks[0].text), op).toBe(label);
    }
  });

  it("reproduces the labels of a real NeuroX sample of the paper's data", () => {
    const inText = readFileSync(sharedData("neurox-sample/test.in"), "utf8");
    const expected = readFileSync(sharedData("neurox-sample/test.label"), "utf8")
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => l.trim());
    const r = labelJavaTokenLines(inText);
    expect(r.labels.map((l) => l.join(" "))).toEqual(expected);
  });

  it("groups whole-file source into one sentence per line; multi-line tokens belong to their first line", () => {
    const r = labelJavaSource('class A {\n  String t = """\n    x\n    """;\n\n  int y; // c\n}\n');
    expect(r.sentences.map((s) => s.length)).toEqual([3, 4, 1, 3, 1]);
    expect(r.sourceLines).toEqual([1, 2, 4, 6, 7]);
    expect(r.labels[1]).toEqual(["IDENT", "IDENT", "EQUAL", "STRING"]);
  });
});

describe("pre-tokenized Java lines", () => {
  it("keeps pieces whole, joins a literal with spaces back into one token, flags non-tokens", () => {
    const r = labelJavaTokenLines("s = \"a  b\" + ' ' ; \nx = a.b ; \n\n// c d \n", { file: "t.in" });
    expect(r.sentences[0]).toEqual(["s", "=", '"a  b"', "+", "' '", ";"]);
    expect(r.labels[0]).toEqual(["IDENT", "EQUAL", "STRING", "PLUS", "UNKNOWN", "SEMI"]);
    expect(r.sentences[1]).toEqual(["x", "=", "a.b", ";"]);
    expect(r.labels[1]).toEqual(["IDENT", "EQUAL", "UNKNOWN", "SEMI"]);
    expect(r.sentences[2]).toEqual(["//", "c", "d"]);
    expect(r.anomalies).toEqual([
      { line: 2, token: "a.b", reason: "lexes as 3 tokens" },
      { line: 4, token: "//", reason: "not a token (comment?)" },
      { line: 4, token: "c", reason: "not a token (comment?)" },
      { line: 4, token: "d", reason: "not a token (comment?)" },
    ]);
    expect(r.sourceLines).toEqual([1, 2, 4]);
  });

  it("does not translate unicode escapes a second time", () => {
    const r = labelJavaTokenLines('s = "\\u0041" ;');
    expect(r.sentences[0][2]).toBe('"\\u0041"');
  });

  it("names the line of a bad piece, or skips it", () => {
    expect(() => labelJavaTokenLines('a ;\nb = "open ;\n', { file: "t.in" })).toThrow(InputError);
    expect(() => labelJavaTokenLines('a ;\nb = "open ;\n', { file: "t.in" })).toThrow(/t\.in:2:/);
    const r = labelJavaTokenLines('a ;\nb = "open ;\nc ;', { skipBadLines: true });
    expect(r.sentences).toEqual([
      ["a", ";"],
      ["c", ";"],
    ]);
    expect(r.skipped.map((s) => s.line)).toEqual([2]);
  });

  it("never drops or invents a token on the real data (token count equals the number of pieces)", () => {
    const lines = readFileSync(sharedData("java-token-lines/valid.in"), "utf8").split("\n").slice(0, 4000);
    const r = labelJavaTokenLines(lines.join("\n"));
    const nonEmpty = lines.filter((l) => l.trim().length > 0);
    expect(r.sentences.length).toBe(nonEmpty.length);
    for (let i = 0; i < nonEmpty.length; i++) {
      expect(r.sentences[i]).toEqual(nonEmpty[i].replace(/ $/, "").split(" "));
      expect(r.labels[i].length).toBe(r.sentences[i].length);
    }
    expect(r.anomalies).toEqual([]);
  });

  it("aligns tokens that span pieces", () => {
    const line = '"a b" x';
    const groups = alignPieces(line, lexJava(line).tokens);
    expect(groups.map((g) => [g.start, g.end, g.tokenCount, g.token?.kind])).toEqual([
      [0, 5, 1, "String"],
      [6, 7, 1, "Identifier"],
    ]);
  });
});

describe("Java lexer properties", () => {
  const realLines = readFileSync(sharedData("java-token-lines/train.in"), "utf8").split("\n").slice(0, 3000);

  it("token texts are the source text at their offsets, in order, with only blanks and comments between", () => {
    const rng = new Rng(5);
    for (let k = 0; k < 200; k++) {
      // Re-space real token lines with random blanks, line breaks and comments.
      const pieces = realLines[rng.int(realLines.length)].trim().split(" ");
      const sep = [" ", "\n", "\t", " /* c */ ", "  ", "\n// x\n"];
      const src = pieces.map((p) => p + sep[rng.int(sep.length)]).join("");
      const toks = lexJava(src).tokens;
      let at = 0;
      for (const t of toks) {
        expect(src.slice(t.offset, t.end)).toBe(t.text);
        expect(
          src
            .slice(at, t.offset)
            .replace(/\/\*.*?\*\/|\/\/[^\n]*/gs, "")
            .trim(),
        ).toBe("");
        at = t.end;
      }
      const label = labelJavaSource(src, { sentence: "file" });
      expect(label.sentences.flat().length).toBe(toks.length);
    }
  });

  it("never crashes or hangs on random truncations and mutations: tokens or a JavaLexError", () => {
    const rng = new Rng(9);
    const noise = [
      '"',
      "'",
      "\\",
      "/*",
      "*/",
      "//",
      "\n",
      "\\u00",
      "\\u0041",
      '"""',
      "0x",
      "@",
      "#",
      "`",
      "\u0000",
    ];
    for (let k = 0; k < 1500; k++) {
      let s = realLines
        .slice(rng.int(realLines.length - 5))
        .slice(0, 1 + rng.int(4))
        .join("\n");
      s = s.slice(0, rng.int(s.length + 1));
      for (let m = rng.int(4); m > 0; m--) {
        const at = rng.int(s.length + 1);
        s = s.slice(0, at) + noise[rng.int(noise.length)] + s.slice(at + rng.int(3));
      }
      for (const onError of ["throw", "skip-line"] as const) {
        try {
          const r = lexJava(s, { onError });
          for (const t of r.tokens) expect(t.text.length).toBeGreaterThan(0);
        } catch (e) {
          expect(e).toBeInstanceOf(JavaLexError);
        }
      }
      try {
        labelJavaTokenLines(s, { file: "fuzz.in" });
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        expect((e as InputError).message).toMatch(/^fuzz\.in:\d+: /);
      }
    }
  });
});
