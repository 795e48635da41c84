import { Rng } from "../../util/rng.js";

/**
 * The selection engine behind the token-level tasks: from the tokens of three labelled splits, pick a
 * balanced set per class under the paper's lexical controls (docs/DESIGN.md, "Token tagging task"):
 *
 * 1. closed classes (KEYWORD, MODIFIER, TYPE by default) get disjoint word lists across
 *    train / valid / test; a token of a closed class is only eligible in the split that owns its word;
 * 2. train is selected first, per class, up to its cap; in the "prefer unseen" classes (NUMBER by
 *    default) train tokens are taken in order of how many valid/test tokens share their text, so
 *    that NUMBER tokens occurring only in train come first and valid/test lose as little as possible;
 *    otherwise uniformly at random;
 * 3. valid and test keep only tokens whose text never occurs among the selected train tokens (any
 *    class), then are capped per class, uniformly at random.
 * Everything random comes from one Rng(seed), consumed in a fixed order: same seed, same task.
 */
import { type PerSplit, SPLITS, type SplitName } from "../splits.js";

export type { PerSplit, SplitName };

/** A token of a split that belongs to one of the task's classes. */
export interface Candidate {
  /** 0-based line in the split's .in file. */
  sentence: number;
  /** 0-based position in the line. */
  word: number;
  token: string;
  label: string;
}

export interface SelectionConfig {
  classes: readonly string[];
  caps: PerSplit<number>;
  closedClasses: readonly string[];
  preferUnseen: readonly string[];
  /** Apply rule 3 (default true). */
  unseenInTrain: boolean;
  seed: number;
}

/** Why tokens of one class in one split were not selected. */
export interface Removed {
  candidates: number;
  /** Closed class: the word belongs to another split's list. */
  otherSplitWordList: number;
  /** valid/test: the text occurs among the selected train tokens. */
  seenInTrain: number;
  /** Eligible but beyond the cap. */
  overCap: number;
  selected: number;
}

export interface WordLists {
  [cls: string]: PerSplit<string[]>;
}

export interface Selection {
  rows: PerSplit<Candidate[]>;
  wordLists: WordLists;
  removed: PerSplit<Record<string, Removed>>;
  /** Classes that could not reach the cap in a split: how many were missing. */
  shortfall: { split: SplitName; label: string; cap: number; selected: number; reason: string }[];
}

export function selectTask(candidates: PerSplit<Candidate[]>, cfg: SelectionConfig): Selection {
  const rng = new Rng(cfg.seed);
  const closed = cfg.closedClasses.filter((c) => cfg.classes.includes(c));
  const wordLists = assignClosedWords(candidates, closed, cfg.caps, rng);
  const owner = ownerMap(wordLists);
  const removed = {} as PerSplit<Record<string, Removed>>;
  const rows = {} as PerSplit<Candidate[]>;
  const shortfall: Selection["shortfall"] = [];
  const valTestCounts = textCounts([candidates.valid, candidates.test]);
  let trainTexts = new Set<string>();
  for (const split of SPLITS) {
    removed[split] = {};
    rows[split] = [];
    const byClass = groupByClass(candidates[split], cfg.classes);
    for (const cls of cfg.classes) {
      const all = byClass.get(cls) ?? [];
      const r: Removed = {
        candidates: all.length,
        otherSplitWordList: 0,
        seenInTrain: 0,
        overCap: 0,
        selected: 0,
      };
      let eligible = all;
      if (closed.includes(cls)) {
        eligible = eligible.filter((c) => owner.get(cls)?.get(c.token) === split);
        r.otherSplitWordList = all.length - eligible.length;
      }
      if (split !== "train" && cfg.unseenInTrain) {
        const before = eligible.length;
        eligible = eligible.filter((c) => !trainTexts.has(c.token));
        r.seenInTrain = before - eligible.length;
      }
      const cap = cfg.caps[split];
      const chosen =
        split === "train" && cfg.preferUnseen.includes(cls)
          ? takeLeastSeen(eligible, cap, valTestCounts, rng)
          : takeRandom(eligible, cap, rng);
      r.overCap = eligible.length - chosen.length;
      r.selected = chosen.length;
      removed[split][cls] = r;
      rows[split].push(...chosen);
      if (chosen.length < cap)
        shortfall.push({ split, label: cls, cap, selected: chosen.length, reason: shortfallReason(r) });
    }
    rows[split].sort((a, b) => a.sentence - b.sentence || a.word - b.word);
    if (split === "train") trainTexts = new Set(rows.train.map((c) => c.token));
  }
  return { rows, wordLists, removed, shortfall };
}

