#!/usr/bin/python3
"""Reference fixture for codeneurons' Python tokenizer (src/data/python/lexer.ts).

Runs CPython's own `tokenize` (generate_tokens over a str) on
  - every `code` field of the CoSQA dev set (shared/data/cosqa/cosqa-dev.json), and
  - hand-written edge cases (f-strings, prefixes, triple quotes, numbers, continuation lines,
    error tokens, tokenize errors),
and writes test/fixtures/data/python_tokenize.json.

For each input the fixture holds either the token stream (type name, exact OP name, string, start
row) without ENCODING/ENDMARKER, or the error class and row. To keep the fixture small, CoSQA
snippets beyond the first DETAILED are stored as a SHA-1 of the canonical stream (JSON, ASCII-only,
no spaces) plus the token count; the test recomputes the same digest.

Run with Debian's Python 3.11:  /usr/bin/python3 scripts/reference/python_tokenize_reference.py
Only generates fixtures: never called at run time, in tests or in CI.
"""
import hashlib
import io
import json
import sys
import token
import tokenize

COSQA = "/work/shared/data/cosqa/cosqa-dev.json"
OUT = "test/fixtures/data/python_tokenize.json"
DETAILED = 40

EDGE_CASES = [
    "x = 1\n",
    "def f(a, *b, **c) -> int:\n    return a @ b // c ** 2\n",
    "s = f'{x!r:>{width}}' + rb'\\x00' + Rb\"a\" + u'u' + F\"{y}\" + fr'{z}\\d'\n",
    "t = '''multi\nline''' + \"\"\"more\n\"\"\"\n",
    "n = [0, 00, 0_0, 1_000, 0x_FF, 0o17, 0b1010, 1.5, .5, 5., 1e10, 1E-5, 1_0.0_1e+1_0, 3j, 1.5J, 0.0e0j]\n",
    "if a:\n\tb = 1\n        c = 2\nelse:\n  pass\n",
    "x = (1,\n     2)  # comment\n# full line\n\ny = [\n]\n",
    "a = 1 + \\\n    2\n",
    "s = 'abc\\\ndef'\n",
    "print $x ? y\n",
    "a != b; a := 3; a -> b; c ... d\n",
    "x = 'unterminated\ny = 2\n",
    "def g():\n    '''doc'''\n    return None\n",
    "café = naïve + ñ_1\n",
    "x = 1",
    "x = 1  ",
    "# only a comment",
    "\n\n  \n",
    "async def h():\n    await x\n    match y:\n        case _:\n            pass\n",
    "x = {'a': [1, 2], **d} | {b}\n",
    "a <<= 1; b >>= 2; c **= 3; d //= 4; e @= f; g ^= h; i |= j; k &= l; m %= n\n",
    "x = '''never closed\n",
    "x = (1,\n",
    "if x:\n        a\n    b\n",
    "s = 'a\\\n",
    "b = x\r\ny = 2\r\n",
    "λ = 'ü' + \"日本\"\n",
    "x = 1if y else 2\n",
    "print(1_000_000j, 0b_1, 0o_7, 1__2)\n",
    "`x`\n",
]


def stream(src):
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type in (tokenize.ENDMARKER, tokenize.ENCODING):
            continue
        name = token.tok_name[tok.type]
        exact = token.tok_name[tok.exact_type]
        out.append([name, exact, tok.string, tok.start[0]])
    return out


def run(src):
    try:
        return {"tokens": stream(src)}
    except tokenize.TokenError as e:
        return {"error": "TokenError", "message": e.args[0], "line": e.args[1][0]}
    except IndentationError as e:
        return {"error": "IndentationError", "message": e.args[0], "line": e.lineno}


def digest(tokens):
    text = json.dumps(tokens, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha1(text.encode("ascii")).hexdigest()


def main():
    with open(COSQA, encoding="utf-8") as f:
        records = json.load(f)
    cosqa = []
    for i, rec in enumerate(records):
        r = run(rec["code"])
        entry = {"idx": rec["idx"]}
        if "error" in r:
            entry.update(r)
        elif i < DETAILED:
            entry["tokens"] = r["tokens"]
        else:
            entry["count"] = len(r["tokens"])
            entry["sha1"] = digest(r["tokens"])
        cosqa.append(entry)
    edge = [{"source": src, **run(src)} for src in EDGE_CASES]
    fixture = {
        "generator": "scripts/reference/python_tokenize_reference.py",
        "python": sys.version.split()[0],
        "format": "tokens: [type, exact_type, string, start_row]; sha1 over json.dumps(tokens, ensure_ascii=True, separators=(',', ':'))",
        "cosqa": cosqa,
        "edge": edge,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=0)
        f.write("\n")
    errors = sum(1 for e in cosqa if "error" in e) + sum(1 for e in edge if "error" in e)
    print(f"wrote {OUT}: {len(cosqa)} CoSQA snippets, {len(edge)} edge cases, {errors} tokenize errors")


if __name__ == "__main__":
    main()
