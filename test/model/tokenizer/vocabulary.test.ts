import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTokenizer } from "../../../src/model/tokenizer/index.js";
import { InputError } from "../../../src/util/errors.js";

/**
 * Issue 17, finding 6: a vocabulary without a single ordinary token (empty, or only special tokens)
 * used to give a tokenizer that reads every word as the unknown token, and an extraction that
 * "succeeded". It is an error naming the file and, inside tokenizer.json, the field.
 */
const FIXTURES = join(import.meta.dirname, "../../fixtures/tokenizers");
const tmp = mkdtempSync(join(tmpdir(), "cn-vocab-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let count = 0;
/** A copy of `fixture` with `file` replaced by `edit(old text)`. */
function variant(fixture: string, file: string, edit: (text: string) => string): string {
  const dir = join(tmp, `${fixture}-${count++}`);
  cpSync(join(FIXTURES, fixture), dir, { recursive: true });
  writeFileSync(join(dir, file), edit(readFileSync(join(dir, file), "utf8")));
  return dir;
}

function editJson(edit: (json: { model: Record<string, unknown> }) => void): (text: string) => string {
  return (text) => {
    const json = JSON.parse(text);
    edit(json);
    return JSON.stringify(json);
  };
}

async function loadError(dir: string): Promise<InputError> {
  const e = await loadTokenizer(dir).then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(InputError);
  return e as InputError;
}

describe("a vocabulary without ordinary tokens is an error", () => {
  it("tokenizer.json (BPE) with an empty model.vocab", async () => {
    const dir = variant(
      "bpe-roberta-json",
      "tokenizer.json",
      editJson((j) => {
        j.model.vocab = {};
        j.model.merges = [];
      }),
    );
    const e = await loadError(dir);
    expect(e.file).toBe(join(dir, "tokenizer.json"));
    expect(e.field).toBe("model.vocab");
    expect(e.message).toMatch(
      /the vocabulary holds only special tokens .*every word would be read as the unknown/,
    );
  });

  it("tokenizer.json (WordPiece) whose vocabulary is only its special tokens", async () => {
    const dir = variant(
      "wordpiece-uncased-json",
      "tokenizer.json",
      editJson((j) => {
        j.model.vocab = { "[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4 };
      }),
    );
    const e = await loadError(dir);
    expect(e.field).toBe("model.vocab");
    expect(e.message).toContain("'[UNK]'");
  });

  it("vocab.txt holding only special tokens", async () => {
    const dir = variant("wordpiece-uncased", "vocab.txt", () => "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
    const e = await loadError(dir);
    expect(e.file).toBe(join(dir, "vocab.txt"));
    expect(e.message).toMatch(/only special tokens/);
  });

  it("vocab.json holding only special tokens", async () => {
    const dir = variant("bpe-roberta", "vocab.json", () =>
      JSON.stringify({ "<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4 }),
    );
    writeFileSync(join(dir, "merges.txt"), "#version: 0.2\n");
    const e = await loadError(dir);
    expect(e.file).toBe(join(dir, "vocab.json"));
  });

  it("one ordinary token is enough (the check is for empty vocabularies, not small ones)", async () => {
    const dir = variant(
      "wordpiece-uncased-json",
      "tokenizer.json",
      editJson((j) => {
        j.model.vocab = { "[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, a: 5 };
      }),
    );
    const tok = await loadTokenizer(dir);
    expect(tok.tokenizeWord("a", true)).toEqual([5]);
    expect(tok.tokenizeWord("b", true)).toEqual([1]);
  });
});

/** Found by the fuzz round (test/fuzz): tokenizer.json values the library trusts. */
describe("tokenizer.json ids the library would trust", () => {
  it("an id at or beyond 2^24 in model.vocab is refused, naming the token (the library walks every id below it)", async () => {
    const dir = variant(
      "wordpiece-uncased-json",
      "tokenizer.json",
      editJson((j) => {
        (j.model.vocab as Record<string, number>).public = 2 ** 25;
      }),
    );
    const e = await loadError(dir);
    expect(e.field).toBe("model.vocab.public");
    expect(e.message).toMatch(/ids must be integers in \[0, 16777216\), got 33554432/);
  });

  it("an added token without an integer id is refused", async () => {
    const dir = variant("bpe-roberta-json", "tokenizer.json", (text) => {
      const j = JSON.parse(text);
      j.added_tokens[0].id = -1;
      return JSON.stringify(j);
    });
    expect((await loadError(dir)).field).toBe("added_tokens[0].id");
  });

  it("a model.unk_token missing from the vocabulary: an unknown word is an InputError, not the id undefined", async () => {
    const dir = variant(
      "wordpiece-uncased-json",
      "tokenizer.json",
      editJson((j) => {
        j.model.unk_token = "[U";
      }),
    );
    const tok = await loadTokenizer(dir);
    expect(tok.tokenizeWord("public", true).every(Number.isSafeInteger)).toBe(true);
    let error: unknown;
    try {
      tok.tokenizeWord("é中😀", false);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toMatch(/gives the id undefined, outside the vocabulary/);
  });
});