function shortfallReason(r: Removed): string {
  const parts = [`${r.candidates} tokens of this class in the split`];
  if (r.otherSplitWordList > 0) parts.push(`${r.otherSplitWordList} use words of another split's list`);
  if (r.seenInTrain > 0) parts.push(`${r.seenInTrain} have a text seen among the selected train tokens`);
  return `${parts.join("; ")}; ${r.selected} remain`;
}

function groupByClass(cands: readonly Candidate[], classes: readonly string[]): Map<string, Candidate[]> {
  const wanted = new Set(classes);
  const out = new Map<string, Candidate[]>();
  for (const c of cands) {
    if (!wanted.has(c.label)) continue;
    let list = out.get(c.label);
    if (list === undefined) {
      list = [];
      out.set(c.label, list);
    }
    list.push(c);
  }
  return out;
}

function textCounts(lists: readonly (readonly Candidate[])[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const list of lists) for (const c of list) counts.set(c.token, (counts.get(c.token) ?? 0) + 1);
  return counts;
}

/** k items uniformly at random (partial Fisher-Yates), in their original order. */
export function takeRandom<T>(items: readonly T[], k: number, rng: Rng): T[] {
  if (k >= items.length) return items.slice();
  const idx = Array.from({ length: items.length }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(items.length - i);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx
    .slice(0, k)
    .sort((a, b) => a - b)
    .map((i) => items[i]);
}

/** k items, those whose text is rarest in valid+test first (ties at random). */
function takeLeastSeen(
  items: readonly Candidate[],
  k: number,
  valTestCounts: Map<string, number>,
  rng: Rng,
): Candidate[] {
  const keyed = items.map((c, i) => ({ i, cost: valTestCounts.get(c.token) ?? 0, tie: rng.next() }));
  keyed.sort((a, b) => a.cost - b.cost || a.tie - b.tie);
  return keyed
    .slice(0, Math.min(k, keyed.length))
    .map((x) => x.i)
    .sort((a, b) => a - b)
    .map((i) => items[i]);
}

/**
 * Gives every word of a closed class to exactly one split. Words go in order of total frequency
 * (ties in seeded random order). While some split that contains the word is short of its cap, the
 * word goes to the split with the largest relative shortfall (train, valid, test on ties); once all
 * caps can be met, words are spread in proportion to the caps (to the split with the fewest words per
 * unit of cap), so that every split keeps some variety.
 */
export function assignClosedWords(
  candidates: PerSplit<Candidate[]>,
  closed: readonly string[],
  caps: PerSplit<number>,
  rng: Rng,
): WordLists {
  const lists: WordLists = {};
  const capTotal = caps.train + caps.valid + caps.test;
  for (const cls of closed) {
    const counts = new Map<string, PerSplit<number>>();
    for (const split of SPLITS)
      for (const c of candidates[split]) {
        if (c.label !== cls) continue;
        let n = counts.get(c.token);
        if (n === undefined) {
          n = { train: 0, valid: 0, test: 0 };
          counts.set(c.token, n);
        }
        n[split]++;
      }
    const words = rng.shuffle([...counts.keys()].sort());
    const total = (w: string): number => {
      const n = counts.get(w)!;
      return n.train + n.valid + n.test;
    };
    words.sort((a, b) => total(b) - total(a));
    const have: PerSplit<number> = { train: 0, valid: 0, test: 0 };
    const list: PerSplit<string[]> = { train: [], valid: [], test: [] };
    for (const w of words) {
      const n = counts.get(w)!;
      const open = SPLITS.filter((s) => n[s] > 0 && caps[s] > 0);
      if (open.length === 0) continue;
      let best = open[0];
      const deficit = (s: SplitName): number => Math.max(0, caps[s] - have[s]) / caps[s];
      if (open.some((s) => deficit(s) > 0)) {
        for (const s of open) if (deficit(s) > deficit(best)) best = s;
      } else {
        const load = (s: SplitName): number => (list[s].length + 1) / (caps[s] / capTotal);
        for (const s of open) if (load(s) < load(best)) best = s;
      }
      list[best].push(w);
      have[best] += n[best];
    }
    for (const s of SPLITS) list[s].sort();
    lists[cls] = list;
  }
  return lists;
}

function ownerMap(lists: WordLists): Map<string, Map<string, SplitName>> {
  const out = new Map<string, Map<string, SplitName>>();
  for (const [cls, list] of Object.entries(lists)) {
    const m = new Map<string, SplitName>();
    for (const s of SPLITS) for (const w of list[s]) m.set(w, s);
    out.set(cls, m);
  }
  return out;
}
