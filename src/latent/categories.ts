import type { Node } from "web-tree-sitter";
import { IDENT } from "../data/labels.js";
import { isTreeSitterLanguage, treeSitterParser } from "../data/treesitter/label.js";
import type { ActivationStore } from "../store/index.js";
import { InputError, UserError } from "../util/errors.js";
import type { TokenSelection } from "./select.js";

/**
 * Human categories a latent cluster can be compared with, each a family of mutually exclusive values
 * per token (a token has at most one value of each family):
 * - `label`: the token's label in the store (labels.txt: the paper's scheme, IDENT, KEYWORD, DOT, …);
 * - `parent`: the type of the tree-sitter node the token hangs from (`argument_list`,
 *   `method_declaration`, …): the line is parsed on its own with the language's grammar, and the
 *   token's node is the largest one spanning exactly the token; a line that does not parse as a whole
 *   still gives its tokens parents (`ERROR` where tree-sitter could not place them);
 * - `casing`: the casing style of identifiers (tokens labelled IDENT): lower, camelCase, PascalCase,
 *   UPPER_CASE, snake_case, or other (leading underscores, `$`, mixed styles);
 * - `position`: the token opens its line (first), closes it (last) or is the line (only); tokens inside
 *   a line have no position category, so that the many middle tokens do not make every cluster
 *   "aligned" with being in the middle.
 */
export const CATEGORY_FAMILIES = ["label", "parent", "casing", "position"] as const;
export type CategoryFamily = (typeof CATEGORY_FAMILIES)[number];

export function isCategoryFamily(name: string): name is CategoryFamily {
  return (CATEGORY_FAMILIES as readonly string[]).includes(name);
}

/** One family's values over the selected tokens. */
export interface TokenCategories {
  family: CategoryFamily;
  /** The values found, sorted. */
  values: string[];
  /** Per token, an index into `values`, or -1 when the family says nothing about the token. */
  token: Int32Array;
}

export interface CategoryOptions {
  families: readonly CategoryFamily[];
  /** The code's language, for `parent` (a tree-sitter grammar). */
  language?: string;
  /** Named in errors. */
  storeDir: string;
}

export async function tokenCategories(
  store: ActivationStore,
  tokens: TokenSelection,
  opts: CategoryOptions,
): Promise<TokenCategories[]> {
  const needLabels = opts.families.filter((f) => f === "label" || f === "casing");
  if (needLabels.length > 0 && !store.hasLabels)
    throw new InputError(
      opts.storeDir,
      `the store has no labels (labels.txt), which the ${needLabels.join(" and ")} categories need: extract with --labels, or leave them out with --categories`,
    );
  const out: TokenCategories[] = [];
  for (const family of opts.families) {
    const names: (string | null)[] =
      family === "label"
        ? labelsOf(store, tokens)
        : family === "casing"
          ? casingsOf(store, tokens)
          : family === "position"
            ? positionsOf(store, tokens)
            : await parentsOf(store, tokens, opts.language);
    out.push(indexed(family, names));
  }
  return out;
}

function indexed(family: CategoryFamily, names: (string | null)[]): TokenCategories {
  const values = [...new Set(names.filter((v): v is string => v !== null))].sort();
  const index = new Map(values.map((v, i) => [v, i]));
  return { family, values, token: Int32Array.from(names, (v) => (v === null ? -1 : index.get(v)!)) };
}

function labelsOf(store: ActivationStore, tokens: TokenSelection): string[] {
  return Array.from(tokens.sentence, (s, i) => store.labels(s)![tokens.position[i]]);
}

const CASINGS: readonly [string, RegExp][] = [
  ["lower", /^[a-z][a-z0-9]*$/],
  ["snake_case", /^[a-z][a-z0-9]*(_[a-z0-9]+)+$/],
  ["UPPER_CASE", /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/],
  ["camelCase", /^[a-z][a-z0-9]*[A-Z][A-Za-z0-9]*$/],
  ["PascalCase", /^[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$/],
];

/** The casing style of an identifier (see the module comment). */
export function casingOf(word: string): string {
  for (const [name, re] of CASINGS) if (re.test(word)) return name;
  return "other";
}

function casingsOf(store: ActivationStore, tokens: TokenSelection): (string | null)[] {
  return Array.from(tokens.sentence, (s, i) => {
    const p = tokens.position[i];
    return store.labels(s)![p] === IDENT ? casingOf(store.words(s)[p]) : null;
  });
}

function positionsOf(store: ActivationStore, tokens: TokenSelection): (string | null)[] {
  return Array.from(tokens.sentence, (s, i) => {
    const n = store.words(s).length;
    const p = tokens.position[i];
    return n === 1 ? "only" : p === 0 ? "first" : p === n - 1 ? "last" : null;
  });
}

async function parentsOf(
  store: ActivationStore,
  tokens: TokenSelection,
  language: string | undefined,
): Promise<string[]> {
  if (language === undefined)
    throw new UserError(
      "the parent categories need the code's language (--lang; a tree-sitter grammar parses each line)",
    );
  // C has a grammar of its own name (the C++ one, as the labeler parses it).
  if (!isTreeSitterLanguage(language))
    throw new UserError(`--lang: no tree-sitter grammar for '${language}'`);
  const parser = await treeSitterParser(language);
  const out = new Array<string>(tokens.words.length);
  try {
    let i = 0;
    while (i < tokens.words.length) {
      const s = tokens.sentence[i];
      const words = store.words(s);
      const starts: number[] = [];
      let at = 0;
      for (const w of words) {
        starts.push(at);
        at += w.length + 1;
      }
      // tree-sitter positions count UTF-16 code units, as JavaScript strings do.
      const tree = parser.parse(words.join(" "));
      if (tree === null) throw new Error(`tree-sitter could not parse line ${s}`);
      try {
        for (; i < tokens.words.length && tokens.sentence[i] === s; i++) {
          const p = tokens.position[i];
          out[i] = parentType(tree.rootNode, starts[p], starts[p] + words[p].length);
        }
      } finally {
        tree.delete();
      }
    }
  } finally {
    parser.delete();
  }
  return out;
}

function parentType(root: Node, start: number, end: number): string {
  let node: Node | null = root.descendantForIndex(start, end);
  if (node === null) return "ERROR";
  while (node.parent && node.parent.startIndex === start && node.parent.endIndex === end) node = node.parent;
  return node.parent?.type ?? node.type;
}
