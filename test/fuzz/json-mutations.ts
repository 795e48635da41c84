import { Rng } from "../../src/util/rng.js";

/** Characters that matter to JSON's syntax and to the readers' checks (numbers out of range, null). */
export const JSON_ALPHABET = ['"', "{", "}", "[", "]", ",", ":", "0", "-7", "1e400", "null", "x", " "];

/**
 * `count` damaged copies of a valid JSON text, seeded: even cases cut it short at a random point, odd
 * ones replace 1–4 characters with characters of `alphabet`. What the readers' unit tests feed their
 * parsers: each copy must parse to a valid result or give an InputError, never crash.
 */
export function mangledJsonTexts(
  text: string,
  seed: number,
  count: number,
  alphabet: readonly string[] = JSON_ALPHABET,
): string[] {
  const rng = new Rng(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0) {
      out.push(text.slice(0, rng.int(text.length)));
      continue;
    }
    const chars = [...text];
    for (let m = 0; m < 1 + rng.int(4); m++)
      chars[rng.int(chars.length)] = alphabet[rng.int(alphabet.length)];
    out.push(chars.join(""));
  }
  return out;
}
