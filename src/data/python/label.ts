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
 * string or bracket, bad dedent) is an InputError naming the line, or with skipBadLines the whole
 * input is skipped and recorded (tokenize cannot resume after such an error).
 */
export function labelPythonSource(source: string, opts: SourceLabelOptions = {}): LabelResult {
  const out = emptyResult();
  let tokens: PythonToken[];
  try {
    tokens = tokenizePython(source);
  } catch (e) {
    if (!(e instanceof PythonTokenizeError)) throw e;
    if (!opts.skipBadLines) throw new InputError(opts.file ?? "<input>", e.message, { line: e.line });
    out.skipped.push({ line: e.line, reason: `${e.message} (whole input skipped)` });
    return out;
  }
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
