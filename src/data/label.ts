import { UserError } from "../util/errors.js";
import { readText } from "./io.js";
import { type JavaLabelOptions, labelJavaSource, labelJavaTokenLines } from "./java/label.js";
import { readJsonRecords, requireStringField } from "./json.js";
import { appendResult, emptyResult, type LabelResult, type SentenceUnit } from "./labelled.js";
import { CLOSED_CLASSES, IDENT, KEYWORD, MODIFIER, NUMBER, SIX_CLASSES, STRING, TYPE } from "./labels.js";
import { labelPythonSource } from "./python/label.js";
import { labelTreeSitterSource, type TreeSitterLanguage } from "./treesitter/label.js";

/** Languages `codeneurons label` knows. */
export const LABEL_LANGUAGES = [
  "java",
  "python",
  "javascript",
  "typescript",
  "tsx",
  "c",
  "cpp",
  "go",
] as const;
export type LabelLanguage = (typeof LABEL_LANGUAGES)[number];

/** How people write the language's name (titles of reports). */
export const LANGUAGE_NAMES: Record<LabelLanguage, string> = {
  java: "Java",
  python: "Python",
  javascript: "JavaScript",
  typescript: "TypeScript",
  tsx: "TSX",
  c: "C",
  cpp: "C++",
  go: "Go",
};

export function isLabelLanguage(name: string): name is LabelLanguage {
  return (LABEL_LANGUAGES as readonly string[]).includes(name);
}

/**
 * Which lexer labels Java and Python: the native ones (javalang-compatible Java lexer, port of
 * Python's tokenize; the paper's labels) or tree-sitter (coarse cross-language categories).
 */
export type LabelBackend = "native" | "tree-sitter";

/**
 * The default classes of a token-tagging task in a language: word classes its labeler gives (an
 * operator is its own label; UNKNOWN and BOOL are left out), and which of them are closed
 * vocabularies (disjoint word lists across splits).
 * - Java, native lexer: the paper's six classes.
 * - Python, native (tokenize categories): NAME, KEYWORD, NUMBER, STRING.
 * - tree-sitter (every other language, and Java / Python with --parser tree-sitter): IDENT, KEYWORD,
 *   NUMBER, STRING, with TYPE where the grammar has primitive types (C, C++, Go, TypeScript, Java) and
 *   MODIFIER for Java.
 */
export interface TaskClasses {
  classes: readonly string[];
  closed: readonly string[];
  /** Classes whose train tokens rarest in valid/test are taken first. */
  preferUnseen: readonly string[];
}

export function defaultTaskClasses(lang: LabelLanguage, backend: LabelBackend = "native"): TaskClasses {
  if (lang === "java" && backend === "native")
    return { classes: SIX_CLASSES, closed: CLOSED_CLASSES, preferUnseen: [NUMBER] };
  if (lang === "python" && backend === "native")
    return { classes: ["NAME", KEYWORD, NUMBER, STRING], closed: [KEYWORD], preferUnseen: [NUMBER] };
  const typed = ["c", "cpp", "go", "typescript", "tsx", "java"].includes(lang);
  const classes = [IDENT, KEYWORD, ...(typed ? [TYPE] : []), NUMBER, STRING];
  const closed = [KEYWORD, ...(typed ? [TYPE] : [])];
  if (lang === "java")
    return { classes: [MODIFIER, ...classes], closed: [MODIFIER, ...closed], preferUnseen: [NUMBER] };
  return { classes, closed, preferUnseen: [NUMBER] };
}

export interface LabelOptions extends JavaLabelOptions {
  lang: LabelLanguage;
  /** Java only: the input is token lines (tokens separated by spaces), one sentence per line. */
  pretokenized?: boolean;
  skipBadLines?: boolean;
  sentence?: SentenceUnit;
  backend?: LabelBackend;
  /** Named in errors. */
  file?: string;
}

/** Labels one text (a source file, or token lines with `pretokenized`). */
export async function labelText(text: string, opts: LabelOptions): Promise<LabelResult> {
  const common = { file: opts.file, skipBadLines: opts.skipBadLines, sentence: opts.sentence };
  if (opts.pretokenized) {
    if (opts.lang !== "java") throw new UserError("--pretokenized is supported for --lang java only");
    return labelJavaTokenLines(text, { ...common, charLiteralLabel: opts.charLiteralLabel });
  }
  const backend = opts.backend ?? "native";
  if (opts.lang === "java" && backend === "native")
    return labelJavaSource(text, { ...common, charLiteralLabel: opts.charLiteralLabel });
  if (opts.lang === "python" && backend === "native") return labelPythonSource(text, common);
  return labelTreeSitterSource(opts.lang as TreeSitterLanguage, text, common);
}

export interface LabelFileOptions extends LabelOptions {
  /** For .json / .jsonl inputs: the field that holds the code (default "code"). */
  field?: string;
}

/**
 * Labels a file. A `.json` file (an array of objects) or `.jsonl` file (one object per line) is a set
 * of records whose `field` holds source code (CoSQA, CodeSearchNet, Devign style); each record is
 * labelled on its own and `records` says which record each sentence came from.
 */
export async function labelFile(path: string, opts: LabelFileOptions): Promise<LabelResult> {
  if (!/\.jsonl?$/i.test(path)) return labelText(await readText(path), { ...opts, file: path });
  const field = opts.field ?? "code";
  const records = await readJsonRecords(path);
  const out: LabelResult = { ...emptyResult(), records: [] };
  for (let r = 0; r < records.length; r++) {
    const code = requireStringField(records[r], field, path);
    const part = await labelText(code, { ...opts, file: `${path} record ${r} (line ${records[r].line})` });
    appendResult(out, part, 0, r);
    for (let k = 0; k < part.sentences.length; k++) out.records!.push(r);
  }
  return out;
}
