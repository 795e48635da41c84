import { InputError } from "../../util/errors.js";
import { emptyResult, groupByLine, type LabelResult, type SourceLabelOptions } from "../labelled.js";
import { KEYWORD, UNKNOWN } from "../labels.js";
import {
  PYTHON_EXACT_TOKEN_TYPES,
  PYTHON_KEYWORDS,
  type PythonToken,
  PythonTokenizeError,
  tokenizePython,
} from "./lexer.js";

/**
 * Labels of Python tokens, the categories of CPython's tokenize module: NAME split into KEYWORD
 * (keyword.kwlist; the soft keywords match/case/_ stay NAME) and NAME; NUMBER; STRING (with any
 * prefix, triple-quoted, f-strings); operators by their exact token name (LPAR, DOT, PLUSEQUAL, …,
 * Python's own names, so `+=` is PLUSEQUAL here, not the Java table's PLUSEUQAL); ERRORTOKEN (a stray
 * `$`, `?`, `!`, or the quote of an unterminated string) → UNKNOWN.
 * Dropped (undefined): NEWLINE, NL, INDENT, DEDENT, COMMENT, and the whitespace ERRORTOKENs tokenize
 * emits before a stray character; they carry layout, not code.
 */
export function pythonTokenLabel(t: PythonToken): string | undefined {
  switch (t.type) {
    case "NAME":
      return PYTHON_KEYWORDS.has(t.text) ? KEYWORD : "NAME";
    case "NUMBER":
    case "STRING":
      return t.type;
    case "OP":
      return PYTHON_EXACT_TOKEN_TYPES[t.text] ?? UNKNOWN;
    case "ERRORTOKEN":
      return t.text.trim().length === 0 ? undefined : UNKNOWN;
    default:
      return undefined;
  }
}

/**
 * Labels Python source. Sentences are source lines (a token belongs to the row where it starts; a
 * multi-line string to its first row) or the whole input. A tokenize error (unterminated triple-quoted
 * string or bracket, bad dedent) is an InputError naming the line. With skipBadLines the line where
 * the error begins is left out (blanked, so that line numbers stay) and recorded, and tokenizing
 * starts again: tokenize cannot resume after an error, and dropping that line is what gets past it.
 * Lines are skipped one at a time, never the input.
 */
export function labelPythonSource(source: string, opts: SourceLabelOptions = {}): LabelResult {
  const out = emptyResult();
  let tokens: PythonToken[] | undefined;
  let text = source;
  while (tokens === undefined) {
    try {
      tokens = tokenizePython(text);
    } catch (e) {
      if (!(e instanceof PythonTokenizeError)) throw e;
      if (!opts.skipBadLines) throw new InputError(opts.file ?? "<input>", e.message, { line: e.line });
      const blanked = blankLine(text, e.origin);
      // A line already blank cannot hold an error; stop rather than loop (not expected to happen).
      if (blanked === text) throw new InputError(opts.file ?? "<input>", e.message, { line: e.line });
      out.skipped.push({ line: e.origin, reason: e.message });
      text = blanked;
    }
  }
  out.skipped.sort((a, b) => a.line - b.line);
  const kept: { t: PythonToken; label: string; line: number }[] = [];
  for (const t of tokens) {
    const label = pythonTokenLabel(t);
    if (label !== undefined) kept.push({ t, label, line: t.line });
  }
  groupByLine(
    kept,
    opts.sentence ?? "line",
    (k) => k.t.text,
    (k) => k.label,
    out,
  );
  return out;
}

/** The text with line `line` (1-based) emptied, its line break kept. */
function blankLine(text: string, line: number): string {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf("\n", start);
    if (nl < 0) return text;
    start = nl + 1;
  }
  let end = text.indexOf("\n", start);
  if (end < 0) end = text.length;
  else if (end > start && text[end - 1] === "\r") end--;
  return text.slice(0, start) + text.slice(end);
}
