import type { TaskSplit } from "../data/task/tsv.js";
import { InputError } from "../util/errors.js";
import type { Matrix } from "../util/matrix.js";
import type { ActivationStore, ReadOptions } from "./reader.js";

/**
 * Task rows → store rows, the one mapping every stage uses (probe, concepts, the redundancy pipeline).
 * A token task's row names a line of its split's `.in` file and a word of it, so the store must hold
 * that split's lines: the word stored there must be the row's token (both decoded). A sentence task's
 * line i is the store's line i, word for word. A mismatch is an InputError naming the task file, the
 * line and the field, with the likely cause (the store of another split).
 */

/** Store rows of a token task's rows, in task order; `file` is the task file (rows start on line 2). */
export function storeRowsOfTask(
  store: ActivationStore,
  rows: Pick<TaskSplit, "sentence" | "word" | "token">,
  file: string,
): Int32Array {
  const out = new Int32Array(rows.token.length);
  for (let i = 0; i < out.length; i++)
    out[i] = storeRowOf(store, file, i + 2, rows.sentence[i], rows.word[i], rows.token[i]);
  return out;
}

/** The activations of a token task's rows (rows in task order, columns as `columns` asks). */
export async function readTaskActivations(
  store: ActivationStore,
  rows: Pick<TaskSplit, "sentence" | "word" | "token">,
  columns: ReadOptions,
  file: string,
): Promise<Matrix> {
  return store.readRows(storeRowsOfTask(store, rows, file), columns);
}

function storeRowOf(
  store: ActivationStore,
  file: string,
  line: number,
  sentence: number,
  word: number,
  token: string,
): number {
  if (sentence >= store.numLines) {
    throw new InputError(
      file,
      `line ${sentence} is past the store's last line (${store.numLines - 1}): is this the store of this split?`,
      { line, field: "sentence" },
    );
  }
  const words = store.words(sentence);
  if (word >= words.length) {
    throw new InputError(
      file,
      `word ${word} is past the end of line ${sentence} (${words.length} words) in the store`,
      { line, field: "word" },
    );
  }
  if (words[word] !== token) {
    throw new InputError(
      file,
      `token '${token}' but the store has '${words[word]}' there: is this the store of this split?`,
      { line, field: "token" },
    );
  }
  return store.row(sentence, word);
}

/**
 * Store rows of a sentence task's lines (sentence-level store: one row per line); `file` is the
 * split's `.in` file (line i + 1 is sentence i).
 */
export function storeRowsOfSentences(
  store: ActivationStore,
  sentences: string[][],
  file: string,
): Int32Array {
  const rows = new Int32Array(sentences.length);
  sentences.forEach((words, i) => {
    const stored = i < store.numLines ? store.words(i) : [];
    const same = stored.length === words.length && stored.every((w, k) => w === words[k]);
    if (!same)
      throw new InputError(
        file,
        `sentence ${i} is not the store's line ${i} (${store.dir}): is this the store of this split?`,
        {
          line: i + 1,
        },
      );
    rows[i] = store.row(i, 0);
  });
  return rows;
}
