import { attr, GraphBuilder } from "../onnx/graph.js";
import { type Matrix, matrix } from "../util/matrix.js";
import { cachedSession, f32, f32Data } from "./runtime.js";

/**
 * The heavy products of codeneurons, each a tiny ONNX graph with dynamic shapes run by onnxruntime
 * (MLAS GEMM, all cores). TS loops elsewhere handle only O(n) work.
 */

function binaryGraph(
  name: string,
  build: (g: GraphBuilder, a: string, b: string) => string,
): () => Uint8Array {
  return () => {
    const g = new GraphBuilder(name);
    const a = g.input("A", "float32", ["a0", "a1"]);
    const b = g.input("B", "float32", ["b0", "b1"]);
    g.output(build(g, a, b), "float32", ["y0", "y1"]);
    return g.toModel();
  };
}

async function runBinary(
  key: string,
  build: () => Uint8Array,
  a: Matrix,
  b: Matrix,
  rows: number,
  cols: number,
  into?: Float32Array,
) {
  const session = await cachedSession(key, build);
  const feeds = { A: f32(a.data, [a.rows, a.cols]), B: f32(b.data, [b.rows, b.cols]) };
  if (into) {
    if (into.length !== rows * cols)
      throw new Error(`${key}: output buffer holds ${into.length}, need ${rows * cols}`);
    // A pre-allocated output: onnxruntime writes the result into `into`.
    await session.run(feeds, { Y: f32(into, [rows, cols]) });
    return matrix(rows, cols, into);
  }
  const out = await session.run(feeds);
  return matrix(rows, cols, f32Data(out.Y, key));
}

const matmulGraph = binaryGraph("matmul", (g, a, b) => g.op1("MatMul", [a, b], {}, "Y"));
const matmulTransAGraph = binaryGraph("gemm_ta", (g, a, b) =>
  g.op1("Gemm", [a, b], { transA: attr.int(1), alpha: attr.float(1) }, "Y"),
);
const matmulTransBGraph = binaryGraph("gemm_tb", (g, a, b) =>
  g.op1("Gemm", [a, b], { transB: attr.int(1), alpha: attr.float(1) }, "Y"),
);

/** A·B for A [n×d], B [d×k]. */
export function matmul(a: Matrix, b: Matrix): Promise<Matrix> {
  if (a.cols !== b.rows) throw new Error(`matmul: ${a.rows}x${a.cols} · ${b.rows}x${b.cols}`);
  return runBinary("matmul", matmulGraph, a, b, a.rows, b.cols);
}

/** Aᵀ·B for A [n×d], B [n×k] (no transposed copy of A is made). */
export function matmulTransA(a: Matrix, b: Matrix): Promise<Matrix> {
  if (a.rows !== b.rows) throw new Error(`matmulTransA: (${a.rows}x${a.cols})ᵀ · ${b.rows}x${b.cols}`);
  return runBinary("gemm_ta", matmulTransAGraph, a, b, a.cols, b.cols);
}

/** A·Bᵀ for A [n×d], B [k×d]; written into `into` (n·k floats) when given. */
export function matmulTransB(a: Matrix, b: Matrix, into?: Float32Array): Promise<Matrix> {
  if (a.cols !== b.cols) throw new Error(`matmulTransB: ${a.rows}x${a.cols} · (${b.rows}x${b.cols})ᵀ`);
  return runBinary("gemm_tb", matmulTransBGraph, a, b, a.rows, b.rows, into);
}

/** Aᵀ·A [d×d]. */
export function gram(a: Matrix): Promise<Matrix> {
  return matmulTransA(a, a);
}
