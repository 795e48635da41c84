import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  PYTHON_EXACT_TOKEN_TYPES,
  type PythonToken,
  PythonTokenizeError,
  tokenizePython,
} from "../../src/data/python/lexer.js";
import { Rng } from "../../src/util/rng.js";
import { sharedData } from "./shared.js";

// Produced by scripts/reference/python_tokenize_reference.py with CPython 3.11's tokenize module.
type Row = [type: string, exact: string, text: string, line: number];
interface Case {
  tokens?: Row[];
  count?: number;
  sha1?: string;
  error?: string;
  line?: number;
}
const fixture = JSON.parse(
  readFileSync(new URL("../fixtures/data/python_tokenize.json", import.meta.url), "utf8"),
) as {
  cosqa: (Case & { idx: string })[];
  edge: (Case & { source: string })[];
};
const cosqa = JSON.parse(readFileSync(sharedData("cosqa/cosqa-dev.json"), "utf8")) as {
  idx: string;
  code: string;
}[];

function rows(tokens: PythonToken[]): Row[] {
  return tokens.map((t) => [
    t.type,
    t.type === "OP" ? (PYTHON_EXACT_TOKEN_TYPES[t.text] ?? "OP") : t.type,
    t.text,
    t.line,
  ]);
}

/** The reference's digest: SHA-1 of json.dumps(rows, ensure_ascii=True, separators=(",", ":")). */
function digest(r: Row[]): string {
  const ascii = JSON.stringify(r).replace(/[\u007f-\uffff]/g, (c) =>
    c === "\u007f" ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return createHash("sha1").update(ascii, "ascii").digest("hex");
}

function check(source: string, expected: Case): void {
  if (expected.error !== undefined) {
    let err: unknown;
    try {
      tokenizePython(source);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PythonTokenizeError);
    expect((err as PythonTokenizeError).line).toBe(expected.line);
    return;
  }
  const got = rows(tokenizePython(source));
  if (expected.tokens !== undefined) expect(got).toEqual(expected.tokens);
  else {
    expect(got.length).toBe(expected.count);
    expect(digest(got)).toBe(expected.sha1);
  }
}

describe("tokenizePython against CPython 3.11 tokenize", () => {
  it("matches every hand-written edge case token for token (type, exact type, text, row)", () => {
    for (const e of fixture.edge) check(e.source, e);
  });

  it("matches all 604 CoSQA dev snippets token for token", () => {
    expect(fixture.cosqa.length).toBe(604);
    for (let i = 0; i < cosqa.length; i++) {
      expect(cosqa[i].idx).toBe(fixture.cosqa[i].idx);
      check(cosqa[i].code, fixture.cosqa[i]);
    }
  });

  it("never crashes or hangs on random truncations and mutations of real code", () => {
    const rng = new Rng(11);
    const alphabet = ["'", '"', "\\", "\n", "(", ")", "#", " ", "\t", "f", "$", "'''", "0x", "."];
    for (let k = 0; k < 1500; k++) {
      const code = cosqa[rng.int(cosqa.length)].code;
      let s = code.slice(0, rng.int(code.length + 1));
      for (let m = rng.int(4); m > 0; m--) {
        const at = rng.int(s.length + 1);
        s = s.slice(0, at) + alphabet[rng.int(alphabet.length)] + s.slice(at + rng.int(3));
      }
      try {
        const tokens = tokenizePython(s);
        for (const t of tokens) expect(s.includes(t.text)).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(PythonTokenizeError);
      }
    }
  });
});
