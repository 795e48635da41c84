import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Language, type Node, Parser } from "web-tree-sitter";
import { InputError } from "../../util/errors.js";
import { emptyResult, groupByLine, type LabelResult, type SourceLabelOptions } from "../labelled.js";
import { BOOL, IDENT, KEYWORD, MODIFIER, NUMBER, operatorLabel, STRING, TYPE, UNKNOWN } from "../labels.js";

/**
 * Labelers for other languages through tree-sitter: web-tree-sitter 0.27 with the prebuilt grammars
 * of @vscode/tree-sitter-wasm, loaded from node_modules (offline; nothing compiled or downloaded).
 * That package ships no C grammar, so C is parsed with the C++ grammar (a superset for nearly all C;
 * C code that uses C++ keywords such as `class` or `new` as names will show syntax errors).
 *
 * Tokens are the leaves of the syntax tree, except that a literal (string, template string, raw
 * string, character, regex) is one token however the grammar splits it, and comments are dropped.
 * Leaves map to the coarse categories of the paper's Java scheme, so that labels compare across
 * languages:
 * - identifiers of every kind (field, property, type, package, namespace, label) → IDENT; null-like
 *   literals (null, nil, nullptr, undefined, Python's None) → IDENT, as the paper does for Java's null;
 * - primitive / predefined types (C `int`, `unsigned long`, TS `number`, Go's predeclared types, Java
 *   `int`) → TYPE; `void` → KEYWORD (Java's scheme);
 * - Java modifiers (children of `modifiers`) → MODIFIER; other keywords (word-like anonymous leaves,
 *   preprocessor directives such as `#include`, this/super) → KEYWORD;
 * - decimal numbers → NUMBER; hex, octal and binary numbers → UNKNOWN (the Java scheme);
 * - string literals → STRING; character literals, regex literals → UNKNOWN (the Java scheme);
 * - true/false → BOOL;
 * - operators and punctuation by the shared table (labels.ts), unmapped ones → UNKNOWN;
 * - anything else (preprocessor arguments, JSX text) → UNKNOWN.
 * Syntax errors (ERROR or MISSING nodes) are input errors naming the line, or, with skipBadLines,
 * the lines they span are dropped and recorded.
 */
export const TREE_SITTER_LANGUAGES = {
  javascript: "tree-sitter-javascript.wasm",
  typescript: "tree-sitter-typescript.wasm",
  tsx: "tree-sitter-tsx.wasm",
  c: "tree-sitter-cpp.wasm",
  cpp: "tree-sitter-cpp.wasm",
  go: "tree-sitter-go.wasm",
  java: "tree-sitter-java.wasm",
  python: "tree-sitter-python.wasm",
} as const;

export type TreeSitterLanguage = keyof typeof TREE_SITTER_LANGUAGES;

export function isTreeSitterLanguage(name: string): name is TreeSitterLanguage {
  return Object.hasOwn(TREE_SITTER_LANGUAGES, name);
}

let initialized: Promise<void> | null = null;
const languages = new Map<string, Promise<Language>>();

/** The directory of the prebuilt grammars inside node_modules. */
export function grammarDirectory(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("@vscode/tree-sitter-wasm/package.json")), "wasm");
}

/** A parser for the language (the runtime and each grammar are loaded once per process). */
export async function treeSitterParser(lang: TreeSitterLanguage): Promise<Parser> {
  initialized ??= Parser.init();
  await initialized;
  const file = TREE_SITTER_LANGUAGES[lang];
  let language = languages.get(file);
  if (language === undefined) {
    language = Language.load(join(grammarDirectory(), file));
    languages.set(file, language);
  }
  const parser = new Parser();
  parser.setLanguage(await language);
  return parser;
}

const LITERALS: Readonly<Record<string, string>> = {
  string: STRING,
  string_literal: STRING,
  raw_string_literal: STRING,
  interpreted_string_literal: STRING,
  template_string: STRING,
  system_lib_string: STRING,
  char_literal: UNKNOWN,
  character_literal: UNKNOWN,
  rune_literal: UNKNOWN,
  regex: UNKNOWN,
};

const COMMENTS = new Set(["comment", "line_comment", "block_comment"]);
const NULLS = new Set(["null", "nil", "nullptr", "undefined", "none", "null_literal"]);
const TYPE_PARENTS = new Set([
  "integral_type",
  "floating_point_type",
  "boolean_type",
  "predefined_type",
  "sized_type_specifier",
]);
const TYPE_LEAVES = new Set(["primitive_type", "boolean_type", "integral_type", "floating_point_type"]);
const NUMBER_LEAVES = new Set([
  "number",
  "number_literal",
  "int_literal",
  "float_literal",
  "imaginary_literal",
  "integer",
  "float",
  "decimal_integer_literal",
  "decimal_floating_point_literal",
]);
const NON_DECIMAL_LEAVES = new Set([
  "hex_integer_literal",
  "octal_integer_literal",
  "binary_integer_literal",
  "hex_floating_point_literal",
]);
const GO_PREDECLARED_TYPES = new Set(
  "any bool byte comparable complex64 complex128 error float32 float64 int int8 int16 int32 int64 rune string uint uint8 uint16 uint32 uint64 uintptr".split(
    " ",
  ),
);
const WORD = /^#?[A-Za-z_][A-Za-z0-9_]*$/;

