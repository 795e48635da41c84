import { InputError } from "../../util/errors.js";

/**
 * Refuses a vocabulary with no ordinary token: fewer ids than its special tokens + 1. Such a file
 * (an emptied or truncated vocabulary) still makes a working tokenizer, but one that reads every word
 * as the unknown token (or as nothing), so an extraction would "succeed" with meaningless vectors.
 *
 * @param tokens the vocabulary as token → id (added tokens may be included)
 * @param specialIds ids of the special tokens (unk, cls, pad, … and added tokens marked special)
 * @param field where the vocabulary sits in `file` (e.g. `model.vocab`), when it is not the whole file
 */
export function checkVocabulary(
  file: string,
  field: string | undefined,
  tokens: ReadonlyMap<string, number>,
  specialIds: Iterable<number>,
): void {
  const special = new Set(specialIds);
  for (const id of tokens.values()) if (!special.has(id)) return;
  const names = [...tokens.keys()].slice(0, 8).map((t) => `'${t}'`);
  const what =
    tokens.size === 0
      ? "the vocabulary is empty"
      : `the vocabulary holds only special tokens (${names.join(", ")}${tokens.size > 8 ? ", …" : ""})`;
  throw new InputError(file, `${what}: every word would be read as the unknown token`, { field });
}
