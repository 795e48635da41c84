/**
 * A Java lexer that gives the tokens and token classes of javalang 0.13 (the tokenizer the paper's
 * authors used), so that labels match theirs:
 *
 * - classes: Keyword, Modifier, BasicType, Identifier, Boolean, Null, DecimalInteger, OctalInteger,
 *   HexInteger, BinaryInteger, DecimalFloatingPoint, HexFloatingPoint, Character, String, Separator,
 *   Operator, Annotation ('@' alone; the name after it is an Identifier);
 * - comments are dropped; `\uXXXX` escapes are translated before lexing (token text is the translated
 *   text, as in javalang);
 * - javalang's operator set: `>>` and `>>>` are never one token (they come out as `>` `>` and
 *   `>` `>` `>`, because the lexer cannot tell them from closing generics) while `>>=` and `>>>=` are;
 * - numbers follow javalang's reader: a leading `0` followed by 0-7 is octal, `0x` hex, `0b` binary,
 *   underscores are allowed between digits, `l`/`L` is part of an integer, `.5`, `1e5`, `1f`, `1d` are
 *   decimal floating point.
 *
 * Where javalang is wrong or silent we follow Java: a character literal is a Character token
 * (javalang calls it String), text blocks (`"""…"""`, Java 15) are String tokens, a string may not run
 * past the end of its line, and an unterminated string, character literal, text block or block
 * comment is an error naming the line where it starts (javalang reads on to the end of the file).
 */
export type JavaTokenKind =
  | "Keyword"
  | "Modifier"
  | "BasicType"
  | "Identifier"
  | "Boolean"
  | "Null"
  | "DecimalInteger"
  | "OctalInteger"
  | "HexInteger"
  | "BinaryInteger"
  | "DecimalFloatingPoint"
  | "HexFloatingPoint"
  | "Character"
  | "String"
  | "Separator"
  | "Operator"
  | "Annotation";

export interface JavaToken {
  kind: JavaTokenKind;
  /** The token text after unicode-escape translation. */
  text: string;
  /** 1-based line of the token's first character in the original input. */
  line: number;
  /** 0-based offset of the token's first character in the original input. */
  offset: number;
  /** 0-based offset just past the token in the original input. */
  end: number;
}

/** A lexical error at a 1-based line of the input. */
export class JavaLexError extends Error {
  readonly line: number;
  constructor(message: string, line: number) {
    super(message);
    this.name = "JavaLexError";
    this.line = line;
  }
}

export interface JavaLexOptions {
  /** Translate `\uXXXX` escapes before lexing (default true; off for already-lexed token lines). */
  unicodeEscapes?: boolean;
  /**
   * On an error: 'throw' (default) or 'skip-line': drop the tokens of the line where the bad token
   * starts, record the error, and go on at the next line (also after an unterminated block comment or
   * text block: only its first line goes, the lines after it are lexed as code).
   */
  onError?: "throw" | "skip-line";
}

export interface JavaLexResult {
  tokens: JavaToken[];
  errors: JavaLexError[];
}

export const JAVA_KEYWORDS: ReadonlySet<string> = new Set([
  "abstract",
  "assert",
  "boolean",
  "break",
  "byte",
  "case",
  "catch",
  "char",
  "class",
  "const",
  "continue",
  "default",
  "do",
  "double",
  "else",
  "enum",
  "extends",
  "final",
  "finally",
  "float",
  "for",
  "goto",
  "if",
  "implements",
  "import",
  "instanceof",
  "int",
  "interface",
  "long",
  "native",
  "new",
  "package",
  "private",
  "protected",
  "public",
  "return",
  "short",
  "static",
  "strictfp",
  "super",
  "switch",
  "synchronized",
  "this",
  "throw",
  "throws",
  "transient",
  "try",
  "void",
  "volatile",
  "while",
]);

export const JAVA_MODIFIERS: ReadonlySet<string> = new Set([
  "abstract",
  "default",
  "final",
  "native",
  "private",
  "protected",
  "public",
  "static",
  "strictfp",
  "synchronized",
  "transient",
  "volatile",
]);

export const JAVA_BASIC_TYPES: ReadonlySet<string> = new Set([
  "boolean",
  "byte",
  "char",
  "double",
  "float",
  "int",
  "long",
  "short",
]);

