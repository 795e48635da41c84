import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../util/errors.js";
import { readJsonFile } from "./json.js";
import { type AddedTokenSpec, MAX_VOCAB_ID, type TokenizerSettings } from "./settings.js";
import { SPECIAL_ROLES, type SpecialRole, type TokenizerKind } from "./types.js";
import { checkVocabulary } from "./vocab-check.js";

/**
 * Old-style vocabulary files as a tokenizer.json, built in memory the way transformers' converters do
 * (convert_slow_tokenizer.py: BertConverter, RobertaConverter, GPT2Converter), so that one tokenizer
 * runs them all: @huggingface/tokenizers, through hf.ts.
 *
 *   vocab.txt                WordPiece: BertNormalizer (clean text, CJK padding, lower-casing and accent
 *                            stripping as tokenizer_config.json's do_lower_case / strip_accents say),
 *                            BertPreTokenizer, WordPiece ("##", 100 characters at most), [CLS] … [SEP]
 *   vocab.json + merges.txt  byte-level BPE: ByteLevel pre-tokenizer (add_prefix_space as configured),
 *                            BPE by merge rank; <s> … </s> for RoBERTa-like tokenizers, else the BOS /
 *                            EOS that add_bos_token / add_eos_token ask for
 *
 * Special tokens are the configured ones (tokenizer_config.json, special_tokens_map.json), else the
 * tokenizer class's defaults; they and the added tokens (added_tokens_decoder, added_tokens.json) are the
 * tokenizer.json's added tokens, matched in the raw text before normalization.
 */
export interface ConvertedTokenizer {
  /** A tokenizer.json object. */
  json: Record<string, unknown>;
  /** The settings with every special token the class defines named (the defaults included). */
  settings: TokenizerSettings;
  kind: TokenizerKind;
  /** The vocabulary file, named in errors. */
  vocabFile: string;
}

const BERT_DEFAULTS: Record<SpecialRole, string | null> = {
  cls: "[CLS]",
  sep: "[SEP]",
  pad: "[PAD]",
  unk: "[UNK]",
  mask: "[MASK]",
  bos: null,
  eos: null,
};

const ROBERTA_DEFAULTS: Record<SpecialRole, string | null> = {
  bos: "<s>",
  eos: "</s>",
  sep: "</s>",
  cls: "<s>",
  unk: "<unk>",
  pad: "<pad>",
  mask: "<mask>",
};

const GPT2_DEFAULTS: Record<SpecialRole, string | null> = {
  bos: "<|endoftext|>",
  eos: "<|endoftext|>",
  unk: "<|endoftext|>",
  cls: null,
  sep: null,
  pad: null,
  mask: null,
};

/** Tokenizer classes and model types that wrap a sentence as <s> … </s>. */
const ROBERTA_LIKE =
  /^(roberta|xlm-roberta|bart|mbart|longformer|camembert|led|blenderbot|mvp|markuplm|layoutlmv3)/i;

/** vocab.txt: one token per line, the id is the line number counted from 0. */
export function readVocabTxt(path: string): Map<string, number> {
  const lines = readText(path).split(/\r?\n/);
  if (lines[lines.length - 1] === "") lines.pop();
  if (lines.length === 0) throw new InputError(path, "is empty");
  const vocab = new Map<string, number>();
  lines.forEach((token, id) => {
    vocab.set(token, id);
  });
  return vocab;
}

/** vocab.json: token → id. */
export function readVocabJson(path: string): Map<string, number> {
  const json = readJsonFile(path);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new InputError(path, "must be a JSON object of token → id");
  }
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(json as Record<string, unknown>)) {
    if (!Number.isSafeInteger(id) || (id as number) < 0 || (id as number) >= MAX_VOCAB_ID) {
      throw new InputError(path, `id of '${token}' must be an integer in [0, ${MAX_VOCAB_ID})`, {
        field: token,
      });
    }
    vocab.set(token, id as number);
  }
  if (vocab.size === 0) throw new InputError(path, "is empty");
  return vocab;
}

