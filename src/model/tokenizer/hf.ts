import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { InputError } from "../../util/errors.js";
import type { ConvertedTokenizer } from "./convert.js";
import { field, readJsonFile } from "./json.js";
import { MAX_VOCAB_ID, type TokenizerSettings } from "./settings.js";
import { SPECIAL_ROLES, type SpecialRole, type TokenizerKind, type WordTokenizer } from "./types.js";
import { checkVocabulary } from "./vocab-check.js";

/**
 * tokenizer.json through @huggingface/tokenizers (normalizer, pre-tokenizer, model and added tokens as
 * the file says). A word inside a sentence is tokenized after a context word ("a <word>") and the
 * context's ids are removed: this reproduces the leading space exactly as the sentence has it, whatever
 * the tokenizer does with spaces (GPT-2's "Ġ", SentencePiece's "▁" prepended by a normalizer, BERT's
 * whitespace splitting).
 */

const CONTEXT = "a";

/** Strings tried for a role when the configuration names none (only if the tokenizer has them). */
const WELL_KNOWN: Record<SpecialRole, string[]> = {
  cls: ["[CLS]", "<cls>"],
  sep: ["[SEP]", "<sep>"],
  bos: ["<s>", "<|begin_of_text|>", "<bos>", "<|endoftext|>"],
  eos: ["</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>"],
  pad: ["[PAD]", "<pad>", "<|pad|>"],
  unk: ["[UNK]", "<unk>"],
  mask: ["[MASK]", "<mask>"],
};

interface Wrapping {
  prefix: number[];
  suffix: number[];
  /** Tokens the post-processor names as cls / sep (Bert/RobertaProcessing). */
  cls?: number;
  sep?: number;
}

/** Where a tokenizer.json object came from: the file, or the vocabulary files it was converted from. */
interface Source {
  /** Named in errors: tokenizer.json, or vocab.txt / vocab.json. */
  path: string;
  kind: TokenizerKind;
  /** Where the vocabulary sits in `path` (`model.vocab` in tokenizer.json; none in a vocabulary file). */
  vocabField?: string;
}

export class HfJsonTokenizer implements WordTokenizer {
  readonly kind: TokenizerKind;
  readonly prefixIds: readonly number[];
  readonly suffixIds: readonly number[];
  readonly padId: number;
  readonly unkId: number | null;
  readonly specialTokens: Readonly<Partial<Record<SpecialRole, number>>>;
  readonly vocabSize: number;
  readonly maxLength: number | null;
  private readonly contextIds: number[];
  private readonly cache = new Map<string, number[]>();
  private readonly tokens: Map<number, string>;

  private readonly path: string;
  /**
   * BertNormalizer's clean_text drops every control character, unassigned code points (Unicode Cn)
   * included, in transformers (Python and Rust alike); @huggingface/tokenizers keeps unassigned ones,
   * so they are dropped here before it sees the text.
   */
  private readonly dropUnassigned: boolean;

  private constructor(
    private readonly tokenizer: Tokenizer,
    json: Record<string, unknown>,
    settings: TokenizerSettings,
    source: Source,
  ) {
    this.path = source.path;
    this.kind = source.kind;
    this.dropUnassigned = cleansText(field(json, "normalizer"));
    // get_vocab lists the holes of a sparse vocabulary (ids without a token) under the key undefined.
    const vocab = new Map<string, number>(
      [...tokenizer.get_vocab(true)].filter(([t]) => typeof t === "string"),
    );
    this.tokens = new Map([...vocab].map(([t, id]) => [id, t]));
    let size = 0;
    for (const id of vocab.values()) size = Math.max(size, id + 1);
    this.vocabSize = size;
    const wrap = withBosEosFlags(wrapping(field(json, "post_processor"), source.path), settings, (t) =>
      tokenizer.token_to_id(t),
    );
    this.prefixIds = wrap.prefix;
    this.suffixIds = wrap.suffix;
    this.specialTokens = this.resolveSpecial(settings, wrap, json);
    const modelUnk = field(field(json, "model"), "unk_token");
    this.unkId =
      this.specialTokens.unk ??
      (typeof modelUnk === "string" ? (tokenizer.token_to_id(modelUnk) ?? null) : null);
    this.padId = this.specialTokens.pad ?? this.specialTokens.eos ?? this.unkId ?? 0;
    this.maxLength = settings.maxLength;
    checkVocabulary(source.path, source.vocabField, vocab, [
      ...Object.values(this.specialTokens),
      ...specialAddedIds(json),
    ]);
    this.contextIds = this.encode(CONTEXT);
  }

