import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../util/errors.js";
import { ByteLevelBpeTokenizer } from "./bytelevel.js";
import { HfJsonTokenizer } from "./hf.js";
import { readTokenizerSettings } from "./settings.js";
import type { WordTokenizer } from "./types.js";
import { WordPieceTokenizer } from "./wordpiece.js";

export { ByteLevelBpeTokenizer, readMerges, readVocabJson } from "./bytelevel.js";
export { HfJsonTokenizer } from "./hf.js";
export { readTokenizerSettings, type TokenizerSettings } from "./settings.js";
export * from "./types.js";
export { bertNormalize, bertPreTokenize, readVocabTxt, WordPieceTokenizer } from "./wordpiece.js";

/** Tokenizer files codeneurons cannot read, with what they are. */
const FOREIGN: Record<string, string> = {
  "tokenizer.model": "SentencePiece model",
  "spiece.model": "SentencePiece model",
  "sentencepiece.bpe.model": "SentencePiece model",
  "bpe.codes": "fastBPE codes",
};

/**
 * The tokenizer of a model directory: tokenizer.json when present (through @huggingface/tokenizers),
 * else vocab.txt (WordPiece, BERT) or vocab.json + merges.txt (byte-level BPE, GPT-2/RoBERTa), honouring
 * tokenizer_config.json and special_tokens_map.json.
 */
export async function loadTokenizer(dir: string): Promise<WordTokenizer> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError(dir, "no such model directory");
  const settings = readTokenizerSettings(dir);
  const has = (f: string) => existsSync(join(dir, f));
  if (has("tokenizer.json")) return HfJsonTokenizer.load(dir, settings);
  if (has("vocab.txt")) return WordPieceTokenizer.load(dir, settings);
  if (has("vocab.json") && has("merges.txt")) return ByteLevelBpeTokenizer.load(dir, settings);
  const foreign = readdirSync(dir)
    .filter((f) => Object.hasOwn(FOREIGN, f))
    .map((f) => `${f} (${FOREIGN[f]})`);
  let msg = "no tokenizer found: looked for tokenizer.json, vocab.txt, vocab.json + merges.txt";
  if (foreign.length > 0) {
    msg +=
      `; found ${foreign.join(", ")}, which codeneurons cannot read. In Python, ` +
      "AutoTokenizer.from_pretrained(dir).save_pretrained(dir) writes a tokenizer.json";
  }
  throw new InputError(dir, msg);
}
