/**
 * Writes the demo's BigCloneBench-format sample (demo/bigclonebench/): data.jsonl ({func, idx}) and the
 * pair files train.txt / valid.txt / test.txt (`idx1<TAB>idx2<TAB>label`), CodeXGLUE's Clone-detection-
 * BigCloneBench layout, so that `codeneurons run --demo bigclonebench` runs offline. No BigCloneBench
 * data is bundled or reachable here: this is a FORMAT SAMPLE with synthetic labels (demo/README.md).
 *
 * Each function is a Java method whose body is a run of 3 to 5 consecutive statements of the paper's
 * Java token lines (data/java-token-lines/train.in: each a complete statement ending in `;`, without
 * braces or annotations, tokens as javalang writes them), under a method name taken from the lines. Each
 * such snippet also gets a type-2 clone: every local name (an identifier starting in lower case, not
 * after `.`; the method name included) consistently renamed to another such name of the lines, every
 * integer, floating-point and string literal replaced by another of the same kind; types, member names
 * and layout kept. Label 1 (clone): a snippet and its own type-2 clone. Label 0 (not a clone): a snippet
 * and the type-2 clone of another snippet of the same split. So every pair has one original and one
 * renamed side (which side is which is random), and only whether the two sides share their structure
 * tells the labels apart. Splits use disjoint snippets; half the pairs of each split are clones.
 *
 * Regenerate with:  npx tsx scripts/make-demo-bigclonebench.ts [path/to/java-token-lines/train.in]
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type JavaToken, lexJava } from "../src/data/java/lexer.js";
import { Rng } from "../src/util/rng.js";

/** Pairs per split (half of them clones). */
const PAIRS = { train: 200, valid: 50, test: 50 } as const;
const SEED = 7;
const MIN_STATEMENTS = 3;
const MAX_STATEMENTS = 5;
const MAX_STATEMENT_TOKENS = 24;

const root = join(import.meta.dirname, "..");
const source = process.argv[2] ?? join(root, "data", "java-token-lines", "train.in");
const out = join(root, "demo", "bigclonebench");
const rng = new Rng(SEED);

const lines = readFileSync(source, "utf8")
  .split("\n")
  .map((l) => l.trim());

/** A statement fit for a method body: ends in `;`, balanced parentheses, no braces, lambdas or annotations. */
function statementTokens(line: string): JavaToken[] | null {
  const words = line.split(" ");
  if (words.length < 4 || words.length > MAX_STATEMENT_TOKENS || words.at(-1) !== ";") return null;
  if (words.some((w) => w === "{" || w === "}" || w === "@" || w === "->")) return null;
  let tokens: JavaToken[];
  try {
    tokens = lexJava(line, { unicodeEscapes: false }).tokens;
  } catch {
    return null;
  }
  let depth = 0;
  for (const t of tokens) {
    if (t.text === "(") depth++;
    if (t.text === ")" && --depth < 0) return null;
  }
  return depth === 0 ? tokens : null;
}

const isLocalName = (tokens: readonly JavaToken[], i: number): boolean =>
  tokens[i].kind === "Identifier" && /^[a-z]/.test(tokens[i].text) && tokens[i - 1]?.text !== ".";

// Runs of consecutive fit statements (consecutive lines of the corpus come from the same source file),
// and the pools a type-2 clone draws from.
const runs: JavaToken[][][] = [];
const names = new Set<string>();
const methodNames = new Set<string>();
const strings = new Set<string>();
let current: JavaToken[][] = [];
for (const line of lines) {
  const tokens = statementTokens(line);
  if (tokens === null) {
    if (current.length >= MIN_STATEMENTS) runs.push(current);
    current = [];
    continue;
  }
  current.push(tokens);
  for (let i = 0; i < tokens.length; i++) {
    if (!isLocalName(tokens, i)) continue;
    if (tokens[i + 1]?.text === "(") methodNames.add(tokens[i].text);
    else names.add(tokens[i].text);
  }
  for (const t of tokens) if (t.kind === "String" && t.text.length <= 24) strings.add(t.text);
}
const namePool = [...names].sort();
const methodPool = [...methodNames].sort();
const stringPool = [...strings].sort();

interface Snippet {
  name: string;
  body: string[][];
  kinds: JavaToken["kind"][][];
}

function snippet(run: JavaToken[][]): Snippet {
  const n = Math.min(run.length, MIN_STATEMENTS + rng.int(MAX_STATEMENTS - MIN_STATEMENTS + 1));
  const start = rng.int(run.length - n + 1);
  const body = run.slice(start, start + n);
  return {
    name: methodPool[rng.int(methodPool.length)],
    body: body.map((s) => s.map((t) => t.text)),
    kinds: body.map((s) => s.map((t) => t.kind)),
  };
}