  /** A model directory's tokenizer.json. */
  static load(dir: string, settings: TokenizerSettings): HfJsonTokenizer {
    const path = join(dir, "tokenizer.json");
    return HfJsonTokenizer.fromObject(readJsonFile(path), settings, {
      path,
      kind: "tokenizer.json",
      vocabField: "model.vocab",
    });
  }

  /** Vocabulary files converted to a tokenizer.json (convert.ts). */
  static fromConverted(c: ConvertedTokenizer): HfJsonTokenizer {
    return HfJsonTokenizer.fromObject(c.json, c.settings, { path: c.vocabFile, kind: c.kind });
  }

  private static fromObject(json: unknown, settings: TokenizerSettings, source: Source): HfJsonTokenizer {
    const path = source.path;
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      throw new InputError(path, "must hold a JSON object");
    }
    const obj = { ...(json as Record<string, unknown>) };
    if (typeof obj.model !== "object" || obj.model === null)
      throw new InputError(path, "has no model", { field: "model" });
    for (const key of ["normalizer", "pre_tokenizer", "post_processor", "decoder"]) obj[key] ??= null;
    obj.added_tokens ??= [];
    obj.pre_tokenizer = withConfiguredPrefixSpace(obj.pre_tokenizer, settings);
    if (!Array.isArray(obj.added_tokens))
      throw new InputError(path, "must be a list", { field: "added_tokens" });
    checkIds(path, obj.model, obj.added_tokens);
    try {
      return new HfJsonTokenizer(new Tokenizer(obj, settings.rawConfig), obj, settings, source);
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(path, `cannot be used: ${(e as Error).message}`);
    }
  }

  tokenizeWord(word: string, isFirst: boolean): number[] {
    const key = (isFirst ? "\u0001" : "\u0000") + word;
    const cached = this.cache.get(key);
    if (cached) return cached.slice();
    let ids: number[];
    if (isFirst) ids = this.encode(word);
    else {
      const withContext = this.encode(`${CONTEXT} ${word}`);
      const ctx = this.contextIds;
      const starts = ctx.every((id, i) => withContext[i] === id);
      ids = starts ? withContext.slice(ctx.length) : this.encode(` ${word}`);
    }
    if (this.cache.size > 200_000) this.cache.clear();
    this.cache.set(key, ids);
    return ids.slice();
  }

  idToToken(id: number): string {
    return this.tokens.get(id) ?? "";
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  private encode(raw: string): number[] {
    const text = this.dropUnassigned ? raw.replace(UNASSIGNED, "") : raw;
    let ids: number[];
    try {
      ids = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    } catch (e) {
      // A tokenizer.json that @huggingface/tokenizers accepts but cannot apply is still a bad input file.
      throw new InputError(
        this.path,
        `cannot tokenize ${JSON.stringify(text.slice(0, 40))}: ${(e as Error).message}`,
      );
    }
    // Whatever the library gives must be an id of this vocabulary; anything else would reach the model.
    // (A model.unk_token missing from the vocabulary gives `undefined` for every unknown word: the Rust
    // tokenizers refuse to encode then, and so does this.)
    const bad = ids.findIndex((id) => !Number.isSafeInteger(id) || id < 0 || id >= this.vocabSize);
    if (bad >= 0) {
      throw new InputError(
        this.path,
        `tokenizing ${JSON.stringify(text.slice(0, 40))} gives the id ${String(ids[bad])}, outside the vocabulary of ${this.vocabSize}`,
      );
    }
    return ids;
  }

  private resolveSpecial(
    settings: TokenizerSettings,
    wrap: Wrapping,
    json: Record<string, unknown>,
  ): Partial<Record<SpecialRole, number>> {
    const out: Partial<Record<SpecialRole, number>> = {};
    const modelUnk = field(field(json, "model"), "unk_token");
    for (const role of SPECIAL_ROLES) {
      const configured = settings.special[role]?.content;
      let id = configured === undefined ? undefined : this.tokenizer.token_to_id(configured);
      if (id === undefined && role === "cls") id = wrap.cls;
      if (id === undefined && role === "sep") id = wrap.sep;
      if (id === undefined && role === "unk" && typeof modelUnk === "string")
        id = this.tokenizer.token_to_id(modelUnk);
      for (const candidate of configured === undefined ? WELL_KNOWN[role] : []) {
        if (id !== undefined) break;
        id = this.tokenizer.token_to_id(candidate);
      }
      if (id !== undefined) out[role] = id;
    }
    return out;
  }
}

