import { describe, expect, it } from "vitest";
import { createSession, ort } from "../../src/linalg/runtime.js";
import { createWorkerSession } from "../../src/linalg/worker-session.js";
import { GraphBuilder } from "../../src/onnx/graph.js";
import { Rng } from "../../src/util/rng.js";

/** y = Gather(table, ids) · w, and the ids' count as a second (int64) output. */
function model(rng: Rng): Uint8Array {
  const g = new GraphBuilder("worker_session_test");
  const ids = g.input("ids", "int64", ["n"]);
  const table = g.initializer("table", {
    dtype: "float32",
    dims: [10, 4],
    data: Float32Array.from({ length: 40 }, () => rng.normal()),
  });
  const w = g.initializer("w", {
    dtype: "float32",
    dims: [4, 3],
    data: Float32Array.from({ length: 12 }, () => rng.normal()),
  });
  g.op("MatMul", [g.op1("Gather", [table, ids]), w], {}, { outputs: ["y"] });
  g.op("Shape", [ids], {}, { outputs: ["count"] });
  g.output("y", "float32", ["n", 3]);
  g.output("count", "int64", [1]);
  return g.toModel({ opset: 17 });
}

describe("onnxruntime on a worker thread", () => {
  it("gives what a session on the calling thread gives, runs handed over together included", async () => {
    const bytes = model(new Rng(3));
    const here = await createSession(bytes.slice());
    const there = await createWorkerSession(bytes);
    const feeds = [
      [1, 2, 3],
      [9, 0],
      [4, 4, 4, 4, 7],
    ].map((ids) => ({ ids: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [ids.length]) }));
    // All three in flight at once: answers come back each to its own run.
    const remote = await Promise.all(feeds.map((f) => there.run(f)));
    for (const [i, f] of feeds.entries()) {
      const local = await here.run(f);
      expect(remote[i].y.type).toBe("float32");
      expect(remote[i].y.dims).toEqual(local.y.dims);
      expect([...(remote[i].y.data as Float32Array)]).toEqual([...(local.y.data as Float32Array)]);
      expect(remote[i].count.data).toEqual(local.count.data);
    }
    await here.release();
    await there.release();
    await expect(there.run(feeds[0])).rejects.toThrow(/released/);
  });

  it("an error in onnxruntime rejects that run only; the session goes on", async () => {
    const s = await createWorkerSession(model(new Rng(4)));
    const bad = { ids: new ort.Tensor("int64", BigInt64Array.from([1n, 99n]), [2]) };
    await expect(s.run(bad)).rejects.toThrow(/onnxruntime: .*(indices|out of bounds|99)/i);
    const ok = await s.run({ ids: new ort.Tensor("int64", BigInt64Array.from([1n]), [1]) });
    expect(ok.y.dims).toEqual([1, 3]);
    await s.release();
  });

  it("a model onnxruntime cannot load is an error, and no thread is left running", async () => {
    await expect(createWorkerSession(new Uint8Array([1, 2, 3, 4]))).rejects.toThrow(/onnxruntime: /);
  });
});
