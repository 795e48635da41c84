import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { afterAll, describe, expect, it } from "vitest";
import { encodeWords, loadTokenizer, type WordTokenizer } from "../../../src/model/tokenizer/index.js";
import { InputError } from "../../../src/util/errors.js";

/**
 * Fixtures (scripts/reference/make_tokenizer_fixtures.py): each tokenizer as old-style vocabulary files and
 * as an equivalent hand-written tokenizer.json. The reference is @huggingface/tokenizers encoding the
 * whole sentence; codeneurons' own WordPiece / byte-level BPE and its tokenizer.json path, both word by
 * word, must give exactly the same ids (exact integer equality).
 */
const FIXTURES = join(import.meta.dirname, "../../fixtures/tokenizers");
const LINES = readFileSync(join(FIXTURES, "lines.txt"), "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "");
const tmp = mkdtempSync(join(tmpdir(), "cn-tok-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function reference(name: string): Tokenizer {
  const dir = join(FIXTURES, `${name}-json`);
  const read = (f: string) => JSON.parse(readFileSync(join(dir, f), "utf8"));
  return new Tokenizer(read("tokenizer.json"), read("tokenizer_config.json"));
}

function words(line: string): string[] {
  return line.split(/\s+/).filter((w) => w !== "");
}

/** Lines whose word-by-word ids differ from the sentence's ids; [] when the property holds. */
function mismatches(tok: WordTokenizer, ref: Tokenizer, lines: string[]): string[] {
  const bad: string[] = [];
  for (const line of lines) {
    const ws = words(line);
    const sentence = ws.join(" ");
    const want = ref.encode(sentence, { add_special_tokens: false }).ids;
    if (JSON.stringify(encodeWords(tok, ws).ids) !== JSON.stringify(want)) bad.push(sentence);
  }
  return bad;
}

const PAIRS: [string, "wordpiece" | "byte-level-bpe"][] = [
  ["wordpiece-uncased", "wordpiece"],
  ["wordpiece-cased", "wordpiece"],
  ["bpe-roberta", "byte-level-bpe"],
  ["bpe-gpt2", "byte-level-bpe"],
  ["bpe-prefix", "byte-level-bpe"],
];

describe("word-by-word tokenization equals sentence tokenization", () => {
  for (const [name, kind] of PAIRS) {
    it(`${name}: vocabulary files and tokenizer.json both match @huggingface/tokenizers on ${LINES.length} lines`, async () => {
      const ref = reference(name);
      const plain = await loadTokenizer(join(FIXTURES, name));
      const json = await loadTokenizer(join(FIXTURES, `${name}-json`));
      expect(plain.kind).toBe(kind);
      expect(json.kind).toBe("tokenizer.json");
      expect(mismatches(plain, ref, LINES)).toEqual([]);
      expect(mismatches(json, ref, LINES)).toEqual([]);
      for (const t of [plain, json]) {
        const withSpecials = ref.encode("x y", { add_special_tokens: true }).ids;
        expect([...t.prefixIds, ...encodeWords(t, ["x", "y"]).ids, ...t.suffixIds]).toEqual(withSpecials);
      }
      expect(plain.specialTokens).toEqual(json.specialTokens);
      expect(plain.vocabSize).toBe(json.vocabSize);
      expect(plain.padId).toBe(json.padId);
      expect(plain.unkId).toBe(json.unkId);
    });
  }

  it("words with inner whitespace (string literals) tokenize as they would inside the sentence", async () => {
    const ws = ["String", "s", "=", '"hello  world\t!"', ";", "x", "=", "' '", ";"];
    for (const [name] of [...PAIRS, ["metaspace"]]) {
      const ref = reference(name);
      const want = ref.encode(ws.join(" "), { add_special_tokens: false }).ids;
      const dirs = name === "metaspace" ? ["metaspace-json"] : [name, `${name}-json`];
      for (const dir of dirs)
        expect(encodeWords(await loadTokenizer(join(FIXTURES, dir)), ws).ids, dir).toEqual(want);
    }
  });

  it("metaspace (Llama-2 style tokenizer.json): word by word equals the sentence, <s> before it", async () => {
    const ref = reference("metaspace");
    const tok = await loadTokenizer(join(FIXTURES, "metaspace-json"));
    // Known exception: literal special tokens in the text make the normalizer prepend "▁" to each
    // stretch between them, which no word-level view reproduces.
    const plainText = LINES.filter((l) => !l.includes("<s>"));
    expect(plainText.length).toBe(LINES.length - 1);
    expect(mismatches(tok, ref, plainText)).toEqual([]);
    expect(tok.prefixIds).toEqual([tok.specialTokens.bos]);
    expect(tok.suffixIds).toEqual([]);
    expect(tok.maxLength).toBe(4096);
  });
});

function pieces(tok: WordTokenizer, word: string, isFirst = false): string[] {
  return tok.tokenizeWord(word, isFirst).map((id) => tok.idToToken(id));
}

describe("WordPiece details", () => {
  it("lower-cases and strips accents when do_lower_case, keeps them otherwise", async () => {
    const uncased = await loadTokenizer(join(FIXTURES, "wordpiece-uncased"));
    const cased = await loadTokenizer(join(FIXTURES, "wordpiece-cased"));
    expect(uncased.tokenizeWord("CaFÉ", false)).toEqual(uncased.tokenizeWord("cafe", false));
    expect(cased.tokenizeWord("Café", false)).not.toEqual(cased.tokenizeWord("Cafe", false));
  });

  it("splits punctuation and CJK characters, removes control, zero-width and unassigned characters", async () => {
    const tok = await loadTokenizer(join(FIXTURES, "wordpiece-uncased"));
    expect(pieces(tok, "a.b")).toEqual(["a", ".", "b"]);
    expect(pieces(tok, "中文")).toEqual(["中", "文"]);
    expect(tok.tokenizeWord("\u200b\u0000\u0378", false)).toEqual([]);
    expect(tok.tokenizeWord("a\u200bb", false)).toEqual(tok.tokenizeWord("ab", false));
  });

  it("gives [UNK] for words longer than 100 characters or without pieces", async () => {
    const tok = await loadTokenizer(join(FIXTURES, "wordpiece-uncased"));
    expect(pieces(tok, "a".repeat(101))).toEqual(["[UNK]"]);
    expect(pieces(tok, "☃")).toEqual(["[UNK]"]);
    expect(pieces(tok, "a".repeat(100)).every((p) => p === "a" || p === "##a")).toBe(true);
  });

  it("keeps special tokens whole and puts [CLS] … [SEP] around a sentence", async () => {
    const tok = await loadTokenizer(join(FIXTURES, "wordpiece-uncased"));
    expect(pieces(tok, "[MASK]")).toEqual(["[MASK]"]);
    // Special tokens are matched before lower-casing: "[mask]" is ordinary text.
    const lower = pieces(tok, "[mask]");
    expect(lower[0]).toBe("[");
    expect(lower[lower.length - 1]).toBe("]");
    expect(lower).not.toContain("[MASK]");
    expect(tok.prefixIds.map((i) => tok.idToToken(i))).toEqual(["[CLS]"]);
    expect(tok.suffixIds.map((i) => tok.idToToken(i))).toEqual(["[SEP]"]);
    expect(tok.maxLength).toBe(512);
  });
});

describe("byte-level BPE details", () => {
  it("marks a word after a space with Ġ; the first word only with add_prefix_space", async () => {
    const roberta = await loadTokenizer(join(FIXTURES, "bpe-roberta"));
    const prefix = await loadTokenizer(join(FIXTURES, "bpe-prefix"));
    expect(pieces(roberta, "public", true)[0].startsWith("Ġ")).toBe(false);
    expect(pieces(roberta, "public", false)[0].startsWith("Ġ")).toBe(true);
    expect(pieces(prefix, "public", true)).toEqual(pieces(prefix, "public", false));
  });

  it("maps every UTF-8 byte, so emoji and CJK never become unknown", async () => {
    const tok = await loadTokenizer(join(FIXTURES, "bpe-gpt2"));
    const ids = tok.tokenizeWord("😀中", false);
    // Ġ + 4 bytes of 😀 + 3 bytes of 中 at most, each a known byte symbol.
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.length).toBeLessThanOrEqual(8);
    expect(ids).not.toContain(tok.unkId);
    expect(tok.prefixIds).toEqual([]);
    expect(tok.suffixIds).toEqual([]);
    expect(tok.padId).toBe(tok.specialTokens.eos);
  });

  it("tokenizer_config.json's add_prefix_space overrides tokenizer.json's, as transformers does", async () => {
    const dir = join(tmp, "prefix-override");
    cpSync(join(FIXTURES, "bpe-roberta-json"), dir, { recursive: true });
    const before = await loadTokenizer(dir);
    expect(pieces(before, "public", true)[0].startsWith("Ġ")).toBe(false);
    const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ ...config, add_prefix_space: true }));
    const after = await loadTokenizer(dir);
    expect(pieces(after, "public", true)).toEqual(pieces(after, "public", false));
    expect(after.tokenizeWord("public", true)).toEqual(
      (await loadTokenizer(join(FIXTURES, "bpe-prefix"))).tokenizeWord("public", true),
    );
  });

  it("RoBERTa's <mask> absorbs the space before it (lstrip)", async () => {
    const tok = await loadTokenizer(join(FIXTURES, "bpe-roberta"));
    expect(tok.tokenizeWord("<mask>", false)).toEqual([tok.specialTokens.mask]);
    expect(pieces(tok, "<s>", false)).toEqual(["Ġ", "<s>"]);
  });
});

