import { existsSync } from "node:fs";
import { join } from "node:path";
import { ZipReader } from "../../../src/model/weights/zip.js";

/**
 * The reference data of ../shared/data/hf-llm (see its README): tiny checkpoints written by
 * transformers 5.17 and transformers' own word-level hidden states and MLP neurons, as .npz files
 * (`arr_i` = line i, shape [layers (+1), words, width], float32).
 */
export const HF_LLM = join(import.meta.dirname, "..", "..", "..", "..", "shared", "data", "hf-llm");

export const FAMILIES = [
  "llama",
  "mistral",
  "qwen2",
  "starcoder2",
  "gemma",
  "phi3",
  "gpt_bigcode",
  "gpt_neox",
  "t5",
] as const;
export const CLASSIC = ["bert", "roberta", "gpt2"] as const;

export function hfLlmAvailable(): boolean {
  return existsSync(join(HF_LLM, "llama", "hidden.npz"));
}

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

/** Parses one .npy file (little-endian float32, C order). */
export function parseNpy(bytes: Uint8Array, name: string): NpyArray {
  const magic = String.fromCharCode(...bytes.subarray(1, 6));
  if (bytes[0] !== 0x93 || magic !== "NUMPY") throw new Error(`${name}: not a .npy file`);
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  if (!header.includes("'descr': '<f4'") || header.includes("'fortran_order': True")) {
    throw new Error(`${name}: expected little-endian float32 in C order, header ${header}`);
  }
  const shapeText = /'shape': \(([^)]*)\)/.exec(header)?.[1] ?? "";
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const body = bytes.slice(start + headerLen);
  return { shape, data: new Float32Array(body.buffer, body.byteOffset, body.byteLength / 4) };
}

/** arr_0 … arr_{n-1} of an .npz. */
export function readNpz(path: string): NpyArray[] {
  const zip = ZipReader.open(path);
  try {
    const out: NpyArray[] = [];
    for (let i = 0; zip.entries.has(`arr_${i}.npy`); i++)
      out.push(parseNpy(zip.read(`arr_${i}.npy`), `${path}:arr_${i}`));
    return out;
  } finally {
    zip.close();
  }
}