/** javalang's Operator.VALUES (no `>>`, no `>>>`). */
export const JAVA_OPERATORS: ReadonlySet<string> = new Set([
  ">>>=",
  ">>=",
  "<<=",
  "%=",
  "^=",
  "|=",
  "&=",
  "/=",
  "*=",
  "-=",
  "+=",
  "<<",
  "--",
  "++",
  "||",
  "&&",
  "!=",
  ">=",
  "<=",
  "==",
  "%",
  "^",
  "|",
  "&",
  "/",
  "*",
  "-",
  "+",
  ":",
  "?",
  "~",
  "!",
  "<",
  ">",
  "=",
  "...",
  "->",
  "::",
]);

const SEPARATORS = "(){}[];,.";
// javalang's identifier rules: Python unicodedata categories.
const IDENT_START = /[\p{Lu}\p{Ll}\p{Lt}\p{Lm}\p{Lo}\p{Nl}\p{Pc}\p{Sc}]/u;
const IDENT_PART = /[\p{Lu}\p{Ll}\p{Lt}\p{Lm}\p{Lo}\p{Nl}\p{Pc}\p{Sc}\p{Mc}\p{Mn}\p{Nd}]/u;

/** Python's str.isspace(), which javalang uses to skip whitespace. */
export function isJavalangSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
  if (c < 0x85) return false;
  return (
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

function isAsciiIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 36;
}

