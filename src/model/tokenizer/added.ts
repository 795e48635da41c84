/**
 * Added and special tokens are found in the text before normal tokenization, as Hugging Face tokenizers
 * do: leftmost-longest matches, each becoming its id, with lstrip/rstrip absorbing neighbouring
 * whitespace and single_word matches only between non-word characters.
 */
export interface AddedToken {
  content: string;
  id: number;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
}

/** Text to tokenize normally (string) or the id of an added token (number). */
export type Piece = string | number;

const WORD_CHAR = /[\p{L}\p{N}_]/u;
const SPACE = /\s/;

export class AddedTokenSplitter {
  /** First character → tokens starting with it, longest first. */
  private readonly byFirst = new Map<string, AddedToken[]>();

  constructor(tokens: readonly AddedToken[]) {
    for (const t of tokens) {
      if (t.content.length === 0) continue;
      const list = this.byFirst.get(t.content[0]) ?? [];
      list.push(t);
      this.byFirst.set(t.content[0], list);
    }
    for (const list of this.byFirst.values()) list.sort((a, b) => b.content.length - a.content.length);
  }

  get empty(): boolean {
    return this.byFirst.size === 0;
  }

  split(text: string): Piece[] {
    if (this.empty) return text.length > 0 ? [text] : [];
    const out: Piece[] = [];
    let segmentStart = 0;
    let i = 0;
    while (i < text.length) {
      const t = this.matchAt(text, i);
      if (!t) {
        i++;
        continue;
      }
      let before = text.slice(segmentStart, i);
      if (t.lstrip) before = before.replace(/\s+$/u, "");
      if (before.length > 0) out.push(before);
      out.push(t.id);
      i += t.content.length;
      if (t.rstrip) while (i < text.length && SPACE.test(text[i])) i++;
      segmentStart = i;
    }
    if (segmentStart < text.length) out.push(text.slice(segmentStart));
    return out;
  }

  private matchAt(text: string, i: number): AddedToken | null {
    const candidates = this.byFirst.get(text[i]);
    if (!candidates) return null;
    for (const t of candidates) {
      if (!text.startsWith(t.content, i)) continue;
      if (t.singleWord && !isWordBoundary(text, i, i + t.content.length)) continue;
      return t;
    }
    return null;
  }
}

function isWordBoundary(text: string, start: number, end: number): boolean {
  const before = start > 0 ? String.fromCodePoint(text.codePointAt(start - 1) ?? 0) : "";
  const after = end < text.length ? String.fromCodePoint(text.codePointAt(end) ?? 0) : "";
  return !(before && WORD_CHAR.test(before)) && !(after && WORD_CHAR.test(after));
}
