import { type Matrix, selectColumns, selectRows } from "../util/matrix.js";
import { type SpaceLike, spaceOf } from "../util/neurons.js";
import type { ActivationSource, CorpusRows, LineActivations } from "./types.js";

/**
 * An ActivationSource over a matrix already in memory (rows × neurons, columns in `neurons` order).
 * Lines are rebuilt from the corpus rows, so a line shows only the words that are corpus rows; a store
 * gives whole lines.
 */
export function memorySource(
  activations: Matrix,
  rows: CorpusRows,
  neurons: readonly number[],
  space: SpaceLike,
): ActivationSource {
  if (activations.rows !== rows.words.length) {
    throw new Error(`activations have ${activations.rows} rows, corpus has ${rows.words.length}`);
  }
  if (activations.cols !== neurons.length) {
    throw new Error(`activations have ${activations.cols} columns, ${neurons.length} neuron ids given`);
  }
  const column = new Map(neurons.map((id, j) => [id, j]));
  const columnsOf = (ids: readonly number[]): number[] =>
    ids.map((id) => {
      const j = column.get(id);
      if (j === undefined) throw new Error(`neuron ${id} is not in the activation matrix`);
      return j;
    });
  const rowsOfSentence = new Map<number, number[]>();
  for (let r = 0; r < rows.words.length; r++) {
    const s = rows.sentence[r];
    rowsOfSentence.set(s, [...(rowsOfSentence.get(s) ?? []), r]);
  }
  return {
    space: spaceOf(space),
    neurons,
    rows,
    readBlock: async (ids) => selectColumns(activations, columnsOf(ids)),
    readLine: async (sentence, ids): Promise<LineActivations> => {
      const lineRows = (rowsOfSentence.get(sentence) ?? []).sort(
        (a, b) => rows.position[a] - rows.position[b],
      );
      return {
        words: lineRows.map((r) => rows.words[r]),
        activations: selectColumns(selectRows(activations, lineRows), columnsOf(ids)),
      };
    },
  };
}
