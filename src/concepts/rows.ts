import type { ActivationStore } from "../store/index.js";
import type { CorpusRows } from "./types.js";

/** Corpus rows with the store rows they are. */
export type StoreCorpusRows = CorpusRows & { storeRows: Int32Array };

/**
 * Without a task: the store's first `maxRows` word rows in input order, labelled from the store's
 * label file when it has one (a label outside `classes` is -1). Without `classes`, the classes are the
 * labels found, sorted. The concepts stage and the explorer both analyse these rows.
 */
export function storeCorpusRows(
  store: ActivationStore,
  maxRows: number,
  classes?: readonly string[],
): StoreCorpusRows {
  const words: string[] = [];
  const sentence: number[] = [];
  const position: number[] = [];
  const names: (string | null)[] = [];
  for (let s = 0; s < store.numLines && words.length < maxRows; s++) {
    const ws = store.words(s);
    const ls = store.labels(s);
    for (let i = 0; i < ws.length && words.length < maxRows; i++) {
      words.push(ws[i]);
      sentence.push(s);
      position.push(i);
      names.push(ls?.[i] ?? null);
    }
  }
  const found = classes ?? [...new Set(names.filter((l): l is string => l !== null))].sort();
  const index = new Map(found.map((c, i) => [c, i]));
  return {
    words,
    sentence: Int32Array.from(sentence),
    position: Int32Array.from(position),
    labels: Int32Array.from(names, (l) => (l === null ? -1 : (index.get(l) ?? -1))),
    classes: found,
    storeRows: Int32Array.from(sentence, (s, i) => store.row(s, position[i])),
  };
}
