import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Matrix, matrix } from "../../src/util/matrix.js";

/** Fixtures written by scripts/reference/probe_reference.py. */
export const FIXTURE_DIR = join(import.meta.dirname, "..", "fixtures", "probe");

export function readFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURE_DIR, `${name}.json`), "utf8")) as T;
}

/** A base64 float32 row-major matrix from a fixture. */
export function decodeMatrix(b64: string, rows: number, cols: number): Matrix {
  const bytes = Buffer.from(b64, "base64");
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return matrix(rows, cols, data);
}