function isAsciiIdentPart(c: number): boolean {
  return isAsciiIdentStart(c) || (c >= 48 && c <= 57);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Lexes Java source; see the module comment for the token classes. */
export function lexJava(source: string, opts: JavaLexOptions = {}): JavaLexResult {
  const onError = opts.onError ?? "throw";
  const translated =
    opts.unicodeEscapes === false
      ? { text: source, origin: null, invalid: [] }
      : translateUnicodeEscapes(source);
  const badLines = translated.invalid.map((off) => lineAt(source, off));
  if (badLines.length > 0 && onError === "throw")
    throw new JavaLexError("invalid unicode escape (\\u not followed by 4 hex digits)", badLines[0]);
  const result = new Lexer(source, translated.text, translated.origin, onError).run();
  if (badLines.length === 0) return result;
  const bad = new Set(badLines);
  const errors = [...bad].map((l) => new JavaLexError("invalid unicode escape", l));
  return {
    tokens: result.tokens.filter((t) => !bad.has(t.line)),
    errors: [...result.errors.filter((e) => !bad.has(e.line)), ...errors].sort((a, b) => a.line - b.line),
  };
}

/**
 * Replaces `\uXXXX` (any number of 'u') escapes the way javalang's pre_tokenize does: a backslash
 * preceded by an odd number of backslashes is not eligible. `origin[i]` is the original offset of
 * translated character i (one extra entry maps the end); null when nothing was translated. A `\u`
 * without four hex digits is left as it is and its offset listed in `invalid`.
 */
export function translateUnicodeEscapes(source: string): {
  text: string;
  origin: Int32Array | null;
  invalid: number[];
} {
  const invalid: number[] = [];
  if (source.indexOf("\\u") < 0) return { text: source, origin: null, invalid };
  const parts: string[] = [];
  const origin: number[] = [];
  let i = 0;
  let copied = 0;
  while (i < source.length) {
    if (source.charCodeAt(i) !== 92) {
      i++;
      continue;
    }
    if (source.charCodeAt(i + 1) !== 117) {
      i += 2; // an escaped character (including a backslash): the next backslash is not eligible
      continue;
    }
    let j = i + 1;
    while (source.charCodeAt(j) === 117) j++;
    const hex = source.slice(j, j + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
      invalid.push(i);
      i = j;
      continue;
    }
    parts.push(source.slice(copied, i), String.fromCharCode(Number.parseInt(hex, 16)));
    for (let k = copied; k < i; k++) origin.push(k);
    origin.push(i);
    i = j + 4;
    copied = i;
  }
  if (parts.length === 0) return { text: source, origin: null, invalid };
  parts.push(source.slice(copied));
  for (let k = copied; k <= source.length; k++) origin.push(k);
  return { text: parts.join(""), origin: Int32Array.from(origin), invalid };
}

interface Scanned {
  kind: JavaTokenKind;
  end: number;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

class Lexer {
  private readonly src: string;
  private readonly origin: Int32Array | null;
  private readonly onError: "throw" | "skip-line";
  private readonly lineStarts: number[];
  private readonly tokens: JavaToken[] = [];
  private readonly errors: JavaLexError[] = [];
  private i = 0;

  constructor(
    original: string,
    translated: string,
    origin: Int32Array | null,
    onError: "throw" | "skip-line",
  ) {
    this.src = translated;
    this.origin = origin;
    this.onError = onError;
    this.lineStarts = [0];
    for (let k = original.indexOf("\n"); k >= 0; k = original.indexOf("\n", k + 1))
      this.lineStarts.push(k + 1);
  }

  run(): JavaLexResult {
    while (this.i < this.src.length) {
      try {
        this.step();
      } catch (e) {
        if (!(e instanceof JavaLexError) || this.onError === "throw") throw e;
        this.recover(e);
      }
    }
    return { tokens: this.tokens, errors: this.errors };
  }

  private recover(e: JavaLexError): void {
    this.errors.push(e);
    while (this.tokens.length > 0 && this.tokens[this.tokens.length - 1].line === e.line) this.tokens.pop();
    // Go on at the first translated offset on a later original line.
    const nextLineStart =
      e.line < this.lineStarts.length ? this.lineStarts[e.line] : Number.POSITIVE_INFINITY;
    let k = this.i;
    while (k < this.src.length && this.orig(k) < nextLineStart) k++;
    this.i = k;
  }

  private orig(k: number): number {
    return this.origin === null ? k : this.origin[k];
  }

  private lineOf(k: number): number {
    const off = this.orig(k);
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= off) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  private fail(message: string, at: number): never {
    throw new JavaLexError(message, this.lineOf(at));
  }

  private emit(kind: JavaTokenKind, start: number, end: number): void {
    const offset = this.orig(start);
    this.tokens.push({
      kind,
      text: this.src.slice(start, end),
      line: this.lineOf(start),
      offset,
      end: this.orig(end),
    });
    this.i = end;
  }

  private step(): void {
    const s = this.src;
    const i = this.i;
    const c = s.charCodeAt(i);
    const n = i + 1 < s.length ? s.charCodeAt(i + 1) : -1;
    if (isJavalangSpace(c)) {
      this.i = i + 1;
      return;
    }
    if (c === 47 && (n === 47 || n === 42)) {
      this.skipComment(i, n === 42);
      return;
    }
    if (c === 46 && n === 46 && s.startsWith("...", i)) {
      this.emit("Operator", i, i + 3);
      return;
    }
    if (c === 64) {
      this.emit("Annotation", i, i + 1);
      return;
    }
    if (c === 46 && isDigit(n)) {
      this.emitScanned(this.decimal(i), i);
      return;
    }
    if (SEPARATORS.includes(s[i])) {
      this.emit("Separator", i, i + 1);
      return;
    }
    if (c === 34 && s.startsWith('"""', i)) {
      this.textBlock(i);
      return;
    }
    if (c === 34 || c === 39) {
      this.quoted(i, c);
      return;
    }
    if (isDigit(c)) {
      this.number(i, c, n);
      return;
    }
    if (isAsciiIdentStart(c)) {
      this.identifier(i, i + 1);
      return;
    }
    if (c >= 128) {
      const ch = String.fromCodePoint(s.codePointAt(i)!);
      if (IDENT_START.test(ch)) {
        this.identifier(i, i + ch.length);
        return;
      }
    }
    for (let len = Math.min(4, s.length - i); len > 0; len--) {
      if (JAVA_OPERATORS.has(s.slice(i, i + len))) {
        this.emit("Operator", i, i + len);
        return;
      }
    }
    this.fail(`cannot lex character '${String.fromCodePoint(s.codePointAt(i)!)}'`, i);
  }

  private skipComment(i: number, block: boolean): void {
    const s = this.src;
    if (!block) {
      const nl = s.indexOf("\n", i + 2);
      this.i = nl < 0 ? s.length : nl + 1;
      return;
    }
    const close = s.indexOf("*/", i + 2);
    if (close < 0) this.fail("unterminated block comment", i);
    this.i = close + 2;
  }

  private identifier(i: number, j: number): void {
    const s = this.src;
    while (j < s.length) {
      const c = s.charCodeAt(j);
      if (isAsciiIdentPart(c)) {
        j++;
        continue;
      }
      if (c < 128) break;
      const ch = String.fromCodePoint(s.codePointAt(j)!);
      if (!IDENT_PART.test(ch)) break;
      j += ch.length;
    }
    const word = s.slice(i, j);
    let kind: JavaTokenKind = "Identifier";
    if (JAVA_KEYWORDS.has(word))
      kind = JAVA_BASIC_TYPES.has(word) ? "BasicType" : JAVA_MODIFIERS.has(word) ? "Modifier" : "Keyword";
    else if (word === "true" || word === "false") kind = "Boolean";
    else if (word === "null") kind = "Null";
    this.emit(kind, i, j);
  }

  /** A string or character literal on one line, with javalang's escape checks. */
  private quoted(i: number, delim: number): void {
    const s = this.src;
    const what = delim === 34 ? "string" : "character";
    let state = 0;
    let j = i + 1;
    for (;;) {
      if (j >= s.length) this.fail(`unterminated ${what} literal`, i);
      const c = s.charCodeAt(j);
      if (c === 10 || c === 13) this.fail(`unterminated ${what} literal`, i);
      if (state === 0) {
        if (c === 92) state = 1;
        else if (c === delim) break;
      } else if (state === 1) {
        if ("btnfrsu\"'\\".includes(s[j])) state = 0;
        else if (c >= 48 && c <= 51) state = 2;
        else if (c >= 52 && c <= 55) state = 3;
        else this.fail(`illegal escape character '\\${s[j]}' in ${what} literal`, i);
      } else if (state === 2) {
        if (c >= 48 && c <= 55) state = 3;
        else if (c === 92) state = 1;
        else if (c === delim) break;
        else state = 0;
      } else {
        state = 0;
        if (c === 92) state = 1;
        else if (c === delim) break;
      }
      j++;
    }
    this.emit(delim === 34 ? "String" : "Character", i, j + 1);
  }

  /** A text block: `"""`, blanks, a line break, then anything up to an unescaped `"""`. */
  private textBlock(i: number): void {
    const s = this.src;
    let j = i + 3;
    while (j < s.length && (s[j] === " " || s[j] === "\t" || s[j] === "\f")) j++;
    if (j < s.length && s[j] !== "\n" && s[j] !== "\r")
      this.fail('a text block must start with a line break after its opening """', i);
    for (;;) {
      if (j >= s.length) this.fail("unterminated text block", i);
      const c = s.charCodeAt(j);
      if (c === 92) {
        j += 2;
        continue;
      }
      if (c === 34 && s.startsWith('"""', j)) break;
      j++;
    }
    this.emit("String", i, j + 3);
  }

  private emitScanned(scan: Scanned, i: number): void {
    this.emit(scan.kind, i, scan.end);
  }

  private number(i: number, c: number, n: number): void {
    if (c === 48 && (n === 120 || n === 88)) {
      this.emitScanned(this.hex(i), i);
      return;
    }
    if (c === 48 && (n === 98 || n === 66)) {
      this.emit("BinaryInteger", i, this.digits(i + 2, "01"));
      return;
    }
    if (c === 48 && n >= 48 && n <= 55) {
      this.emit("OctalInteger", i, this.digits(i + 1, "01234567"));
      return;
    }
    this.emitScanned(this.decimal(i), i);
  }

  /**
   * javalang's read_digits: digits with '_' between them (a trailing run of '_' is not consumed),
   * then one 'l'/'L' if that is where the digits stopped.
   */
  private digits(from: number, allowed: string): number {
    const s = this.src;
    let j = from;
    let k = 0;
    let last = -1;
    while (j + k < s.length) {
      const ch = s[j + k];
      last = s.charCodeAt(j + k);
      if (allowed.includes(ch)) {
        j += 1 + k;
        k = 0;
      } else if (ch === "_") k++;
      else break;
    }
    if ((last === 108 || last === 76) && (s[j] === "l" || s[j] === "L")) j++;
    return j;
  }

  private decimal(i: number): Scanned {
    const s = this.src;
    let j = this.digits(i, "0123456789");
    if (j >= s.length || !".eEfFdD".includes(s[j])) return { kind: "DecimalInteger", end: j };
    if (s[j] === ".") j = this.digits(j + 1, "0123456789");
    if (j < s.length && (s[j] === "e" || s[j] === "E")) {
      j++;
      if (j < s.length && (s[j] === "-" || s[j] === "+")) j++;
      j = this.digits(j, "0123456789");
    }
    if (j < s.length && "fFdD".includes(s[j])) j++;
    return { kind: "DecimalFloatingPoint", end: j };
  }

  private hex(i: number): Scanned {
    const s = this.src;
    const HEX = "0123456789abcdefABCDEF";
    let j = this.digits(i + 2, HEX);
    if (j >= s.length || !".pP".includes(s[j])) return { kind: "HexInteger", end: j };
    if (s[j] === ".") j = this.digits(j + 1, HEX);
    if (j < s.length && (s[j] === "p" || s[j] === "P")) j++;
    else this.fail("invalid hex floating point literal", i);
    if (j < s.length && (s[j] === "-" || s[j] === "+")) j++;
    j = this.digits(j, "0123456789");
    if (j < s.length && "fFdD".includes(s[j])) j++;
    return { kind: "HexFloatingPoint", end: j };
  }
}
