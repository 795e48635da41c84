/**
 * A port of CPython 3.11's pure-Python `tokenize` module (generate_tokens over a str), so that Python
 * tokens and their categories match what `tokenize` gives token for token. Same regular expressions,
 * same line loop (indentation, continuation lines, multi-line strings, implicit NEWLINE), same errors:
 * "EOF in multi-line string", "EOF in multi-line statement", "unindent does not match any outer
 * indentation level". In 3.11 an f-string is a single STRING token.
 *
 * Differences that cannot matter for code text: columns count UTF-16 units (Python counts code
 * points); no ENCODING or ENDMARKER token.
 */
export type PythonTokenType =
  | "NAME"
  | "NUMBER"
  | "STRING"
  | "OP"
  | "ERRORTOKEN"
  | "COMMENT"
  | "NL"
  | "NEWLINE"
  | "INDENT"
  | "DEDENT";

export interface PythonToken {
  type: PythonTokenType;
  text: string;
  /** 1-based row where the token starts. */
  line: number;
  /** 0-based column (UTF-16 units) where the token starts. */
  col: number;
}

export class PythonTokenizeError extends Error {
  /** The line tokenize reports (CPython's: for an unclosed bracket, the end of the input). */
  readonly line: number;
  /**
   * The line whose removal gets past this error: where the unterminated string, the unclosed bracket
   * or the continued line begins, or the badly dedented line.
   */
  readonly origin: number;
  constructor(message: string, line: number, origin = line) {
    super(message);
    this.name = "PythonTokenizeError";
    this.line = line;
    this.origin = origin;
  }
}

/** token.EXACT_TOKEN_TYPES of Python 3.11: operator text → token name. */
export const PYTHON_EXACT_TOKEN_TYPES: Readonly<Record<string, string>> = {
  "!=": "NOTEQUAL",
  "%": "PERCENT",
  "%=": "PERCENTEQUAL",
  "&": "AMPER",
  "&=": "AMPEREQUAL",
  "(": "LPAR",
  ")": "RPAR",
  "*": "STAR",
  "**": "DOUBLESTAR",
  "**=": "DOUBLESTAREQUAL",
  "*=": "STAREQUAL",
  "+": "PLUS",
  "+=": "PLUSEQUAL",
  ",": "COMMA",
  "-": "MINUS",
  "-=": "MINEQUAL",
  "->": "RARROW",
  ".": "DOT",
  "...": "ELLIPSIS",
  "/": "SLASH",
  "//": "DOUBLESLASH",
  "//=": "DOUBLESLASHEQUAL",
  "/=": "SLASHEQUAL",
  ":": "COLON",
  ":=": "COLONEQUAL",
  ";": "SEMI",
  "<": "LESS",
  "<<": "LEFTSHIFT",
  "<<=": "LEFTSHIFTEQUAL",
  "<=": "LESSEQUAL",
  "=": "EQUAL",
  "==": "EQEQUAL",
  ">": "GREATER",
  ">=": "GREATEREQUAL",
  ">>": "RIGHTSHIFT",
  ">>=": "RIGHTSHIFTEQUAL",
  "@": "AT",
  "@=": "ATEQUAL",
  "[": "LSQB",
  "]": "RSQB",
  "^": "CIRCUMFLEX",
  "^=": "CIRCUMFLEXEQUAL",
  "{": "LBRACE",
  "|": "VBAR",
  "|=": "VBAREQUAL",
  "}": "RBRACE",
  "~": "TILDE",
};

/** keyword.kwlist of Python 3.11 (soft keywords match/case/_ are NAMEs, as in tokenize). */
export const PYTHON_KEYWORDS: ReadonlySet<string> = new Set([
  "False",
  "None",
  "True",
  "and",
  "as",
  "assert",
  "async",
  "await",
  "break",
  "class",
  "continue",
  "def",
  "del",
  "elif",
  "else",
  "except",
  "finally",
  "for",
  "from",
  "global",
  "if",
  "import",
  "in",
  "is",
  "lambda",
  "nonlocal",
  "not",
  "or",
  "pass",
  "raise",
  "return",
  "try",
  "while",
  "with",
  "yield",
]);

// --- The regular expressions of tokenize.py, in JavaScript syntax ('.' is written [^\n]). ---
const group = (...choices: string[]): string => `(?:${choices.join("|")})`;
const maybe = (...choices: string[]): string => `${group(...choices)}?`;
const ANY = "[^\\n]";

const Whitespace = "[ \\f\\t]*";
const Comment = "#[^\\r\\n]*";
const Name = "[\\p{L}\\p{N}_]+";
const Hexnumber = "0[xX](?:_?[0-9a-fA-F])+";
const Binnumber = "0[bB](?:_?[01])+";
const Octnumber = "0[oO](?:_?[0-7])+";
const Decnumber = "(?:0(?:_?0)*|[1-9](?:_?[0-9])*)";
const Intnumber = group(Hexnumber, Binnumber, Octnumber, Decnumber);
const Exponent = "[eE][-+]?[0-9](?:_?[0-9])*";
const Pointfloat =
  group("[0-9](?:_?[0-9])*\\.(?:[0-9](?:_?[0-9])*)?", "\\.[0-9](?:_?[0-9])*") + maybe(Exponent);