function otherThan<T>(pool: readonly T[], not: T, taken: ReadonlySet<T> = new Set()): T {
  for (;;) {
    const v = pool[rng.int(pool.length)];
    if (v !== not && !taken.has(v)) return v;
  }
}

function otherNumber(text: string, kind: JavaToken["kind"]): string {
  if (kind === "DecimalFloatingPoint") return `${1 + rng.int(99)}.${rng.int(10)}`;
  const suffix = /[lL]$/.test(text) ? "L" : "";
  const n = Number.parseInt(text, 10);
  const digits = Number.isFinite(n) ? String(n).length : 1;
  let v: number;
  do v = rng.int(10 ** Math.min(digits + 1, 6));
  while (String(v) === text.replace(/[lL]$/, ""));
  return `${v}${suffix}`;
}

/** The type-2 clone: local names renamed consistently, literals replaced. */
function type2Clone(s: Snippet): Snippet {
  const rename = new Map<string, string>();
  const used = new Set<string>();
  const renamed = (name: string, pool: readonly string[]): string => {
    let to = rename.get(name);
    if (to === undefined) {
      to = otherThan(pool, name, used);
      rename.set(name, to);
      used.add(to);
    }
    return to;
  };
  const name = renamed(s.name, methodPool);
  const body = s.body.map((stmt, si) => {
    const kinds = s.kinds[si];
    const tokens = stmt.map((text, i) => ({ text, kind: kinds[i] }) as JavaToken);
    return stmt.map((text, i) => {
      if (isLocalName(tokens, i)) return renamed(text, tokens[i + 1]?.text === "(" ? methodPool : namePool);
      if (kinds[i] === "DecimalInteger" || kinds[i] === "DecimalFloatingPoint")
        return otherNumber(text, kinds[i]);
      if (kinds[i] === "String") return otherThan(stringPool, text);
      return text;
    });
  });
  return { name, body, kinds: s.kinds };
}

function javaMethod(s: Snippet): string {
  return [`public void ${s.name} ( ) {`, ...s.body.map((stmt) => `    ${stmt.join(" ")}`), "}"].join("\n");
}

// Disjoint snippets per split, each from its own run of statements.
const runOrder = rng.permutation(runs.length);
let nextRun = 0;
/** Functions in order of creation; pair lines name them by position until the ids are drawn. */
const functions: { func: string }[] = [];
const pairFiles: Record<string, string[]> = {};
for (const [split, count] of Object.entries(PAIRS)) {
  const snippets = count / 2;
  const original: string[] = [];
  const clone: string[] = [];
  for (let i = 0; i < snippets; i++) {
    const s = snippet(runs[runOrder[nextRun++]]);
    for (const [list, f] of [
      [original, s],
      [clone, type2Clone(s)],
    ] as const) {
      list.push(String(functions.length));
      functions.push({ func: javaMethod(f) });
    }
  }
  // Non-clones: along a random cycle through the snippets, each one with the clone of the next, so
  // that never with its own clone and every function is in one clone pair and one non-clone pair.
  const cycle = rng.permutation(snippets);
  const next = new Array<number>(snippets);
  for (let k = 0; k < snippets; k++) next[cycle[k]] = cycle[(k + 1) % snippets];
  const pairs: string[] = [];
  for (let i = 0; i < snippets; i++) {
    for (const [a, b, label] of [
      [original[i], clone[i], 1],
      [original[i], clone[next[i]], 0],
    ] as const)
      pairs.push(rng.next() < 0.5 ? `${a}\t${b}\t${label}` : `${b}\t${a}\t${label}`);
  }
  pairFiles[split] = rng.shuffle(pairs);
}

// Ids in a shuffled order, so that neither the ids nor data.jsonl's order show which functions pair up.
const ids = rng.permutation(functions.length).map((k) => String(10000 + k));
const rows = functions
  .map((f, i) => ({ func: f.func, idx: ids[i] }))
  .sort((a, b) => Number(a.idx) - Number(b.idx));
const idOf = (position: string): string => ids[Number(position)];
for (const split of Object.keys(pairFiles))
  pairFiles[split] = pairFiles[split].map((line) => {
    const [a, b, label] = line.split("\t");
    return `${idOf(a)}\t${idOf(b)}\t${label}`;
  });

mkdirSync(out, { recursive: true });
writeFileSync(join(out, "data.jsonl"), rows.map((f) => `${JSON.stringify(f)}\n`).join(""));
for (const [split, pairs] of Object.entries(pairFiles)) {
  writeFileSync(join(out, `${split}.txt`), pairs.map((p) => `${p}\n`).join(""));
  process.stderr.write(`${split}: ${pairs.length} pairs\n`);
}
process.stderr.write(`data.jsonl: ${functions.length} functions from ${runs.length} runs of statements\n`);