const UNASSIGNED = /\p{Cn}/gu;

/** Whether a normalizer (or one of a Sequence's) is a BertNormalizer that cleans the text. */
function cleansText(normalizer: unknown): boolean {
  if (field(normalizer, "type") === "BertNormalizer") return field(normalizer, "clean_text") !== false;
  const list = field(normalizer, "normalizers");
  return Array.isArray(list) && list.some(cleansText);
}

/**
 * @huggingface/tokenizers stores the vocabulary as an array indexed by id and walks it from 0 to the
 * largest id: one id of 2^31 (a flipped digit) makes loading hang. So ids must be integers below
 * MAX_VOCAB_ID, as in vocab.json, before the library sees them.
 */
function checkIds(path: string, model: unknown, added: readonly unknown[]): void {
  const check = (id: unknown, where: string) => {
    if (!Number.isSafeInteger(id) || (id as number) < 0 || (id as number) >= MAX_VOCAB_ID) {
      throw new InputError(path, `ids must be integers in [0, ${MAX_VOCAB_ID}), got ${JSON.stringify(id)}`, {
        field: where,
      });
    }
  };
  const vocab = field(model, "vocab");
  if (Array.isArray(vocab)) {
    // Unigram: [piece, score] pairs, the id is the position.
    if (vocab.length > MAX_VOCAB_ID) check(vocab.length, "model.vocab");
  } else if (typeof vocab === "object" && vocab !== null) {
    for (const [token, id] of Object.entries(vocab)) check(id, `model.vocab.${token}`);
  }
  added.forEach((t, i) => {
    check(field(t, "id"), `added_tokens[${i}].id`);
  });
}

/** Ids of tokenizer.json's added tokens marked special. */
function specialAddedIds(json: Record<string, unknown>): number[] {
  const added = field(json, "added_tokens");
  if (!Array.isArray(added)) return [];
  return added
    .filter((t) => field(t, "special") === true && Number.isSafeInteger(field(t, "id")))
    .map((t) => field(t, "id") as number);
}

/** Fast tokenizer classes whose constructor in transformers rewrites ByteLevel's add_prefix_space. */
const PREFIX_SPACE_CLASSES = /^(GPT2|Roberta|Bart|Longformer|Blenderbot|CodeGen|GPTNeoX|LED|Mvp)Tokenizer/;

/**
 * transformers (GPT2TokenizerFast, RobertaTokenizerFast, …) lets tokenizer_config.json's add_prefix_space
 * override the one in tokenizer.json's ByteLevel pre-tokenizer; @huggingface/tokenizers does not, so
 * codeneurons applies it here when the config states it.
 */
function withConfiguredPrefixSpace(pre: unknown, settings: TokenizerSettings): unknown {
  const cls = settings.tokenizerClass;
  if (settings.addPrefixSpace === null || !cls || !PREFIX_SPACE_CLASSES.test(cls)) return pre;
  if (field(pre, "type") !== "ByteLevel") return pre;
  return { ...(pre as Record<string, unknown>), add_prefix_space: settings.addPrefixSpace };
}

