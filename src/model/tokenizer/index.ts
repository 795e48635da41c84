import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../util/errors.js";
import { byteLevelBpeTokenizer, wordPieceTokenizer } from "./convert.js";
import { HfJsonTokenizer } from "./hf.js";
import { readTokenizerSettings, type TokenizerSettings } from "./settings.js";
import type { WordTokenizer } from "./types.js";

export {
  byteLevelBpeTokenizer,
  type ConvertedTokenizer,
  readMerges,
  readVocabJson,
  readVocabTxt,
  wordPieceTokenizer,
} from "./convert.js";
export { HfJsonTokenizer } from "./hf.js";
export { readTokenizerSettings, type TokenizerSettings } from "./settings.js";
export * from "./types.js";

/** Tokenizer files codeneurons cannot read, with what they are. */
const FOREIGN: Record<string, string> = {
  "tokenizer.model": "SentencePiece model",
  "spiece.model": "SentencePiece model",
  "sentencepiece.bpe.model": "SentencePiece model",
  "bpe.codes": "fastBPE codes",
};

/**
 * The tokenizer of a model directory, always run by @huggingface/tokenizers: tokenizer.json when
 * present, else vocab.txt (WordPiece, BERT) or vocab.json + merges.txt (byte-level BPE, GPT-2/RoBERTa)
 * converted to a tokenizer.json in memory (convert.ts), honouring tokenizer_config.json and
 * special_tokens_map.json.
 */
export async function loadTokenizer(dir: string): Promise<WordTokenizer> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError(dir, "no such model directory");
  const settings = readTokenizerSettings(dir);
  const has = (f: string) => existsSync(join(dir, f));
  if (has("tokenizer.json")) return HfJsonTokenizer.load(dir, settings);
  const fromVocab = vocabularyTokenizer(dir, settings);
  if (fromVocab) return fromVocab;
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

/**
 * The tokenizer of a directory's vocabulary files (vocab.txt, or vocab.json + merges.txt) even when it
 * also has a tokenizer.json; null when it has neither.
 */
export function vocabularyTokenizer(dir: string, settings: TokenizerSettings): WordTokenizer | null {
  if (existsSync(join(dir, "vocab.txt")))
    return HfJsonTokenizer.fromConverted(wordPieceTokenizer(dir, settings));
  if (existsSync(join(dir, "vocab.json")) && existsSync(join(dir, "merges.txt")))
    return HfJsonTokenizer.fromConverted(byteLevelBpeTokenizer(dir, settings));
  return null;
}