/** merges.txt: "#version" lines, then one "left right" pair per line, in rank order (repeats dropped). */
export function readMerges(path: string, vocab: Map<string, number>): string[] {
  const merges: string[] = [];
  const seen = new Set<string>();
  readText(path)
    .split(/\r?\n/)
    .forEach((line, i) => {
      if (line === "" || line.startsWith("#version")) return;
      const parts = line.split(" ");
      if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
        throw new InputError(path, `expected two tokens separated by one space, got '${line.slice(0, 60)}'`, {
          line: i + 1,
        });
      }
      for (const t of [parts[0], parts[1], parts[0] + parts[1]]) {
        if (!vocab.has(t))
          throw new InputError(path, `merge uses '${t}', which is not in vocab.json`, { line: i + 1 });
      }
      if (!seen.has(line)) {
        seen.add(line);
        merges.push(line);
      }
    });
  return merges;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new InputError(path, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** BertTokenizer's files as BertTokenizerFast's tokenizer.json. */
export function wordPieceTokenizer(dir: string, settings: TokenizerSettings): ConvertedTokenizer {
  const vocabFile = join(dir, "vocab.txt");
  const vocab = readVocabTxt(vocabFile);
  const specials = resolveSpecials(settings, BERT_DEFAULTS, vocab, vocabFile);
  if (specials.ids.unk === undefined)
    throw new InputError(
      vocabFile,
      `has no unknown token '${specials.settings.special.unk?.content ?? "[UNK]"}'`,
    );
  const lowercase = settings.doLowerCase ?? true;
  const { cls, sep } = specials.settings.special;
  return {
    json: {
      added_tokens: specials.added,
      normalizer: {
        type: "BertNormalizer",
        clean_text: true,
        handle_chinese_chars: settings.tokenizeChineseChars,
        strip_accents: settings.stripAccents ?? lowercase,
        lowercase,
      },
      pre_tokenizer: { type: "BertPreTokenizer" },
      model: {
        type: "WordPiece",
        unk_token: specials.settings.special.unk?.content,
        continuing_subword_prefix: "##",
        max_input_chars_per_word: 100,
        vocab: Object.fromEntries(vocab),
      },
      post_processor: template(
        cls && specials.ids.cls !== undefined ? { token: cls.content, id: specials.ids.cls } : null,
        sep && specials.ids.sep !== undefined ? { token: sep.content, id: specials.ids.sep } : null,
      ),
      decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    },
    settings: specials.settings,
    kind: "wordpiece",
    vocabFile,
  };
}

/** GPT2Tokenizer's or RobertaTokenizer's files as their fast tokenizer's tokenizer.json. */
export function byteLevelBpeTokenizer(dir: string, settings: TokenizerSettings): ConvertedTokenizer {
  const vocabFile = join(dir, "vocab.json");
  const vocab = readVocabJson(vocabFile);
  const merges = readMerges(join(dir, "merges.txt"), vocab);
  const roberta = settings.tokenizerClass
    ? ROBERTA_LIKE.test(settings.tokenizerClass)
    : settings.modelType
      ? ROBERTA_LIKE.test(settings.modelType)
      : vocab.has("<s>") && vocab.has("</s>") && !vocab.has("<|endoftext|>");
  const specials = roberta
    ? resolveSpecials(settings, ROBERTA_DEFAULTS, vocab, vocabFile, { mask: { lstrip: true } })
    : resolveSpecials(settings, GPT2_DEFAULTS, vocab, vocabFile);
  const { ids } = specials;
  const named = (role: SpecialRole) => {
    const spec = specials.settings.special[role];
    return spec && ids[role] !== undefined ? { token: spec.content, id: ids[role] } : null;
  };
  const prefixSpace = settings.addPrefixSpace ?? false;
  const cls = named("cls");
  const sep = named("sep");
  return {
    json: {
      added_tokens: specials.added,
      normalizer: null,
      pre_tokenizer: {
        type: "ByteLevel",
        add_prefix_space: prefixSpace,
        trim_offsets: true,
        use_regex: true,
      },
      model: {
        type: "BPE",
        dropout: null,
        // The slow tokenizers read a piece missing from the vocabulary as the unknown token.
        unk_token: ids.unk === undefined ? null : specials.settings.special.unk?.content,
        continuing_subword_prefix: "",
        end_of_word_suffix: "",
        fuse_unk: false,
        byte_fallback: false,
        vocab: Object.fromEntries(vocab),
        merges,
      },
      post_processor:
        roberta && cls && sep
          ? {
              type: "RobertaProcessing",
              sep: [sep.token, sep.id],
              cls: [cls.token, cls.id],
              trim_offsets: true,
              add_prefix_space: prefixSpace,
            }
          : roberta
            ? template(cls, sep)
            : template(
                settings.addBosToken ? named("bos") : null,
                settings.addEosToken ? named("eos") : null,
              ),
      decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    },
    settings: specials.settings,
    kind: "byte-level-bpe",
    vocabFile,
  };
}

/** A TemplateProcessing of `before` $A `after` (null when there is neither). */
function template(
  before: { token: string; id: number } | null,
  after: { token: string; id: number } | null,
): Record<string, unknown> | null {
  if (!before && !after) return null;
  const special = (t: { token: string }) => ({ SpecialToken: { id: t.token, type_id: 0 } });
  const single = [
    ...(before ? [special(before)] : []),
    { Sequence: { id: "A", type_id: 0 } },
    ...(after ? [special(after)] : []),
  ];
  const tokens = [before, after].filter((t): t is { token: string; id: number } => t !== null);
  return {
    type: "TemplateProcessing",
    single,
    pair: [...single, { Sequence: { id: "B", type_id: 1 } }, ...(after ? [special(after)] : [])],
    special_tokens: Object.fromEntries(
      tokens.map((t) => [t.token, { id: t.token, ids: [t.id], tokens: [t.token] }]),
    ),
  };
}

interface ResolvedSpecials {
  /** The settings with every role the class defines named. */
  settings: TokenizerSettings;
  /** Ids of the roles that have a token. */
  ids: Partial<Record<SpecialRole, number>>;
  /** tokenizer.json's added_tokens: the special tokens and the added tokens, with ids. */
  added: Record<string, unknown>[];
}

/**
 * The special tokens (configured, else the class's defaults) and the added tokens, with ids: from the
 * vocabulary, else from the added token's own id. Tokens that have neither are left out.
 */
function resolveSpecials(
  settings: TokenizerSettings,
  defaults: Record<SpecialRole, string | null>,
  vocab: Map<string, number>,
  vocabFile: string,
  extraDefaults: Partial<Record<SpecialRole, Partial<AddedTokenSpec>>> = {},
): ResolvedSpecials {
  const added = new Map<string, Record<string, unknown>>();
  const idOf = (spec: AddedTokenSpec) => vocab.get(spec.content) ?? spec.id;
  const add = (spec: AddedTokenSpec): number | undefined => {
    const id = idOf(spec);
    if (id === undefined) return undefined;
    const known = added.get(spec.content);
    added.set(spec.content, {
      id,
      content: spec.content,
      single_word: spec.singleWord,
      lstrip: spec.lstrip || known?.lstrip === true,
      rstrip: spec.rstrip || known?.rstrip === true,
      // Matched in the raw text, before lower-casing (as the slow tokenizers match them).
      normalized: false,
      special: spec.special || known?.special === true,
    });
    return id;
  };
  for (const spec of settings.addedTokens) add(spec);
  const special: Partial<Record<SpecialRole, AddedTokenSpec>> = {};
  const ids: Partial<Record<SpecialRole, number>> = {};
  for (const role of SPECIAL_ROLES) {
    const fallback = defaults[role];
    const spec =
      settings.special[role] ??
      (fallback === null
        ? null
        : {
            content: fallback,
            lstrip: false,
            rstrip: false,
            singleWord: false,
            special: true,
            ...extraDefaults[role],
          });
    if (!spec) continue;
    special[role] = spec;
    const id = add(spec);
    if (id !== undefined) ids[role] = id;
  }
  const specialIds = [...added.values()].filter((t) => t.special === true).map((t) => t.id as number);
  checkVocabulary(vocabFile, undefined, vocab, specialIds);
  return { settings: { ...settings, special }, ids, added: [...added.values()] };
}