/** Tokenizer classes whose transformers constructor rebuilds the post-processor from add_bos_token / add_eos_token. */
const BOS_EOS_CLASSES = /^(Llama|CodeLlama|Gemma|Cohere)Tokenizer/;

/**
 * LlamaTokenizerFast and its relatives (CodeLlama, Gemma) rebuild tokenizer.json's post-processor from
 * tokenizer_config.json's add_bos_token / add_eos_token (update_post_processor): a config that sets
 * add_eos_token true gets `</s>` appended although tokenizer.json's template has none. When the class
 * is one of those and a flag is stated, the flag decides.
 */
function withBosEosFlags(
  wrap: Wrapping,
  settings: TokenizerSettings,
  idOf: (token: string) => number | undefined,
): Wrapping {
  if (!settings.tokenizerClass || !BOS_EOS_CLASSES.test(settings.tokenizerClass)) return wrap;
  const bos = settings.special.bos ? idOf(settings.special.bos.content) : undefined;
  const eos = settings.special.eos ? idOf(settings.special.eos.content) : undefined;
  const out = { ...wrap };
  if (settings.addBosToken !== null && bos !== undefined) out.prefix = settings.addBosToken ? [bos] : [];
  if (settings.addEosToken !== null && eos !== undefined) out.suffix = settings.addEosToken ? [eos] : [];
  return out;
}

/** The tokens a post-processor puts around a single sequence. */
export function wrapping(pp: unknown, path: string): Wrapping {
  if (pp === null || pp === undefined) return { prefix: [], suffix: [] };
  const type = field(pp, "type");
  const bad = (why: string) => new InputError(path, `post_processor: ${why}`, { field: "post_processor" });
  switch (type) {
    case "BertProcessing":
    case "RobertaProcessing": {
      const cls = pairId(field(pp, "cls"));
      const sep = pairId(field(pp, "sep"));
      if (cls === undefined || sep === undefined) throw bad("cls and sep must be [token, id]");
      return { prefix: [cls], suffix: [sep], cls, sep };
    }
    case "TemplateProcessing":
      return template(pp, bad);
    case "ByteLevel":
      return { prefix: [], suffix: [] };
    case "Sequence": {
      const processors = field(pp, "processors");
      if (!Array.isArray(processors)) throw bad("Sequence without processors");
      // Later processors wrap the output of earlier ones.
      const out: Wrapping = { prefix: [], suffix: [] };
      for (const p of processors) {
        const w = wrapping(p, path);
        out.prefix = [...w.prefix, ...out.prefix];
        out.suffix = [...out.suffix, ...w.suffix];
        out.cls ??= w.cls;
        out.sep ??= w.sep;
      }
      return out;
    }
    default:
      throw bad(`unsupported type ${JSON.stringify(type)}`);
  }
}

function pairId(v: unknown): number | undefined {
  return Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[1]) ? (v[1] as number) : undefined;
}

function template(pp: unknown, bad: (why: string) => InputError): Wrapping {
  const single = field(pp, "single");
  const specials = field(pp, "special_tokens");
  if (!Array.isArray(single)) throw bad("TemplateProcessing without a 'single' template");
  const out: Wrapping = { prefix: [], suffix: [] };
  let seenSequence = false;
  for (const item of single) {
    if (field(item, "Sequence") !== null) {
      seenSequence = true;
      continue;
    }
    const name = field(field(item, "SpecialToken"), "id");
    const ids = field(field(specials, String(name)), "ids");
    if (typeof name !== "string" || !Array.isArray(ids) || !ids.every((i) => Number.isSafeInteger(i))) {
      throw bad(`template token ${JSON.stringify(name)} has no ids in special_tokens`);
    }
    (seenSequence ? out.suffix : out.prefix).push(...(ids as number[]));
  }
  return out;
}
