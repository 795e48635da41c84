import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { afterAll, describe, expect, it } from "vitest";
import { encodeWords, loadTokenizer } from "../../../src/model/tokenizer/index.js";
import { sharedData } from "../../data/shared.js";
import { CLASSIC, FAMILIES, HF_LLM, hfLlmAvailable } from "./reference.js";

/**
 * The LLM families' tokenizers seen word by word (how extraction uses them) give exactly the ids of
 * tokenizing the whole line, on real code lines; byte fallback and tokenizer_config's add_bos_token /
 * add_eos_token behave as in transformers.
 */
const work = mkdtempSync(join(tmpdir(), "cn-llm-tok-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const JAVA = readFileSync(sharedData("java-token-lines/test.in"), "utf8")
  .split("\n")
  .filter((l) => l.trim().length > 0)
  .slice(0, 300);

function rawTokenizer(dir: string, edit?: (json: Record<string, unknown>) => void): Tokenizer {
  const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")) as Record<string, unknown>;
  edit?.(json);
  return new Tokenizer(json, {});
}

describe.skipIf(!hfLlmAvailable())("LLM tokenizers word by word", () => {
  for (const family of [...FAMILIES, ...CLASSIC]) {
    it(`${family}: words tokenized alone concatenate to the line's tokens (300 Java lines)`, async () => {
      const dir = join(HF_LLM, family, "model");
      const tok = await loadTokenizer(dir);
      const raw = rawTokenizer(dir);
      for (const line of JAVA) {
        const words = line.split(/\s+/).filter(Boolean);
        const whole = raw.encode(words.join(" "), { add_special_tokens: false }).ids;
        expect(encodeWords(tok, words).ids, line).toEqual(whole);
      }
    });
  }

  it("byte fallback: unknown characters become <0xNN> tokens of their own word", async () => {
    const dir = join(work, "llama-bytes");
    cpSync(join(HF_LLM, "llama", "model"), dir, { recursive: true });
    const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
    json.model.byte_fallback = true;
    const n = Object.keys(json.model.vocab).length;
    for (let b = 0; b < 256; b++)
      json.model.vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = n + b;
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(json));
    const tok = await loadTokenizer(dir);
    const words = ["x", "=", "\u00e9", ";", "\u{1F642}"];
    const enc = encodeWords(tok, words);
    const pieces = (w: number) =>
      enc.ids.slice(enc.wordStarts[w], enc.wordStarts[w + 1]).map((id) => tok.idToToken(id));
    expect(pieces(2)).toEqual(["\u2581", "<0xC3>", "<0xA9>"]);
    expect(pieces(4)).toEqual(["\u2581", "<0xF0>", "<0x9F>", "<0x99>", "<0x82>"]);
    expect(enc.ids).toEqual(rawTokenizer(dir).encode(words.join(" "), { add_special_tokens: false }).ids);
  });

  it("LlamaTokenizerFast's add_bos_token / add_eos_token decide the special tokens", async () => {
    const dir = join(work, "llama-eos");
    cpSync(join(HF_LLM, "llama", "model"), dir, { recursive: true });
    const cfgPath = join(dir, "tokenizer_config.json");
    const cfg = JSON.parse(readFileSync(cfgPath, "utf8"));
    writeFileSync(
      cfgPath,
      JSON.stringify({
        ...cfg,
        tokenizer_class: "LlamaTokenizerFast",
        add_bos_token: true,
        add_eos_token: true,
      }),
    );
    let tok = await loadTokenizer(dir);
    expect(tok.prefixIds.map((i) => tok.idToToken(i))).toEqual(["<s>"]);
    expect(tok.suffixIds.map((i) => tok.idToToken(i))).toEqual(["</s>"]);
    writeFileSync(
      cfgPath,
      JSON.stringify({ ...cfg, tokenizer_class: "LlamaTokenizerFast", add_bos_token: false }),
    );
    tok = await loadTokenizer(dir);
    expect(tok.prefixIds).toEqual([]);
    // Without the flags (or for other classes) the post-processor of tokenizer.json decides.
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, add_bos_token: false }));
    tok = await loadTokenizer(dir);
    expect(tok.prefixIds.map((i) => tok.idToToken(i))).toEqual(["<s>"]);
  });
});
