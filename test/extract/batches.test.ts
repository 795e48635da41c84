import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { makeBatches, toTokenBatch } from "../../src/extract/batches.js";
import { extractActivations } from "../../src/extract/extract.js";
import { openActivationModel } from "../../src/extract/model.js";
import { busyCores, type ExtractProfile, formatProfile, paddingFraction } from "../../src/extract/profile.js";
import { Rng } from "../../src/util/rng.js";

const seqOf = (n: number, tag = 0) => ({ ids: Array.from({ length: n }, (_, i) => i + 1), tag });

/** Padded tokens of the old greedy batching: sorted, each batch filled while it fits. */
function greedyPadded(lengths: number[], batchTokens: number): number {
  const sorted = [...lengths].sort((a, b) => a - b);
  let padded = 0;
  let current: number[] = [];
  for (const n of sorted) {
    if (current.length > 0 && n * (current.length + 1) > batchTokens) {
      padded += current.length * current[current.length - 1];
      current = [];
    }
    current.push(n);
  }
  if (current.length > 0) padded += current.length * current[current.length - 1];
  return padded;
}

describe("length bucketing", () => {
  it("puts every sequence in exactly one batch, within the token budget, sorted and deterministic", () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 50; trial++) {
      const budget = 16 + rng.int(200);
      const items = Array.from({ length: rng.int(80) }, (_, i) => seqOf(1 + rng.int(40), i));
      const batches = makeBatches(items, budget);
      const seen = batches.flatMap((b) => b.items.map((it) => it.tag)).sort((a, b) => a - b);
      expect(seen).toEqual(items.map((it) => it.tag));
      for (const b of batches) {
        expect(b.seq).toBe(Math.max(...b.items.map((it) => it.ids.length)));
        // A sequence longer than the budget runs alone.
        if (b.items.length > 1) expect(b.items.length * b.seq).toBeLessThanOrEqual(budget);
      }
      expect(makeBatches(items, budget)).toEqual(batches);
    }
  });

  it("pads no more than filling batches greedily in length order (batch cost 0)", () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 50; trial++) {
      const lengths = Array.from({ length: 1 + rng.int(300) }, () => 1 + rng.int(60));
      const padded = makeBatches(
        lengths.map((n) => seqOf(n)),
        256,
        0,
      ).reduce((s, b) => s + b.items.length * b.seq, 0);
      expect(padded).toBeLessThanOrEqual(greedyPadded(lengths, 256));
    }
  });

  it("builds right-padded ids and masks", () => {
    const [batch] = makeBatches([seqOf(3), seqOf(1)], 64);
    const t = toTokenBatch(batch, 0);
    expect(t.batch).toBe(2);
    expect(t.seq).toBe(3);
    expect([...t.ids]).toEqual([1, 0, 0, 1, 2, 3]);
    expect([...t.mask]).toEqual([1, 0, 0, 1, 1, 1]);
  });
});

describe("onnxruntime on a worker thread, one batch ahead", () => {
  it("stores the same bytes as onnxruntime on the calling thread, over several groups and batches", async () => {
    const work = mkdtempSync(join(tmpdir(), "cn-thread-"));
    const rng = new Rng(5);
    const words = ["x", "=", "y", ";", "if", "(", "a", ")", "{", "return", "b", "}", "foo.bar", "0x1F"];
    const lines = Array.from({ length: 40 }, () =>
      Array.from({ length: 1 + rng.int(12) }, () => words[rng.int(words.length)]).join(" "),
    );
    writeFileSync(join(work, "in.txt"), `${lines.join("\n")}\n`);
    const shas: string[][] = [];
    for (const thread of ["main", "worker"] as const) {
      const model = await openActivationModel("test/fixtures/models/tiny-bert", {
        thread,
        sites: ["hidden", "mlp"],
      });
      const out = join(work, thread);
      // Small shards and groups, small batches: several groups, each of several batches.
      await extractActivations(model, {
        input: join(work, "in.txt"),
        out,
        quiet: true,
        sites: ["hidden", "mlp"],
        batchTokens: 48,
        shardBytes: 8000,
        groupBytes: 24000,
      });
      await model.release();
      const index = JSON.parse(readFileSync(join(out, "index.json"), "utf8")) as {
        shards: { sha256: string }[];
      };
      shas.push(index.shards.map((s) => s.sha256));
    }
    expect(shas[0].length).toBeGreaterThan(3);
    expect(shas[1]).toEqual(shas[0]);
  });
});

describe("extract profile", () => {
  it("accounts for the run's time by part and counts real and padded tokens", async () => {
    const model = await openActivationModel("test/fixtures/models/tiny-bert");
    const work = mkdtempSync(join(tmpdir(), "cn-profile-"));
    writeFileSync(join(work, "in.txt"), "x = y ;\nif ( a ) { return b ; }\n}\n");
    const plain = await extractActivations(model, {
      input: join(work, "in.txt"),
      out: join(work, "a"),
      quiet: true,
    });
    expect(plain.profile).toBeUndefined();
    const res = await extractActivations(model, {
      input: join(work, "in.txt"),
      out: join(work, "b"),
      quiet: true,
      profile: true,
    });
    await model.release();
    const p = res.profile!;
    const { total, other, ...parts } = p.seconds;
    const claimed = Object.values(parts).reduce((a, b) => a + b, 0);
    expect(claimed + other).toBeCloseTo(total, 6);
    expect(p.seconds.run).toBeGreaterThan(0);
    // [CLS] … [SEP] around each line's subwords.
    expect(p.tokens.real).toBe(res.counts.subwords + 2 * res.counts.sentences);
    expect(p.tokens.padded).toBeGreaterThanOrEqual(p.tokens.real);
    expect(paddingFraction(p)).toBeGreaterThanOrEqual(0);
    expect(p.cpuSeconds).toBeGreaterThan(0);
    expect(busyCores(p)).toBeGreaterThan(0);
    expect(formatProfile(p)).toContain("onnxruntime run");
  });

  it("extract --profile prints the split on stderr; with --json the result carries it", async () => {
    const work = mkdtempSync(join(tmpdir(), "cn-profile-cli-"));
    writeFileSync(join(work, "in.txt"), "int x = 1 ;\nreturn x ;\n");
    const main = join(import.meta.dirname, "..", "..", "src", "cli", "main.ts");
    const args = ["--import", "tsx", main, "extract", "--model", "test/fixtures/models/tiny-bert"];
    const run = (out: string, extra: string[]) =>
      promisify(execFile)(
        process.execPath,
        [...args, "--input", join(work, "in.txt"), "--out", out, ...extra],
        {
          env: { ...process.env, CODENEURONS_QUIET: "1" },
        },
      );
    const plain = await run(join(work, "a"), ["--profile"]);
    for (const part of [
      "tokenize / windows",
      "onnxruntime run",
      "reading outputs back",
      "subword → word aggregation",
      "store writes / hashing",
      "other / idle",
      "cores busy on average",
      "outside onnxruntime's run",
    ]) {
      expect(plain.stderr).toContain(part);
    }
    const withJson = await run(join(work, "b"), ["--profile", "--json"]);
    const result = JSON.parse(withJson.stdout) as { profile: ExtractProfile; counts: { subwords: number } };
    expect(result.profile.seconds.run).toBeGreaterThan(0);
    // 2 lines: [CLS] … [SEP] around each line's subwords, no padding when each runs in its own row.
    expect(result.profile.tokens.real).toBe(result.counts.subwords + 4);
    expect(withJson.stderr).toContain("profile:");
  }, 60_000);
});