function numberLabel(text: string): string {
  // 0x…, 0b…, 0o…, and C/Go/JS legacy octal (0 followed by digits) are not decimal.
  if (/^0[xXbBoO]/.test(text) || /^0[0-9_]+[uUlLnN]*$/.test(text)) return UNKNOWN;
  return NUMBER;
}

/** The category of a leaf (a node without children that is not a literal or comment). */
export function leafLabel(lang: TreeSitterLanguage, node: Node): string {
  const type = node.type;
  const text = node.text;
  const parent = node.parent?.type ?? "";
  if (node.isNamed) {
    if (type === "true" || type === "false") return BOOL;
    if (NULLS.has(type)) return IDENT;
    if (type === "void_type") return KEYWORD;
    if (TYPE_LEAVES.has(type)) return TYPE;
    if (NUMBER_LEAVES.has(type)) return numberLabel(text);
    if (NON_DECIMAL_LEAVES.has(type)) return UNKNOWN;
    if (type === "type_identifier" && lang === "go" && GO_PREDECLARED_TYPES.has(text)) return TYPE;
    if (type.endsWith("identifier")) return IDENT;
    if (type === "this" || type === "super" || type === "auto") return KEYWORD;
    if (!WORD.test(text)) return operatorLabel(text);
    return UNKNOWN;
  }
  if (NULLS.has(parent) && WORD.test(text)) return IDENT;
  if (WORD.test(text)) {
    if (text === "void") return KEYWORD;
    if (TYPE_PARENTS.has(parent)) return TYPE;
    if (parent === "modifiers" && lang === "java") return MODIFIER;
    if (text === "true" || text === "false") return BOOL;
    return KEYWORD;
  }
  return operatorLabel(text);
}

interface Leaf {
  text: string;
  label: string;
  line: number;
}

interface Walk {
  leaves: Leaf[];
  errorLines: Set<number>;
  firstError: number;
}

/** Collects tokens in source order with an explicit stack (trees of large files are deep). */
function walkTree(lang: TreeSitterLanguage, root: Node): Walk {
  const walk: Walk = { leaves: [], errorLines: new Set(), firstError: Number.POSITIVE_INFINITY };
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const line = node.startPosition.row + 1;
    if (node.isError || node.isMissing) {
      // A node that ends at column 0 ends with the previous line's line break.
      const end = node.endPosition;
      const last = end.column === 0 && end.row > node.startPosition.row ? end.row : end.row + 1;
      for (let l = line; l <= last; l++) walk.errorLines.add(l);
      walk.firstError = Math.min(walk.firstError, line);
      if (node.isMissing) continue;
    }
    if (COMMENTS.has(node.type)) continue;
    const literal = LITERALS[node.type];
    if (literal !== undefined && node.isNamed) {
      walk.leaves.push({ text: node.text, label: literal, line });
      continue;
    }
    const n = node.childCount;
    if (n === 0) {
      if (node.startIndex === node.endIndex || node.text.trim().length === 0) continue;
      walk.leaves.push({ text: node.text, label: leafLabel(lang, node), line });
      continue;
    }
    for (let k = n - 1; k >= 0; k--) stack.push(node.child(k)!);
  }
  return walk;
}

/** Labels source code of a tree-sitter language; see the module comment for the categories. */
export async function labelTreeSitterSource(
  lang: TreeSitterLanguage,
  source: string,
  opts: SourceLabelOptions = {},
): Promise<LabelResult> {
  const parser = await treeSitterParser(lang);
  const tree = parser.parse(source);
  if (tree === null)
    throw new InputError(opts.file ?? "<input>", `tree-sitter could not parse the ${lang} input`);
  try {
    const walk = walkTree(lang, tree.rootNode);
    const out = emptyResult();
    if (walk.errorLines.size > 0 && !opts.skipBadLines)
      throw new InputError(
        opts.file ?? "<input>",
        `${lang} syntax error (use --skip-bad-lines to leave such lines out)`,
        { line: walk.firstError },
      );
    const kept =
      walk.errorLines.size > 0 ? walk.leaves.filter((l) => !walk.errorLines.has(l.line)) : walk.leaves;
    groupByLine(
      kept,
      opts.sentence ?? "line",
      (l) => l.text,
      (l) => l.label,
      out,
    );
    for (const line of [...walk.errorLines].sort((a, b) => a - b))
      out.skipped.push({ line, reason: `${lang} syntax error` });
    return out;
  } finally {
    tree.delete();
    parser.delete();
  }
}
