import { InputError } from "../../util/errors.js";
import {
  type Anomaly,
  emptyResult,
  groupByLine,
  type LabelResult,
  type SourceLabelOptions,
} from "../labelled.js";
import { BOOL, IDENT, KEYWORD, MODIFIER, NUMBER, operatorLabel, STRING, TYPE, UNKNOWN } from "../labels.js";
import { JavaLexError, type JavaToken, type JavaTokenKind, lexJava } from "./lexer.js";

export interface JavaLabelOptions {
  /**
   * Label of character literals. docs/DESIGN.md says UNKNOWN (the default). Note: javalang itself types
   * character literals as String, so the paper authors' script labelled them STRING; pass "STRING" to
   * reproduce that.
   */
  charLiteralLabel?: string;
}

/** The paper's label of a javalang-class token (docs/DESIGN.md, "Token tagging task"). */
export function javaTokenLabel(kind: JavaTokenKind, text: string, opts: JavaLabelOptions = {}): string {
  switch (kind) {
    case "Modifier":
      return MODIFIER;
    case "BasicType":
      return TYPE;
    case "Keyword":
      return KEYWORD;
    case "Identifier":
    case "Null":
      return IDENT;
    case "Boolean":
      return BOOL;
    case "DecimalInteger":
    case "DecimalFloatingPoint":
      return NUMBER;
    case "String":
      return STRING;
    case "Character":
      return opts.charLiteralLabel ?? UNKNOWN;
    case "Separator":
    case "Operator":
    case "Annotation":
      return operatorLabel(text);
    default:
      return UNKNOWN; // octal, hex, binary, hex floating point
  }
}

/**
 * Labels Java source (a whole file, or any part of one). Sentences are source lines (a token belongs
 * to the line where it starts) or the whole input. A lexical error is an InputError naming the line,
 * or, with skipBadLines, drops that line's tokens (only that line's) and is recorded.
 */
export function labelJavaSource(
  source: string,
  opts: SourceLabelOptions & JavaLabelOptions = {},
): LabelResult {
  const file = opts.file ?? "<input>";
  let lexed: ReturnType<typeof lexJava>;
  try {
    lexed = lexJava(source, { onError: opts.skipBadLines ? "skip-line" : "throw" });
  } catch (e) {
    if (e instanceof JavaLexError) throw new InputError(file, e.message, { line: e.line });
    throw e;
  }
  const out = emptyResult();
  groupByLine(
    lexed.tokens,
    opts.sentence ?? "line",
    (t) => t.text,
    (t) => javaTokenLabel(t.kind, t.text, opts),
    out,
  );
  for (const e of lexed.errors) out.skipped.push({ line: e.line, reason: e.message });
  return out;
}

/**
 * Labels pre-tokenized Java: one sentence per line, tokens separated by spaces (the format of
 * shared/data/java-token-lines, javalang's output joined by single spaces, usually with a trailing
 * space). The pieces between spaces are the tokens and are never split; pieces are only joined when a
 * string or character literal contains spaces (`"a b"` arrives as `"a` `b"`), so that the literal is
 * one token again. Unicode escapes are not translated a second time (the text is already lexed).
 * A piece that is not exactly one Java token (e.g. `a.b`, or a stray comment) is kept whole, labelled
 * UNKNOWN and listed in `anomalies`. Empty lines give no sentence.
 */
export function labelJavaTokenLines(
  text: string,
  opts: Omit<SourceLabelOptions, "sentence"> & JavaLabelOptions = {},
): LabelResult {
  const file = opts.file ?? "<input>";
  const out = emptyResult();
  let lineNo = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    lineNo++;
    let line = text.slice(start, end);
    if (line.endsWith("\r")) line = line.slice(0, -1);
    start = end + 1;
    labelOneLine(line, lineNo, file, opts, out);
  }
  return out;
}

function labelOneLine(
  line: string,
  lineNo: number,
  file: string,
  opts: Omit<SourceLabelOptions, "sentence"> & JavaLabelOptions,
  out: LabelResult,
): void {
  if (line.trim().length === 0) return;
  let tokens: JavaToken[];
  try {
    tokens = lexJava(line, { unicodeEscapes: false }).tokens;
  } catch (e) {
    if (!(e instanceof JavaLexError)) throw e;
    if (!opts.skipBadLines) throw new InputError(file, e.message, { line: lineNo });
    out.skipped.push({ line: lineNo, reason: e.message });
    return;
  }
  const words: string[] = [];
  const labels: string[] = [];
  for (const group of alignPieces(line, tokens)) {
    const piece = line.slice(group.start, group.end);
    words.push(piece);
    if (group.token !== undefined) labels.push(javaTokenLabel(group.token.kind, group.token.text, opts));
    else {
      labels.push(UNKNOWN);
      out.anomalies.push(anomaly(lineNo, piece, group.tokenCount));
    }
  }
  if (words.length === 0) return;
  out.sentences.push(words);
  out.labels.push(labels);
  out.sourceLines.push(lineNo);
}

function anomaly(line: number, token: string, tokenCount: number): Anomaly {
  return {
    line,
    token,
    reason: tokenCount === 0 ? "not a token (comment?)" : `lexes as ${tokenCount} tokens`,
  };
}

interface PieceGroup {
  start: number;
  end: number;
  /** The one token that covers exactly this group, if there is one. */
  token?: JavaToken;
  tokenCount: number;
}

/**
 * Cuts a line into its space-separated pieces, joins consecutive pieces that one token spans (a
 * literal with spaces), and says for each group whether exactly one token covers it.
 */
export function alignPieces(line: string, tokens: readonly JavaToken[]): PieceGroup[] {
  const groups: PieceGroup[] = [];
  let t = 0;
  let i = 0;
  while (i < line.length) {
    if (line.charCodeAt(i) === 32) {
      i++;
      continue;
    }
    let end = line.indexOf(" ", i);
    if (end < 0) end = line.length;
    // Tokens starting before this piece ends may extend it (a literal with spaces).
    const first = t;
    while (t < tokens.length && tokens[t].offset < end) {
      if (tokens[t].end > end) {
        end = line.indexOf(" ", tokens[t].end);
        if (end < 0) end = line.length;
      }
      t++;
    }
    const count = t - first;
    const only =
      count === 1 && tokens[first].offset === i && tokens[first].end === end ? tokens[first] : undefined;
    groups.push({ start: i, end, token: only, tokenCount: count });
    i = end;
  }
  return groups;
}
