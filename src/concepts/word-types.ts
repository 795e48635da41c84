import type { CorpusRows } from "./types.js";

/**
 * The distinct words of a corpus (word types), in order of first occurrence, with their occurrences in
 * compressed form (CSR) and their majority class. Computed once; every per-neuron statistic indexes it.
 */
export interface WordTypes {
  readonly types: string[];
  /** typeOf[row] = index into `types`. */
  readonly typeOf: Int32Array;
  readonly counts: Int32Array;
  /** Rows of type t: rowsOfType[offsets[t] .. offsets[t+1]). */
  readonly offsets: Int32Array;
  readonly rowsOfType: Int32Array;
  /** Majority class per type (ties: lower class index), -1 when none of its rows is labelled. */
  readonly label: Int32Array;
}

export function wordTypes(rows: CorpusRows): WordTypes {
  const n = rows.words.length;
  const index = new Map<string, number>();
  const types: string[] = [];
  const typeOf = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const w = rows.words[r];
    let t = index.get(w);
    if (t === undefined) {
      t = types.length;
      index.set(w, t);
      types.push(w);
    }
    typeOf[r] = t;
  }
  const counts = new Int32Array(types.length);
  for (let r = 0; r < n; r++) counts[typeOf[r]]++;
  const offsets = new Int32Array(types.length + 1);
  for (let t = 0; t < types.length; t++) offsets[t + 1] = offsets[t] + counts[t];
  const fill = offsets.slice(0, types.length);
  const rowsOfType = new Int32Array(n);
  for (let r = 0; r < n; r++) rowsOfType[fill[typeOf[r]]++] = r;
  return { types, typeOf, counts, offsets, rowsOfType, label: majorityLabels(rows, types.length, typeOf) };
}

function majorityLabels(rows: CorpusRows, numTypes: number, typeOf: Int32Array): Int32Array {
  const k = rows.classes.length;
  const votes = new Int32Array(numTypes * k);
  for (let r = 0; r < typeOf.length; r++) {
    const c = rows.labels[r];
    if (c >= 0 && c < k) votes[typeOf[r] * k + c]++;
  }
  const label = new Int32Array(numTypes).fill(-1);
  for (let t = 0; t < numTypes; t++) {
    let best = 0;
    for (let c = 0; c < k; c++) {
      if (votes[t * k + c] > best) {
        best = votes[t * k + c];
        label[t] = c;
      }
    }
  }
  return label;
}
