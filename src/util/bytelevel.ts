/**
 * GPT-2's byte-level alphabet: every byte maps to a printable unicode character (space → 'Ġ',
 * newline → 'Ċ', …), so byte-level BPE token texts can be turned back into UTF-8 text.
 */
export function bytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  return new Map(bs.map((b, i) => [b, String.fromCodePoint(cs[i])]));
}

let inverse: Map<string, number> | undefined;

/** Decodes byte-level text to a string; null when a character is outside the byte-level alphabet. */
export function decodeByteLevel(text: string): string | null {
  if (!inverse) inverse = new Map([...bytesToUnicode()].map(([b, c]) => [c, b]));
  const bytes: number[] = [];
  for (const ch of text) {
    const b = inverse.get(ch);
    if (b === undefined) return null;
    bytes.push(b);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
}
