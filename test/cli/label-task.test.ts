import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readLabelled, writeLabelled } from "../../src/data/io.js";
import { readTask } from "../../src/data/task/tsv.js";

const root = new URL("../../", import.meta.url).pathname;

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "src/cli/main.ts"), ...args], {
    encoding: "utf8",
    env: { ...process.env, CODENEURONS_QUIET: "1" },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("codeneurons label / task (end to end)", () => {
  it("labels a Java file, prints JSON counts, and fails with exit code 2 naming the bad line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cn-cli-"));
    const src = join(dir, "A.java");
    writeFileSync(src, 'class A {\n  int x = 0x1F; // c\n  String s = "a b";\n}\n');
    const r = cli("label", "--lang", "java", "--input", src, "--out", join(dir, "a"), "--json");
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({
      sentences: 4,
      tokens: 14,
      skipped: [],
      counts: { IDENT: 4, UNKNOWN: 1, STRING: 1 },
    });
    expect(summary.tokensPerSecond).toBeGreaterThan(0);
    const corpus = await readLabelled(join(dir, "a"));
    expect(corpus.sentences[2]).toEqual(["String", "s", "=", '"a b"', ";"]);
    expect(readFileSync(join(dir, "a.in"), "utf8").split("\n")[2]).toBe('String s = "a\u2581b" ;');
    expect(JSON.parse(readFileSync(join(dir, "a.meta.json"), "utf8")).sourceLines).toEqual([1, 2, 3, 4]);

    writeFileSync(src, 'class A {\n  String s = "open;\n}\n');
    const bad = cli("label", "--lang", "java", "--input", src, "--out", join(dir, "b"));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(`codeneurons: error: ${src}:2: unterminated string literal\n`);
    expect(existsSync(join(dir, "b.in"))).toBe(false);
  });

  it("builds a token tagging task from labelled splits and prints the class distribution", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cn-cli-"));
    const split = (words: string[][], labels: string[][]) => ({ sentences: words, labels });
    await writeLabelled(
      join(dir, "train"),
      split(
        [
          ["if", "x", "1", "int"],
          ["for", "y", "2", "long"],
        ],
        [
          ["KEYWORD", "IDENT", "NUMBER", "TYPE"],
          ["KEYWORD", "IDENT", "NUMBER", "TYPE"],
        ],
      ),
    );
    await writeLabelled(
      join(dir, "valid"),
      split([["while", "z", "3", "byte"]], [["KEYWORD", "IDENT", "NUMBER", "TYPE"]]),
    );
    await writeLabelled(
      join(dir, "test"),
      split([["do", "w", "4", "char", "x"]], [["KEYWORD", "IDENT", "NUMBER", "TYPE", "IDENT"]]),
    );
    const out = join(dir, "task");
    const r = cli(
      "task",
      "token-tagging",
      "--train",
      join(dir, "train"),
      "--valid",
      join(dir, "valid"),
      "--test",
      join(dir, "test"),
      "--out",
      out,
      "--caps",
      "2,1,1",
      "--classes",
      "KEYWORD,IDENT,NUMBER,TYPE",
      "--seed",
      "3",
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/class distribution:/);
    expect(r.stdout).toMatch(/removed by each rule/);
    const task = await readTask(out);
    expect(task.train.token.length).toBe(8);
    expect([...task.test.token].sort()).toEqual(["4", "char", "do", "w"]);
    expect(task.test.token).not.toContain("x");
    expect((task.summary as { seed: number }).seed).toBe(3);
  });
});
