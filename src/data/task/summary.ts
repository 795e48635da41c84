import { SPLITS } from "../splits.js";
import type { TaskSummary } from "./build.js";

/**
 * A task's summary (summary.json) as lines for a terminal: the class distribution per split, what
 * each lexical-control rule removed, classes short of their cap, the word lists and the control task.
 */
export function formatTaskSummary(summary: TaskSummary, out: string): string {
  const classes = summary.classes;
  const width = Math.max(8, ...classes.map((c) => c.length));
  const lines = [`${summary.kind} task (seed ${summary.seed}) → ${out}`, "", "class distribution:"];
  lines.push(`  ${"".padEnd(width)} ${SPLITS.map((s) => s.padStart(7)).join(" ")}`);
  for (const c of classes)
    lines.push(
      `  ${c.padEnd(width)} ${SPLITS.map((s) => String(summary.counts[s][c] ?? 0).padStart(7)).join(" ")}`,
    );
  lines.push(
    `  ${"total".padEnd(width)} ${SPLITS.map((s) => String(summary.totals[s]).padStart(7)).join(" ")}`,
  );
  lines.push(
    "",
    "removed by each rule (candidates → other split's word list / seen in train / over cap → kept):",
  );
  for (const s of SPLITS)
    for (const c of classes) {
      const r = summary.removed[s][c];
      lines.push(
        `  ${s.padEnd(5)} ${c.padEnd(width)} ${String(r.candidates).padStart(7)} → ${String(r.otherSplitWordList).padStart(6)} / ${String(r.seenInTrain).padStart(6)} / ${String(r.overCap).padStart(7)} → ${r.selected}`,
      );
    }
  if (summary.shortfall.length > 0) {
    lines.push("", "short of the cap:");
    for (const f of summary.shortfall)
      lines.push(`  ${f.split} ${f.label}: ${f.selected}/${f.cap} (${f.reason})`);
  }
  for (const [cls, lists] of Object.entries(summary.wordLists))
    lines.push(`word list ${cls}: ${SPLITS.map((s) => `${s} ${lists[s].length}`).join(", ")}`);
  if (summary.control)
    lines.push(`control task: ${summary.control.mode}, ${summary.control.types} word types`);
  return lines.join("\n");
}
