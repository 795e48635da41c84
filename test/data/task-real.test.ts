import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { labelJavaTokenLines } from "../../src/data/java/label.js";
import { SIX_CLASSES } from "../../src/data/labels.js";
import { type PerSplit, SPLITS } from "../../src/data/splits.js";
import { buildTokenTagging, classCounts, type TaskSource } from "../../src/data/task/build.js";
import { formatTaskTsv } from "../../src/data/task/tsv.js";
import { sharedData } from "./shared.js";

/**
 * The paper's task on the paper's data (shared/data/java-token-lines): labelling all 109,608 lines
 * takes about a second here, the selection well under one.
 */
const sources = {} as PerSplit<TaskSource>;
for (const s of SPLITS) {
  const path = sharedData(`java-token-lines/${s}.in`);
  const r = labelJavaTokenLines(readFileSync(path, "utf8"), { file: path });
  sources[s] = { prefix: s, in: path, label: "", sha256: { in: "", label: "" }, corpus: r };
}
const caps = { train: 2000, valid: 270, test: 340 };
const build = buildTokenTagging(sources, { seed: 1, caps, control: "distribution" });

describe("the paper's 6-class task on shared/data/java-token-lines", () => {
  it("labels every line of the three splits without skips or anomalies", () => {
    expect(SPLITS.map((s) => sources[s].corpus.sentences.length)).toEqual([54804, 27402, 27402]);
    const tokens = (s: (typeof SPLITS)[number]): number =>
      sources[s].corpus.sentences.reduce((n, line) => n + line.length, 0);
    expect(SPLITS.map(tokens)).toEqual([581365, 286235, 277357]);
  });

  it("reaches 12000 / 1620 / 2040 tokens: the full cap for every class in every split", () => {
    const counts = classCounts(build.selection.rows, SIX_CLASSES);
    for (const s of SPLITS) for (const c of SIX_CLASSES) expect(counts[s][c], `${s} ${c}`).toBe(caps[s]);
    expect(SPLITS.map((s) => build.selection.rows[s].length)).toEqual([12000, 1620, 2040]);
    expect(build.selection.shortfall).toEqual([]);
  });

  it("valid/test tokens never occur among the selected train tokens", () => {
    const train = new Set(build.selection.rows.train.map((r) => r.token));
    for (const s of ["valid", "test"] as const)
      expect(build.selection.rows[s].filter((r) => train.has(r.token))).toEqual([]);
  });

  it("keyword, modifier and type word lists are disjoint across splits and every selected token uses its split's list", () => {
    for (const cls of ["KEYWORD", "MODIFIER", "TYPE"]) {
      const lists = build.selection.wordLists[cls];
      const all = [...lists.train, ...lists.valid, ...lists.test];
      expect(new Set(all).size, cls).toBe(all.length);
      for (const s of SPLITS) {
        expect(lists[s].length, `${cls} ${s}`).toBeGreaterThan(0);
        const own = new Set(lists[s]);
        expect(build.selection.rows[s].filter((r) => r.label === cls && !own.has(r.token))).toEqual([]);
      }
    }
  });

  it("every row points at its token and its label in the labelled split", () => {
    for (const s of SPLITS) {
      const { sentences, labels } = sources[s].corpus;
      const wrong = build.selection.rows[s].filter(
        (r) => sentences[r.sentence][r.word] !== r.token || labels[r.sentence][r.word] !== r.label,
      );
      expect(wrong).toEqual([]);
    }
  });

  it("the control task's type-level label shares follow the train distribution (1/6 each, tolerance 0.03)", () => {
    const control = build.control!;
    // About 4,400 types: the share of one label has a standard deviation near sqrt((1/6)(5/6)/4400)
    // = 0.0056, so 0.03 is over 5 standard deviations.
    const first = new Map<string, string>();
    for (const s of SPLITS)
      for (const r of control.rows[s]) if (!first.has(r.token)) first.set(r.token, r.label);
    for (const c of SIX_CLASSES) {
      expect(control.distribution[c]).toBeCloseTo(1 / 6, 10);
      const share = [...first.values()].filter((l) => l === c).length / first.size;
      expect(Math.abs(share - 1 / 6), c).toBeLessThan(0.03);
    }
  });

  it("is deterministic for a seed", () => {
    const again = buildTokenTagging(sources, { seed: 1, caps, control: "distribution" });
    const other = buildTokenTagging(sources, { seed: 2, caps, control: "none" });
    for (const s of SPLITS) {
      expect(formatTaskTsv(again.selection.rows[s])).toBe(formatTaskTsv(build.selection.rows[s]));
      expect(formatTaskTsv(again.control!.rows[s])).toBe(formatTaskTsv(build.control!.rows[s]));
    }
    expect(formatTaskTsv(other.selection.rows.train)).not.toBe(formatTaskTsv(build.selection.rows.train));
  });
});
