/**
 * Token escape for `.in` files and task TSVs, where tokens are separated by single spaces and rows by
 * newlines. Code tokens can hold whitespace (string literals with spaces, text blocks with newlines,
 * tabs inside strings), so on disk every token is written in an escaped form that has no whitespace,
 * no tab and no newline, and that reads back to the exact original text:
 *
 * - a space becomes U+2581 '▁' (the sentencepiece convention, easy to read: `"Hello▁World"`);
 * - any other whitespace character (tab, CR, LF, form feed, vertical tab, U+0085, U+00A0, U+2028 …,
 *   everything JavaScript's `\s` or Python's `str.isspace()` calls whitespace), a literal '▁', and the
 *   escape opener '⟦' itself become `⟦` + hex code point + `⟧`: tab → `⟦9⟧`, '▁' → `⟦2581⟧`.
 *
 * Files hold escaped tokens; every reader in codeneurons returns decoded tokens, and every writer
 * encodes. A token with nothing to escape (almost all of them) is written unchanged.
 */
export const SPACE_MARK = "\u2581";
export const ESCAPE_OPEN = "\u27e6";
export const ESCAPE_CLOSE = "\u27e7";

// Python's str.isspace() set plus JavaScript's \s (adds U+FEFF); the escape characters themselves.
// biome-ignore lint/suspicious/noControlCharactersInRegex: Python's isspace() counts U+001C-U+001F as blanks
const NEEDS_ESCAPE = /[\s\u001c-\u001f\u0085\u2581\u27e6]/u;
const NEEDS_ESCAPE_GLOBAL = new RegExp(NEEDS_ESCAPE.source, "gu");
const ESCAPED = /[\u2581\u27e6]/;
const DECODE_GLOBAL = /\u2581|\u27e6([0-9a-f]{1,6})\u27e7/g;

// biome-ignore lint/suspicious/noControlCharactersInRegex: Python's isspace() counts U+001C-U+001F as blanks
const BLANK = /[\s\u001c-\u001f\u0085]/u;

/** True when the text holds a whitespace character (JavaScript's \s or Python's str.isspace()). */
export function hasBlank(text: string): boolean {
  return BLANK.test(text);
}

/** The escaped (on-disk) form of a token. */
export function encodeToken(token: string): string {
  if (!NEEDS_ESCAPE.test(token)) return token;
  return token.replace(NEEDS_ESCAPE_GLOBAL, (c) =>
    c === " " ? SPACE_MARK : `${ESCAPE_OPEN}${c.codePointAt(0)!.toString(16)}${ESCAPE_CLOSE}`,
  );
}

/**
 * The original text of an escaped token. Returns undefined when the text is not the canonical escaped
 * form of some non-empty token (a stray '⟦', raw whitespace, an escape of a character that needs none):
 * readers turn that into an InputError naming the file and line.
 */
export function decodeToken(escaped: string): string | undefined {
  if (escaped.length === 0) return undefined;
  if (!ESCAPED.test(escaped)) return NEEDS_ESCAPE.test(escaped) ? undefined : escaped;
  let bad = false;
  const out = escaped.replace(DECODE_GLOBAL, (m, hex: string | undefined) => {
    if (hex === undefined) return " ";
    const cp = Number.parseInt(hex, 16);
    if (cp > 0x10ffff) {
      bad = true;
      return m;
    }
    return String.fromCodePoint(cp);
  });
  // Only the canonical form is accepted, so that encode(decode(x)) === x for every accepted x.
  if (bad || encodeToken(out) !== escaped) return undefined;
  return out;
}

/**
 * A word of a sentence file as a model reads it: decoded when it is an escaped token, else as written
 * (a file that codeneurons did not write may hold words that are no canonical escape, e.g. a lone '⟦').
 * Extraction feeds the model this text, and the activation store returns it.
 */
export function decodeWord(word: string): string {
  return decodeToken(word) ?? word;
}
