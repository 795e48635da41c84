import { existsSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../../util/errors.js";
import { readJsonFile } from "./json.js";
import { SPECIAL_ROLES, type SpecialRole } from "./types.js";

/** A token matched in the text before normal tokenization (special tokens, added tokens). */
export interface AddedTokenSpec {
  content: string;
  /** Absorb whitespace on the left / right of the match (RoBERTa's <mask> has lstrip). */
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
  special: boolean;
  /** Known id (added_tokens.json, added_tokens_decoder), else looked up in the vocabulary. */
  id?: number;
}

/** What tokenizer_config.json, special_tokens_map.json, added_tokens.json and config.json say. */
export interface TokenizerSettings {
  tokenizerClass: string | null;
  modelType: string | null;
  doLowerCase: boolean | null;
  stripAccents: boolean | null;
  tokenizeChineseChars: boolean;
  addPrefixSpace: boolean | null;
  addBosToken: boolean | null;
  addEosToken: boolean | null;
  maxLength: number | null;
  special: Partial<Record<SpecialRole, AddedTokenSpec>>;
  /** added_tokens_decoder entries and added_tokens.json entries, with ids. */
  addedTokens: AddedTokenSpec[];
  /** The raw tokenizer_config.json object ({} when absent), for @huggingface/tokenizers. */
  rawConfig: Record<string, unknown>;
}

/** The largest token id accepted from a file (real vocabularies have at most a few 100k). */
export const MAX_VOCAB_ID = 1 << 24;

/** transformers writes this (or larger) model_max_length when there is no limit. */
const NO_LIMIT = 1e29;

export function readTokenizerSettings(dir: string): TokenizerSettings {
  const configPath = join(dir, "tokenizer_config.json");
  const config = readObject(configPath);
  const specialMapPath = join(dir, "special_tokens_map.json");
  const specialMap = readObject(specialMapPath);
  const modelConfig = readObject(join(dir, "config.json"));
  const special: Partial<Record<SpecialRole, AddedTokenSpec>> = {};
  for (const role of SPECIAL_ROLES) {
    const key = `${role}_token`;
    // special_tokens_map.json is written alongside tokenizer_config.json; the latter wins when both say.
    const raw = Object.hasOwn(config, key) ? config[key] : specialMap[key];
    const file = Object.hasOwn(config, key) ? configPath : specialMapPath;
    const spec = tokenSpec(raw, file, key);
    if (spec) special[role] = spec;
  }
  const maxLength = config.model_max_length;
  return {
    tokenizerClass: optionalString(config.tokenizer_class, configPath, "tokenizer_class"),
    modelType: optionalString(modelConfig.model_type, join(dir, "config.json"), "model_type"),
    doLowerCase: optionalBool(config.do_lower_case, configPath, "do_lower_case"),
    stripAccents: optionalBool(config.strip_accents, configPath, "strip_accents"),
    tokenizeChineseChars:
      optionalBool(config.tokenize_chinese_chars, configPath, "tokenize_chinese_chars") ?? true,
    addPrefixSpace: optionalBool(config.add_prefix_space, configPath, "add_prefix_space"),
    addBosToken: optionalBool(config.add_bos_token, configPath, "add_bos_token"),
    addEosToken: optionalBool(config.add_eos_token, configPath, "add_eos_token"),
    maxLength: typeof maxLength === "number" && maxLength > 0 && maxLength < NO_LIMIT ? maxLength : null,
    special,
    addedTokens: [
      ...addedTokensDecoder(config, configPath),
      ...addedTokensJson(join(dir, "added_tokens.json")),
    ],
    rawConfig: config,
  };
}

function readObject(path: string): Record<string, unknown> {
  if (!existsSync(path)) return {};
  const value = readJsonFile(path);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InputError(path, "must hold a JSON object");
  }
  return value as Record<string, unknown>;
}

function optionalString(v: unknown, file: string, field: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") throw new InputError(file, "must be a string", { field });
  return v;
}

function optionalBool(v: unknown, file: string, field: string): boolean | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "boolean") throw new InputError(file, "must be true or false", { field });
  return v;
}

/** A token given as a string or as a serialized AddedToken object ({content, lstrip, rstrip, …}). */
export function tokenSpec(raw: unknown, file: string, field: string): AddedTokenSpec | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw === "string")
    return { content: raw, lstrip: false, rstrip: false, singleWord: false, special: true };
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new InputError(file, "must be a token string or an AddedToken object", { field });
  }
  const o = raw as Record<string, unknown>;
  if (typeof o.content !== "string" || o.content.length === 0) {
    throw new InputError(file, "AddedToken without a content string", { field });
  }
  return {
    content: o.content,
    lstrip: optionalBool(o.lstrip, file, `${field}.lstrip`) ?? false,
    rstrip: optionalBool(o.rstrip, file, `${field}.rstrip`) ?? false,
    singleWord: optionalBool(o.single_word, file, `${field}.single_word`) ?? false,
    special: optionalBool(o.special, file, `${field}.special`) ?? true,
  };
}

/** tokenizer_config.json's added_tokens_decoder: {"id": AddedToken}. */
function addedTokensDecoder(config: Record<string, unknown>, file: string): AddedTokenSpec[] {
  const raw = config.added_tokens_decoder;
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new InputError(file, "must be an object of id → token", { field: "added_tokens_decoder" });
  }
  return Object.entries(raw as Record<string, unknown>).map(([id, token]) => {
    const where = `added_tokens_decoder.${id}`;
    const spec = tokenSpec(token, file, where);
    if (!spec || !/^\d+$/.test(id) || Number(id) >= MAX_VOCAB_ID) {
      throw new InputError(file, "bad added token", { field: where });
    }
    return { ...spec, id: Number(id) };
  });
}

/** added_tokens.json of older repos: {"token": id}. */
function addedTokensJson(path: string): AddedTokenSpec[] {
  return Object.entries(readObject(path)).map(([content, id]) => {
    if (!Number.isSafeInteger(id) || (id as number) < 0 || (id as number) >= MAX_VOCAB_ID) {
      throw new InputError(path, `ids must be integers in [0, ${MAX_VOCAB_ID})`, { field: content });
    }
    return { content, lstrip: false, rstrip: false, singleWord: false, special: false, id: id as number };
  });
}
