import { readTextWithHash, splitWordLines } from "../data/io.js";
import { InputError } from "../util/errors.js";

/**
 * Extraction's input: a sentence file (one sentence per line, words separated by whitespace) and an
 * optional parallel label file, read by the one sentence-file reader (data/io.ts). Words are kept as
 * written (escaped), because that is what the store's words.txt holds; extraction and the store decode
 * them (data/escape.ts, decodeWord). Empty lines are kept as empty sentences and counted.
 */
export interface SentenceInput {
  file: string;
  sha256: string;
  /** Words per input line, as written; [] for an empty line. */
  lines: string[][];
  labels?: string[][];
  labelsFile?: string;
  labelsSha256?: string;
  emptyLines: number;
}

export { splitWords } from "../data/io.js";

export async function readSentenceInput(file: string, labelsFile?: string): Promise<SentenceInput> {
  const { text, sha256 } = await readTextWithHash(file);
  const lines = splitWordLines(text);
  const emptyLines = lines.filter((l) => l.length === 0).length;
  const input: SentenceInput = { file, sha256, lines, emptyLines };
  if (labelsFile === undefined) return input;
  const lab = await readTextWithHash(labelsFile);
  const labelLines = splitWordLines(lab.text);
  if (labelLines.length !== lines.length) {
    throw new InputError(
      labelsFile,
      `has ${labelLines.length} lines but ${file} has ${lines.length}: the label file must be parallel to the input`,
    );
  }
  for (let i = 0; i < lines.length; i++) {
    if (labelLines[i].length !== lines[i].length) {
      throw new InputError(
        labelsFile,
        `line has ${labelLines[i].length} labels but line ${i + 1} of ${file} has ${lines[i].length} words`,
        { line: i + 1 },
      );
    }
  }
  return { ...input, labels: labelLines, labelsFile, labelsSha256: lab.sha256 };
}
