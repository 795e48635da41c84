/**
 * Crashes the fuzz round found in parsers it must not change, reported to their owners instead of
 * fixed. Each is counted by the round (a target's `known` list), not failed, and fuzz.test.ts holds a
 * minimal reproducer of each as an `it.fails` (or, for aborts, a child process): when a bug is fixed,
 * its test turns red and its entry here should go. A new entry: `export const NAME: KnownCrash = {
 * bug, matches }`.
 *
 * None at present: issue 16's JSON checker fixed those of the store's JSON files (index.json,
 * plan.json, shard records, absurd widths) and of NeuroX import (values beyond the storage dtype,
 * tokens holding blanks); their reproducers are ordinary tests now.
 */
export type { KnownCrash } from "./harness.js";