const Expfloat = `[0-9](?:_?[0-9])*${Exponent}`;
const Floatnumber = group(Pointfloat, Expfloat);
const Imagnumber = group("[0-9](?:_?[0-9])*[jJ]", `${Floatnumber}[jJ]`);
const NumberRe = group(Imagnumber, Floatnumber, Intnumber);

const STRING_PREFIXES: readonly string[] = allStringPrefixes();
const StringPrefix = group(...STRING_PREFIXES);

const Single = `[^'\\\\]*(?:\\\\${ANY}[^'\\\\]*)*'`;
const Double = `[^"\\\\]*(?:\\\\${ANY}[^"\\\\]*)*"`;
const Single3 = `[^'\\\\]*(?:(?:\\\\${ANY}|'(?!''))[^'\\\\]*)*'''`;
const Double3 = `[^"\\\\]*(?:(?:\\\\${ANY}|"(?!""))[^"\\\\]*)*"""`;
const Triple = group(`${StringPrefix}'''`, `${StringPrefix}"""`);

const Special = group(
  ...Object.keys(PYTHON_EXACT_TOKEN_TYPES)
    .sort()
    .reverse()
    .map((op) => op.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")),
);
const Funny = group("\\r?\\n", Special);
const ContStr = group(
  `${StringPrefix}'[^\\n'\\\\]*(?:\\\\${ANY}[^\\n'\\\\]*)*${group("'", "\\\\\\r?\\n")}`,
  `${StringPrefix}"[^\\n"\\\\]*(?:\\\\${ANY}[^\\n"\\\\]*)*${group('"', "\\\\\\r?\\n")}`,
);
const PseudoExtras = group("\\\\\\r?\\n|$", Comment, Triple);
const PseudoToken = `${Whitespace}(${group(PseudoExtras, NumberRe, Funny, ContStr, Name)})`;

const PSEUDO = new RegExp(PseudoToken, "uy");
const END_SINGLE = new RegExp(Single, "uy");
const END_DOUBLE = new RegExp(Double, "uy");
const END_SINGLE3 = new RegExp(Single3, "uy");
const END_DOUBLE3 = new RegExp(Double3, "uy");

const SINGLE_QUOTED = new Set(STRING_PREFIXES.flatMap((p) => [`${p}'`, `${p}"`]));
const TRIPLE_QUOTED = new Set(STRING_PREFIXES.flatMap((p) => [`${p}'''`, `${p}"""`]));
const ID_START = /[\p{XID_Start}_]/u;
const TABSIZE = 8;

/** '', and every case/order variant of b, r, u, f, br, fr (tokenize._all_string_prefixes). */
function allStringPrefixes(): string[] {
  const out = new Set<string>([""]);
  const variants = (s: string): string[] =>
    s.length === 0 ? [""] : variants(s.slice(1)).flatMap((rest) => [s[0] + rest, s[0].toUpperCase() + rest]);
  for (const p of ["b", "r", "u", "f", "br", "fr"]) {
    const orders = p.length === 2 ? [p, p[1] + p[0]] : [p];
    for (const o of orders) for (const v of variants(o)) out.add(v);
  }
  // Longest first: alternation order does not change what matches (a quote must follow), but this
  // keeps backtracking short.
  return [...out].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
}

function endPattern(quote: string): RegExp {
  switch (quote) {
    case "'":
      return END_SINGLE;
    case '"':
      return END_DOUBLE;
    case "'''":
      return END_SINGLE3;
    default:
      return END_DOUBLE3;
  }
}

/** The quote part of a string start such as `rb'` or `f"""`. */
function quoteOf(start: string): string {
  const m = /('''|"""|'|")$/.exec(start);
  return m ? m[1] : '"';
}

function matchAt(re: RegExp, text: string, pos: number): RegExpExecArray | null {
  re.lastIndex = pos;
  return re.exec(text);
}

/** Splits like io.StringIO(text).readline: each line keeps its "\n"; only "\n" ends a line. */
function readLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf("\n", start);
    const end = nl < 0 ? text.length : nl + 1;
    lines.push(text.slice(start, end));
    start = end;
  }
  return lines;
}

/** Tokenizes Python source as tokenize.generate_tokens does (without ENCODING and ENDMARKER). */
export function tokenizePython(source: string): PythonToken[] {
  const out: PythonToken[] = [];
  const lines = readLines(source);
  let lnum = 0;
  let parenlev = 0;
  /** Lines of the open brackets, outermost first; where a continued line began. */
  const openedAt: number[] = [];
  let continuedAt = 0;
  let continued = false;
  let contstr = "";
  let needcont = false;
  let strstartLine = 0;
  let strstartCol = 0;
  let endprog: RegExp = END_DOUBLE;
  const indents = [0];
  let lastLine = "";
  let line = "";
  for (let li = 0; ; li++) {
    lastLine = line;
    line = li < lines.length ? lines[li] : "";
    lnum++;
    let pos = 0;
    const max = line.length;

    if (contstr) {
      if (!line) throw new PythonTokenizeError("EOF in multi-line string", strstartLine);
      const endmatch = matchAt(endprog, line, 0);
      if (endmatch) {
        pos = endmatch.index + endmatch[0].length;
        out.push({
          type: "STRING",
          text: contstr + line.slice(0, pos),
          line: strstartLine,
          col: strstartCol,
        });
        contstr = "";
        needcont = false;
      } else if (needcont && !line.endsWith("\\\n") && !line.endsWith("\\\r\n")) {
        out.push({ type: "ERRORTOKEN", text: contstr + line, line: strstartLine, col: strstartCol });
        contstr = "";
        continue;
      } else {
        contstr += line;
        continue;
      }
    } else if (parenlev === 0 && !continued) {
      if (!line) break;
      let column = 0;
      while (pos < max) {
        const ch = line[pos];
        if (ch === " ") column++;
        else if (ch === "\t") column = (Math.floor(column / TABSIZE) + 1) * TABSIZE;
        else if (ch === "\f") column = 0;
        else break;
        pos++;
      }
      if (pos === max) break;
      const ch = line[pos];
      if (ch === "#" || ch === "\r" || ch === "\n") {
        if (ch === "#") {
          const comment = line.slice(pos).replace(/[\r\n]+$/, "");
          out.push({ type: "COMMENT", text: comment, line: lnum, col: pos });
          pos += comment.length;
        }
        out.push({ type: "NL", text: line.slice(pos), line: lnum, col: pos });
        continue;
      }
      if (column > indents[indents.length - 1]) {
        indents.push(column);
        out.push({ type: "INDENT", text: line.slice(0, pos), line: lnum, col: 0 });
      }
      while (column < indents[indents.length - 1]) {
        if (!indents.includes(column))
          throw new PythonTokenizeError("unindent does not match any outer indentation level", lnum);
        indents.pop();
        out.push({ type: "DEDENT", text: "", line: lnum, col: pos });
      }
    } else {
      if (!line)
        throw new PythonTokenizeError(
          "EOF in multi-line statement",
          lnum,
          openedAt.length > 0 ? openedAt[openedAt.length - 1] : continuedAt || lnum - 1,
        );
      continued = false;
    }

    while (pos < max) {
      const pseudo = matchAt(PSEUDO, line, pos);
      if (!pseudo) {
        const ch = String.fromCodePoint(line.codePointAt(pos)!);
        out.push({ type: "ERRORTOKEN", text: ch, line: lnum, col: pos });
        pos += ch.length;
        continue;
      }
      const token = pseudo[1];
      const start = pseudo.index + pseudo[0].length - token.length;
      const end = start + token.length;
      pos = end;
      if (start === end) continue;
      const initial = String.fromCodePoint(line.codePointAt(start)!);

      if ("0123456789".includes(initial) || (initial === "." && token !== "." && token !== "...")) {
        out.push({ type: "NUMBER", text: token, line: lnum, col: start });
      } else if (initial === "\r" || initial === "\n") {
        out.push({ type: parenlev > 0 ? "NL" : "NEWLINE", text: token, line: lnum, col: start });
      } else if (initial === "#") {
        out.push({ type: "COMMENT", text: token, line: lnum, col: start });
      } else if (TRIPLE_QUOTED.has(token)) {
        endprog = endPattern(quoteOf(token));
        const endmatch = matchAt(endprog, line, pos);
        if (endmatch) {
          pos = endmatch.index + endmatch[0].length;
          out.push({ type: "STRING", text: line.slice(start, pos), line: lnum, col: start });
        } else {
          strstartLine = lnum;
          strstartCol = start;
          contstr = line.slice(start);
          break;
        }
      } else if (
        SINGLE_QUOTED.has(initial) ||
        SINGLE_QUOTED.has(token.slice(0, 2)) ||
        SINGLE_QUOTED.has(token.slice(0, 3))
      ) {
        if (token[token.length - 1] === "\n") {
          strstartLine = lnum;
          strstartCol = start;
          endprog = endPattern(/['"]/.exec(token)![0]);
          contstr = line.slice(start);
          needcont = true;
          break;
        }
        out.push({ type: "STRING", text: token, line: lnum, col: start });
      } else if (ID_START.test(initial)) {
        out.push({ type: "NAME", text: token, line: lnum, col: start });
      } else if (initial === "\\") {
        continued = true;
        continuedAt = lnum;
      } else {
        if ("([{".includes(initial)) {
          parenlev++;
          openedAt.push(lnum);
        } else if (")]}".includes(initial)) {
          parenlev--;
          openedAt.pop();
        }
        out.push({ type: "OP", text: token, line: lnum, col: start });
      }
    }
  }
  if (lastLine && !lastLine.endsWith("\n") && !lastLine.endsWith("\r") && !lastLine.trim().startsWith("#"))
    out.push({ type: "NEWLINE", text: "", line: lnum - 1, col: lastLine.length });
  for (let k = 1; k < indents.length; k++) out.push({ type: "DEDENT", text: "", line: lnum, col: 0 });
  return out;
}
