import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openActivationModel } from "../../../src/extract/model.js";
import { InputError, UserError } from "../../../src/util/errors.js";
import { HF_LLM, hfLlmAvailable } from "../hf-llm/reference.js";

/**
 * Bad checkpoints of the LLM families: the tiny Llama of hf-llm copied with an edited config.json.
 * Every mismatch between config.json and the weights is found before anything runs or is written, and
 * the error names the tensor (both shapes) or the config field. Through openActivationModel, and
 * `codeneurons extract` end to end (dist/cli/main.js when built, else the sources through tsx): exit
 * status 2, the message on stderr, no store (no index.json) in --out.
 */
const ROOT = join(import.meta.dirname, "..", "..", "..");
const DIST_CLI = join(ROOT, "dist", "cli", "main.js");
const CLI = existsSync(DIST_CLI)
  ? [process.execPath, DIST_CLI]
  : [process.execPath, "--import", "tsx", join(ROOT, "src", "cli", "main.ts")];
const LLAMA = join(HF_LLM, "llama", "model");
const work = mkdtempSync(join(tmpdir(), "cn-block-errors-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Json = Record<string, unknown>;

/** A copy of the tiny Llama whose config.json went through `edit`. */
function badModel(name: string, edit: (cfg: Json) => void): string {
  const dir = join(work, name);
  mkdirSync(dir);
  for (const f of readdirSync(LLAMA)) {
    copyFileSync(join(LLAMA, f), join(dir, f));
    chmodSync(join(dir, f), 0o644); // the shared data is read-only
  }
  const cfg = JSON.parse(readFileSync(join(LLAMA, "config.json"), "utf8")) as Json;
  edit(cfg);
  writeFileSync(join(dir, "config.json"), JSON.stringify(cfg, null, 2));
  return dir;
}

async function openError(dir: string): Promise<UserError> {
  let model: Awaited<ReturnType<typeof openActivationModel>>;
  try {
    model = await openActivationModel(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  await model.release();
  throw new Error(`${dir}: expected an error`);
}

/** Runs `codeneurons extract` on `dir`; returns stderr after checking that no store was written. */
function extractFails(dir: string): string {
  const input = join(work, "lines.in");
  writeFileSync(input, "public int x = 1 ;\nreturn x ;\n");
  const out = join(work, `${dir.split("/").pop()}-store`);
  const r = spawnSync(CLI[0], [...CLI.slice(1), "extract", "--model", dir, "--input", input, "--out", out], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, CODENEURONS_THREADS: "1", HF_HUB_OFFLINE: "1" },
  });
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/^codeneurons: error: /);
  expect(r.stderr).not.toContain("internal error");
  expect(existsSync(join(out, "index.json"))).toBe(false);
  expect(existsSync(out) ? readdirSync(out, { recursive: true }) : []).toEqual([]);
  return r.stderr;
}

describe.skipIf(!hfLlmAvailable())(
  "bad checkpoints of the LLM families: clear errors, nothing written",
  () => {
    it("hidden_size that the weights do not have: the embedding tensor and both shapes", async () => {
      const dir = badModel("hidden", (c) => {
        c.hidden_size = 96;
      });
      const e = await openError(dir);
      expect(e.message).toBe(
        `${join(dir, "model.safetensors")}: tensor 'model.embed_tokens.weight' has shape [2500, 64], ` +
          "expected [2500, 96] from config.json",
      );
      expect(extractFails(dir)).toContain(
        "tensor 'model.embed_tokens.weight' has shape [2500, 64], expected [2500, 96]",
      );
    });

    it("intermediate_size that the weights do not have: the first MLP tensor and both shapes", async () => {
      const dir = badModel("intermediate", (c) => {
        c.intermediate_size = 96;
      });
      const e = await openError(dir);
      expect(e.message).toBe(
        `${join(dir, "model.safetensors")}: tensor 'model.layers.0.mlp.gate_proj.weight' has shape [128, 64], ` +
          "expected [96, 64] from config.json",
      );
    });

    it("num_key_value_heads that the weights do not have: the k projection and both shapes", async () => {
      const dir = badModel("kv-heads", (c) => {
        c.num_key_value_heads = 4;
      });
      const e = await openError(dir);
      expect(e.message).toContain(
        "tensor 'model.layers.0.self_attn.k_proj.weight' has shape [32, 64], expected [64, 64]",
      );
    });

    it("num_hidden_layers 2 while the weights have 3: the field and the extra tensor", async () => {
      const dir = badModel("fewer-layers", (c) => {
        c.num_hidden_layers = 2;
      });
      const e = await openError(dir);
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).field).toBe("num_hidden_layers");
      expect(e.message).toContain(`${join(dir, "config.json")} (field 'num_hidden_layers'): says 2 layers`);
      expect(e.message).toContain("the checkpoint has more (it holds 'model.layers.2.");
      expect(extractFails(dir)).toContain("(field 'num_hidden_layers'): says 2 layers");
    });

    it("num_hidden_layers 4 while the weights have 3: the missing tensor of block 3", async () => {
      const dir = badModel("more-layers", (c) => {
        c.num_hidden_layers = 4;
      });
      const e = await openError(dir);
      expect(e.message).toMatch(/missing tensor 'model\.layers\.3\./);
    });

    it("model_type falcon: the supported types are listed", async () => {
      const dir = badModel("falcon", (c) => {
        c.model_type = "falcon";
      });
      const e = await openError(dir);
      expect(e.message).toBe(
        `${join(dir, "config.json")} (field 'model_type'): unsupported model_type 'falcon' (supported: bert, ` +
          "roberta, gpt2, llama, mistral, qwen2, starcoder2, gemma, phi3, gpt_bigcode, gpt_neox, t5)",
      );
      expect(extractFails(dir)).toContain(
        "unsupported model_type 'falcon' (supported: bert, roberta, gpt2, llama",
      );
    });

    it("rope type foo: the field and the supported types", async () => {
      const dir = badModel("rope-foo", (c) => {
        c.rope_parameters = { rope_theta: 10000.0, rope_type: "foo" };
      });
      const e = await openError(dir);
      expect(e).toBeInstanceOf(InputError);
      expect(e.message).toBe(
        `${join(dir, "config.json")} (field 'rope_parameters.rope_type'): unsupported RoPE type "foo" ` +
          "(supported: default, linear, dynamic, llama3, yarn, longrope)",
      );
      expect(extractFails(dir)).toContain(
        "(field 'rope_parameters.rope_type'): unsupported RoPE type \"foo\"",
      );
    });

    it("the unedited copy opens (the errors above come from the edits alone)", async () => {
      const dir = badModel("unedited", () => {});
      const model = await openActivationModel(dir);
      expect([model.modelType, model.numLayers, model.hidden, model.intermediate]).toEqual([
        "llama",
        3,
        64,
        128,
      ]);
      await model.release();
    });
  },
);
