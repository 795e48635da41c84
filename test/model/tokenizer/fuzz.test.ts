import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTokenizer } from "../../../src/model/tokenizer/index.js";
import { InputError } from "../../../src/util/errors.js";
import { Rng } from "../../../src/util/rng.js";

/**
 * Fuzz-style tests for the tokenizer file parsers: truncated or mutated vocab.json, merges.txt,
 * vocab.txt, tokenizer_config.json and tokenizer.json must load (and tokenize) or fail with an
 * InputError naming the file — never another exception.
 */
const FIXTURES = join(import.meta.dirname, "../../fixtures/tokenizers");
const tmp = mkdtempSync(join(tmpdir(), "cn-tokfuzz-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SAMPLE = ["public", "static", "void", "main", "(", "String", "[]", "args", ")", "é中😀"];

interface Counts {
  ok: number;
  errors: InputError[];
}

/** Loads `fixture` with `file` replaced by each variant; returns successes and InputErrors. */
async function fuzzFile(fixture: string, file: string, variants: string[]): Promise<Counts> {
  const dir = join(tmp, `${fixture}-${file}`);
  cpSync(join(FIXTURES, fixture), dir, { recursive: true });
  const counts: Counts = { ok: 0, errors: [] };
  for (const [i, text] of variants.entries()) {
    writeFileSync(join(dir, file), text);
    try {
      const tok = await loadTokenizer(dir);
      for (const [k, w] of SAMPLE.entries()) tok.tokenizeWord(w, k === 0);
      counts.ok++;
    } catch (e) {
      if (!(e instanceof InputError))
        throw new Error(`${fixture}/${file} variant ${i}: ${(e as Error).stack}`);
      expect(e.message).toContain(dir);
      counts.errors.push(e);
    }
  }
  return counts;
}

function truncations(text: string, rng: Rng, count: number): string[] {
  return Array.from({ length: count }, () => text.slice(0, rng.int(text.length)));
}

/** Replaces 1–3 characters with characters that matter to the formats (quotes, braces, spaces, digits…). */
function mutations(text: string, rng: Rng, count: number): string[] {
  const alphabet = ['"', "{", "}", "[", "]", ":", ",", " ", "\n", "0", "9", "-", "x", "\\", "Ġ", "#"];
  return Array.from({ length: count }, () => {
    const chars = Array.from(text);
    for (let f = 1 + rng.int(3); f > 0; f--)
      chars[rng.int(chars.length)] = alphabet[rng.int(alphabet.length)];
    return chars.join("");
  });
}

const read = (fixture: string, file: string) => readFileSync(join(FIXTURES, fixture, file), "utf8");

describe("fuzzing the tokenizer parsers", () => {
  it("vocab.json: 60 truncations name the file and line; 100 mutations load or give InputError", async () => {
    const text = read("bpe-roberta", "vocab.json");
    const rng = new Rng(11);
    const cut = await fuzzFile("bpe-roberta", "vocab.json", truncations(text, rng, 60));
    expect(cut.ok).toBe(0);
    expect(cut.errors.every((e) => e.line !== undefined)).toBe(true);
    const mut = await fuzzFile("bpe-roberta", "vocab.json", mutations(text, rng, 100));
    expect(mut.errors.length).toBeGreaterThan(50);
  });

  it("merges.txt: 200 mutations load or give an InputError naming the line", async () => {
    const text = read("bpe-gpt2", "merges.txt");
    const rng = new Rng(12);
    const mut = await fuzzFile("bpe-gpt2", "merges.txt", mutations(text, rng, 200));
    expect(mut.errors.length).toBeGreaterThan(100);
    for (const e of mut.errors) {
      expect(e.message).toContain("merges.txt");
      expect(e.line).toBeGreaterThan(0);
    }
    // A mutation on line k is reported on line k: the version line is line 1.
    const bad = await fuzzFile("bpe-gpt2", "merges.txt", [text.replace(/\n(.*)\n/, "\n$1 extra\n")]);
    expect(bad.errors[0].line).toBe(2);
  });

  it("vocab.txt: truncations load (any line is a token) unless empty", async () => {
    const text = read("wordpiece-uncased", "vocab.txt");
    const rng = new Rng(13);
    const variants = ["", ...truncations(text, rng, 40)];
    const counts = await fuzzFile("wordpiece-uncased", "vocab.txt", variants);
    expect(counts.errors.length).toBeGreaterThan(0);
    expect(counts.errors[0].message).toContain("vocab.txt");
  });

  it("tokenizer_config.json: 40 truncations and 100 mutations load or give InputError", async () => {
    const text = read("bpe-roberta", "tokenizer_config.json");
    const rng = new Rng(14);
    const cut = await fuzzFile("bpe-roberta", "tokenizer_config.json", truncations(text, rng, 40));
    expect(cut.errors.length).toBeGreaterThan(30);
    const mut = await fuzzFile("bpe-roberta", "tokenizer_config.json", mutations(text, rng, 100));
    expect(mut.errors.length).toBeGreaterThan(30);
  });

  it("tokenizer.json: 40 truncations and 150 mutations load and tokenize, or give InputError", async () => {
    const rng = new Rng(15);
    for (const fixture of ["wordpiece-uncased-json", "bpe-roberta-json", "metaspace-json"]) {
      const text = read(fixture, "tokenizer.json");
      const cut = await fuzzFile(fixture, "tokenizer.json", truncations(text, rng, 40));
      expect(cut.ok).toBe(0);
      const mut = await fuzzFile(fixture, "tokenizer.json", mutations(text, rng, 50));
      expect(mut.errors.length).toBeGreaterThan(10);
    }
  });
});
