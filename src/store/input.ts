import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { InputError } from "../util/errors.js";

/**
 * Reads a sentence file (one sentence per line, words separated by whitespace) and an optional
 * parallel label file. CRLF and tabs are accepted; empty lines are kept as empty sentences (so that
 * line numbers stay valid references) and counted.
 */
export interface SentenceInput {
  file: string;
  sha256: string;
  /** Words per input line; [] for an empty line. */
  lines: string[][];
  labels?: string[][];
  labelsFile?: string;
  labelsSha256?: string;
  emptyLines: number;
}

export function splitWords(line: string): string[] {
  const t = line.trim();
  return t === "" ? [] : t.split(/\s+/u);
}

function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

async function readText(file: string): Promise<{ text: string; sha256: string }> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    throw new InputError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    throw new InputError(file, "not valid UTF-8 text");
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { text, sha256: createHash("sha256").update(buf).digest("hex") };
}

export async function readSentenceInput(file: string, labelsFile?: string): Promise<SentenceInput> {
  const { text, sha256 } = await readText(file);
  const lines = splitLines(text).map(splitWords);
  const emptyLines = lines.filter((l) => l.length === 0).length;
  const input: SentenceInput = { file, sha256, lines, emptyLines };
  if (labelsFile === undefined) return input;
  const lab = await readText(labelsFile);
  const labelLines = splitLines(lab.text).map(splitWords);
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
