import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { writeJsonAtomic } from "../util/atomic.js";
import { UserError } from "../util/errors.js";
import { checkJson, envelope, readVersioned } from "../util/json.js";
import { labelCounts, writeLabelled } from "./io.js";
import { isLabelLanguage, type LabelBackend, type LabelFileOptions, labelFile } from "./label.js";
import { type LabelResult, tokenCount } from "./labelled.js";

/**
 * The label stage (`codeneurons label`, and `codeneurons run`'s for each split): code in, the
 * `.in` / `.label` pair out (PREFIX.in, PREFIX.label), with PREFIX.meta.json saying what was read,
 * how many tokens of each label came out, and which lines were left out or kept whole.
 */
export const LABELS_META_FORMAT = "codeneurons-labels";
/** Version 2 records the labeler (`parser`); version 1 did not. */
export const LABELS_META_VERSION = 2;

const META_FIELDS_V1 = {
  input: z.string(),
  inputSha256: z.string(),
  lang: z.string(),
  pretokenized: z.boolean(),
  out: z.object({ in: z.string(), label: z.string(), meta: z.string() }),
  sentences: z.number().int().min(0),
  tokens: z.number().int().min(0),
  /** Tokens of each label, most frequent first. */
  counts: z.record(z.string(), z.number().int().min(0)),
  /** Lines left out (with --skip-bad-lines), and why. */
  skipped: z.array(
    z.object({ line: z.number().int(), reason: z.string(), record: z.number().int().optional() }),
  ),
  /** Pieces of pre-tokenized lines that are not exactly one token: kept whole, labelled UNKNOWN. */
  anomalies: z.array(z.object({ line: z.number().int(), token: z.string(), reason: z.string() })),
  /** 1-based input line where each sentence starts. */
  sourceLines: z.array(z.number().int()),
  /** For JSON / JSONL inputs: the record (0-based) each sentence came from. */
  records: z.array(z.number().int()).optional(),
};

export const LABELS_META_SCHEMA = z
  .object({
    ...envelope(LABELS_META_FORMAT, LABELS_META_VERSION),
    ...META_FIELDS_V1,
    /** The labeler: the native lexer of Java / Python (the paper's labels) or tree-sitter. */
    parser: z.enum(["native", "tree-sitter"]),
  })
  .describe("codeneurons PREFIX.meta.json: what `codeneurons label` read and wrote");
export type LabelsMeta = z.infer<typeof LABELS_META_SCHEMA>;

/** PREFIX.meta.json of any version (version 1: the language's default labeler). */
export function parseLabelsMeta(value: unknown, file: string): LabelsMeta {
  const current = { format: LABELS_META_FORMAT, version: LABELS_META_VERSION } as const;
  return readVersioned(value, file, current, {
    1: (v) => {
      const old = checkJson(z.object({ ...envelope(LABELS_META_FORMAT, 1), ...META_FIELDS_V1 }), v, file);
      // Not recorded: the default labeler of the language (`label --parser tree-sitter` for Java or
      // Python cannot be told apart).
      return { ...old, ...current, parser: parserOf(old.lang, undefined) };
    },
    2: (v) => checkJson(LABELS_META_SCHEMA, v, file),
  });
}

/** The labeler that writes a language's labels with the given backend (tree-sitter for all but Java and Python). */
export function parserOf(lang: string, backend: LabelBackend | undefined): LabelBackend {
  return (lang === "java" || lang === "python") && backend !== "tree-sitter" ? "native" : "tree-sitter";
}

export interface LabelStageOptions extends Omit<LabelFileOptions, "lang"> {
  lang: string;
  input: string;
  /** Output prefix: PREFIX.in, PREFIX.label, PREFIX.meta.json. */
  out: string;
}

export interface LabelStageResult {
  meta: LabelsMeta;
  result: LabelResult;
}

/** Labels one file and writes PREFIX.in, PREFIX.label and PREFIX.meta.json atomically. */
export async function runLabel(opts: LabelStageOptions): Promise<LabelStageResult> {
  const { lang, input, out, ...options } = opts;
  if (!isLabelLanguage(lang)) throw new UserError(`--lang: unknown language '${lang}'`);
  const result = await labelFile(input, { ...options, lang });
  const paths = await writeLabelled(out, result);
  const meta: LabelsMeta = {
    format: LABELS_META_FORMAT,
    version: LABELS_META_VERSION,
    input,
    inputSha256: createHash("sha256")
      .update(await readFile(input))
      .digest("hex"),
    lang,
    pretokenized: Boolean(opts.pretokenized),
    parser: parserOf(lang, opts.backend),
    out: { in: paths.in, label: paths.label, meta: `${out}.meta.json` },
    sentences: result.sentences.length,
    tokens: tokenCount(result),
    counts: labelCounts(result.labels),
    skipped: result.skipped,
    anomalies: result.anomalies,
    sourceLines: result.sourceLines,
    ...(result.records ? { records: result.records } : {}),
  };
  await writeJsonAtomic(meta.out.meta, meta);
  return { meta, result };
}

/** What `codeneurons label` prints: the counts per label and what was left out. */
export function formatLabelSummary(s: LabelsMeta, seconds: number): string {
  const lines = [
    `${s.input}: ${s.sentences} sentences, ${s.tokens} tokens in ${seconds.toFixed(2)} s (${Math.round(s.tokens / Math.max(seconds, 1e-9))} tokens/s)`,
    `wrote ${s.out.in}, ${s.out.label}, ${s.out.meta}`,
  ];
  const width = Math.max(...Object.keys(s.counts).map((k) => k.length), 5);
  for (const [label, n] of Object.entries(s.counts))
    lines.push(
      `  ${label.padEnd(width)} ${String(n).padStart(8)} ${((100 * n) / Math.max(s.tokens, 1)).toFixed(2).padStart(6)}%`,
    );
  if (s.skipped.length > 0) {
    lines.push(`skipped ${s.skipped.length} line(s):`);
    for (const k of s.skipped.slice(0, 10))
      lines.push(`  line ${k.line}${k.record !== undefined ? ` (record ${k.record})` : ""}: ${k.reason}`);
    if (s.skipped.length > 10) lines.push(`  … (all in ${s.out.meta})`);
  }
  if (s.anomalies.length > 0)
    lines.push(`${s.anomalies.length} piece(s) kept whole as UNKNOWN (see ${s.out.meta})`);
  return lines.join("\n");
}