describe("tokenizer_config.json and errors", () => {
  it("honours special tokens given as AddedToken objects in special_tokens_map.json", async () => {
    const dir = join(tmp, "special-map");
    cpSync(join(FIXTURES, "wordpiece-uncased"), dir, { recursive: true });
    writeFileSync(join(dir, "special_tokens_map.json"), JSON.stringify({ cls_token: { content: "[SEP]" } }));
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ do_lower_case: true }));
    const tok = await loadTokenizer(dir);
    expect(tok.prefixIds.map((i) => tok.idToToken(i))).toEqual(["[SEP]"]);
  });

  it("reads added_tokens.json", async () => {
    const dir = join(tmp, "added");
    cpSync(join(FIXTURES, "bpe-gpt2"), dir, { recursive: true });
    writeFileSync(join(dir, "added_tokens.json"), JSON.stringify({ "<EOL>": 700 }));
    const tok = await loadTokenizer(dir);
    expect(tok.tokenizeWord("<EOL>", true)).toEqual([700]);
    expect(tok.vocabSize).toBe(701);
  });

  it("names the line of a JSON syntax error", async () => {
    const dir = join(tmp, "bad-json");
    cpSync(join(FIXTURES, "bpe-roberta"), dir, { recursive: true });
    writeFileSync(join(dir, "tokenizer_config.json"), '{\n  "add_prefix_space": false,\n  "x": \n}\n');
    const e = await loadTokenizer(dir).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).line).toBe(4);
    expect((e as Error).message).toContain("tokenizer_config.json:4");
  });

  it("says which files it looked for, and names a SentencePiece model it cannot read", async () => {
    const dir = join(tmp, "spm");
    cpSync(join(FIXTURES, "wordpiece-uncased"), dir, { recursive: true });
    rmSync(join(dir, "vocab.txt"));
    writeFileSync(join(dir, "tokenizer.model"), "x");
    const e = await loadTokenizer(dir).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).toContain("tokenizer.json, vocab.txt, vocab.json + merges.txt");
    expect((e as Error).message).toContain("tokenizer.model (SentencePiece model)");
  });
});
