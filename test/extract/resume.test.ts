import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { sharedData } from "../data/shared.js";

const ROOT = join(import.meta.dirname, "..", "..");
const CLI = [process.execPath, "--import", "tsx", join(ROOT, "src/cli/main.ts")];
const MODEL = join(ROOT, "test/fixtures/models/tiny-roberta");

function cli(args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(CLI[0], [...CLI.slice(1), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, CODENEURONS_THREADS: "1" },
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** Everything in a store that must be identical between runs (timings and dates aside). */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(join(dir, "shards")).sort())
    out[`shards/${f}`] = readFileSync(join(dir, "shards", f)).toString("base64");
  out["words.txt"] = readFileSync(join(dir, "words.txt"), "utf8");
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
  delete index.createdAt;
  delete index.seconds;
  out["index.json"] = JSON.stringify(index);
  return out;
}

describe("interrupted and sharded extraction", () => {
  const work = mkdtempSync(join(tmpdir(), "cn-resume-"));
  const input = join(work, "in.txt");
  // 600 real Java lines, small shards (~20 lines each) so that the store has many of them.
  const lines = readFileSync(sharedData("java-token-lines/valid.in"), "utf8").split("\n").slice(0, 600);
  writeFileSync(input, `${lines.join("\n")}\n`);
  const common = [
    "extract",
    "--model",
    MODEL,
    "--input",
    input,
    "--dtype",
    "float16",
    "--shard-bytes",
    "40000",
    // Two shards per group, so that shards are written all along the run.
    "--group-bytes",
    "80000",
  ];
  // The uninterrupted store every test compares with; each test makes everything else it needs.
  const clean = join(work, "clean");
  let want: Record<string, string> = {};
  beforeAll(() => {
    expect(cli([...common, "--out", clean]).status).toBe(0);
    want = fingerprint(clean);
    expect(Object.keys(want).filter((k) => k.endsWith(".safetensors")).length).toBeGreaterThan(5);
  });

  it("kill -9 after the 3rd shard, then a rerun, gives the same store as an uninterrupted run", () => {
    const killed = join(work, "killed");
    // The writer kills its own process right after the 3rd shard record (store/writer.ts): a real
    // SIGKILL at a known point, whatever the machine's speed.
    const crash = spawnSync(CLI[0], [...CLI.slice(1), ...common, "--out", killed], {
      cwd: ROOT,
      env: {
        ...process.env,
        CODENEURONS_THREADS: "1",
        CODENEURONS_QUIET: "1",
        CODENEURONS_TEST_KILL_AFTER_SHARDS: "3",
      },
      stdio: "ignore",
    });
    expect(crash.signal).toBe("SIGKILL");
    expect(existsSync(join(killed, "index.json"))).toBe(false);
    const before = readdirSync(join(killed, "shards")).filter((f) => f.endsWith(".json")).length;
    expect(before).toBe(3);

    const rerun = cli([...common, "--out", killed, "--json"]);
    expect(rerun.status).toBe(0);
    const result = JSON.parse(rerun.stdout);
    expect(result.status).toBe("resume");
    expect(result.shardsReused).toBeGreaterThanOrEqual(before - 1);
    expect(fingerprint(killed)).toEqual(want);
  });

  it("--shard K/N parts merged give the same store as one process", () => {
    const parts = [0, 1, 2].map((k) => join(work, `part${k}`));
    for (const [k, p] of parts.entries())
      expect(cli([...common, "--shard", `${k}/3`, "--out", p]).status).toBe(0);
    const partial = cli(["merge", parts[0], parts[2], "--out", join(work, "bad")]);
    expect(partial.status).toBe(2);
    expect(partial.stderr).toMatch(/missing part\(s\) 2\/3/);
    expect(cli(["merge", ...parts, "--out", join(work, "merged")]).status).toBe(0);
    expect(fingerprint(join(work, "merged"))).toEqual(want);
  });

  it("refuses to read a part or an unfinished store", () => {
    const part = join(work, "only-part");
    expect(cli([...common, "--shard", "0/3", "--out", part]).status).toBe(0);
    const r = cli(["export", "--store", part, "--format", "neurox-json", "--out", join(work, "x.json")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/part 1\/3 of a sharded extraction/);
  });
});

describe("--lines", () => {
  it("reads a long list from @FILE and extracts only those lines", () => {
    const work = mkdtempSync(join(tmpdir(), "cn-lines-"));
    const input = join(work, "in.txt");
    writeFileSync(input, "a b\nc\nd e f\ng\n");
    writeFileSync(join(work, "lines.txt"), "0\n2,\n");
    const extractLines = (out: string, listFile: string, ...more: string[]) =>
      cli([
        "extract",
        "--model",
        MODEL,
        "--input",
        input,
        "--out",
        join(work, out),
        "--lines",
        `@${join(work, listFile)}`,
        ...more,
      ]);
    const r = extractLines("s", "lines.txt", "--json");
    expect(r.status).toBe(0);
    const counts = JSON.parse(r.stdout).counts;
    expect([counts.sentences, counts.rows, counts.emptyLines]).toEqual([2, 5, 2]);
    writeFileSync(join(work, "bad.txt"), "0-x\n");
    const bad = extractLines("t", "bad.txt");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/bad\.txt: not a list of line numbers/);
  });
});
