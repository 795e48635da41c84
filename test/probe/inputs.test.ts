import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTaskTsv } from "../../src/data/task/tsv.js";
import { SafetensorsFile } from "../../src/model/weights/safetensors.js";
import { LogisticProbe } from "../../src/probe/logistic.js";
import { runProbe } from "../../src/probe/stage.js";
import { importNeuroxJson } from "../../src/store/index.js";
import { sha256OfFile } from "../../src/store/verify.js";
import { UserError } from "../../src/util/errors.js";
import { matrix } from "../../src/util/matrix.js";
import { Rng } from "../../src/util/rng.js";

/**
 * Issue 17, finding 2: a NaN in a store made the probe stop at its start and report the intercept-only
 * probe as a result (rc 0, test accuracy of the majority class, an LCA ordering 0, 1, 2, …). Probes
 * now check their inputs, refuse a fit that cannot start, and say loudly when early stopping kept
 * the start.
 */
let dir = "";
const HIDDEN = 8;
const rng = new Rng(3);
const LINES = 60;

/** A store of random activations (60 lines × 4 words, one layer) and a task over it. */
async function makeStoreAndTask(validLabel: (i: number) => string): Promise<{ store: string; task: string }> {
  const root = mkdtempSync(join(dir, "case-"));
  const sentences = Array.from({ length: LINES }, (_, s) =>
    JSON.stringify({
      linex_index: s,
      features: Array.from({ length: 4 }, (_, t) => ({
        token: `w${(s * 4 + t) % 37}`,
        layers: [
          { index: 0, values: Array.from({ length: HIDDEN }, () => Math.round(rng.normal() * 1e4) / 1e4) },
        ],
      })),
    }),
  );
  writeFileSync(join(root, "acts.json"), `${sentences.join("\n")}\n`);
  const store = join(root, "store");
  await importNeuroxJson({ inputs: [join(root, "acts.json")], out: store, quiet: true });
  const task = join(root, "task");
  mkdirSync(task);
  const rows = (from: number, to: number, label: (i: number) => string) =>
    Array.from({ length: (to - from) * 4 }, (_, i) => {
      const s = from + Math.floor(i / 4);
      return { sentence: s, word: i % 4, token: `w${(s * 4 + (i % 4)) % 37}`, label: label(i) };
    });
  // Train: noise labels, A the majority; valid: as asked; test: noise.
  const noise = () => (rng.next() < 0.6 ? "A" : "B");
  await writeTaskTsv(join(task, "train.tsv"), rows(0, 40, noise));
  await writeTaskTsv(join(task, "valid.tsv"), rows(40, 50, validLabel));
  await writeTaskTsv(join(task, "test.tsv"), rows(50, 60, noise));
  return { store, task };
}

/** Sets one value of the store's shard and rewrites its recorded hash: damage no hash check sees. */
function plantValue(store: string, value: number): void {
  const shardPath = join(store, "shards", "00000.safetensors");
  const file = SafetensorsFile.open(shardPath);
  const at = file.locate(file.names()[0]);
  file.close();
  const bytes = new Uint8Array(readFileSync(shardPath));
  new Float32Array(bytes.buffer, at.offset, at.count)[3 * HIDDEN + 5] = value;
  writeFileSync(shardPath, bytes);
  const sha256 = sha256OfFile(shardPath);
  for (const name of ["index.json", join("shards", "00000.json")]) {
    const path = join(store, name);
    const json = JSON.parse(readFileSync(path, "utf8"));
    if (json.shards) json.shards[0].sha256 = sha256;
    else json.sha256 = sha256;
    writeFileSync(path, JSON.stringify(json));
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cn-probe-inputs-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("finding 2: probe inputs and fits that cannot start", () => {
  it("a NaN in the store (its hash rewritten to match): the probe stage fails naming the shard, row and neuron", async () => {
    const { store, task } = await makeStoreAndTask(() => "A");
    plantValue(store, Number.NaN);
    for (const verify of [undefined, "size"]) {
      if (verify) process.env.CODENEURONS_VERIFY = verify;
      try {
        const err = await runProbe({
          store,
          task,
          out: join(dir, "nan-out"),
          lambda1: 0,
          lambda2: 0,
          quiet: true,
        }).catch((e) => e);
        expect(err, String(verify)).toBeInstanceOf(UserError);
        expect(err.message).toContain(join(store, "shards", "00000.safetensors"));
        expect(err.message).toMatch(/row 3/);
        expect(err.message).toMatch(/L0:5/);
        expect(err.message).toMatch(/NaN/);
      } finally {
        delete process.env.CODENEURONS_VERIFY;
      }
    }
  });

  it("a NaN or Infinity in a probe's training or dev matrix: an error naming the row and the column", async () => {
    const y = Int32Array.from({ length: 30 }, (_, i) => i % 3);
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const x = matrix(30, 4);
      for (let i = 0; i < x.data.length; i++) x.data[i] = Math.cos(i * 1.7);
      const dev = matrix(30, 4);
      dev.data.set(x.data);
      x.data[7 * 4 + 2] = value;
      const err = await new LogisticProbe({ lambda1: 0, lambda2: 0 }).fit(x, y).catch((e) => e);
      expect(err).toBeInstanceOf(UserError);
      expect(err.message).toMatch(new RegExp(`training matrix holds ${value} at row 7, column 2`));
      x.data[7 * 4 + 2] = 0;
      dev.data[11 * 4 + 1] = value;
      const devErr = await new LogisticProbe({ lambda1: 0, lambda2: 0 })
        .fit(x, y, { valid: { x: dev, y } })
        .catch((e) => e);
      expect(devErr).toBeInstanceOf(UserError);
      expect(devErr.message).toMatch(new RegExp(`dev matrix holds ${value} at row 11, column 1`));
    }
  });

  it("early stopping that kept the start: a warning in the fit, the summary and metrics.json", async () => {
    // The dev split is all the training majority: the intercept-only start is already perfect on it,
    // and fitting noise can only lose; early stopping keeps iteration 0.
    const { store, task } = await makeStoreAndTask(() => "A");
    const out = join(dir, "unmoved");
    const warnings: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => warnings.push(String(s)) > 0) as typeof process.stderr.write;
    let result: Awaited<ReturnType<typeof runProbe>>;
    try {
      result = await runProbe({ store, task, out, lambda1: 0, lambda2: 0, patience: 2, quiet: true });
    } finally {
      process.stderr.write = write;
    }
    const warning = /did not move from its start/;
    expect(result.summary.warnings?.some((w) => warning.test(w))).toBe(true);
    expect(warnings.join("")).toMatch(warning);
    const metrics = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
    expect(JSON.stringify(metrics)).toMatch(warning);
    // A dev split the fit can improve on gives no warning.
    const fine = await makeStoreAndTask((i) => (i % 2 ? "A" : "B"));
    const moved = await runProbe({
      ...fine,
      out: join(dir, "moved"),
      lambda1: 0,
      lambda2: 0,
      patience: 2,
      quiet: true,
    });
    expect(moved.summary.warnings ?? []).toEqual([]);
  });
});
