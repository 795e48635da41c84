import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import type { SentenceTaskSummary } from "../../src/data/sentence/index.js";
import type { TaskSummary } from "../../src/data/task/format.js";
import type { RedundancyResults } from "../../src/redundancy/pipeline/results.js";
import type { ReportData } from "../../src/report/types.js";
import { DEMO_NAMES, dataFilesIn, demoConfig, readRunConfig } from "../../src/run/config.js";
import type { RunFile } from "../../src/run/format.js";

/**
 * `codeneurons run` for every kind of task (issue 18, item 2): Python token tagging and the
 * sentence-level tasks (CoSQA and BigCloneBench pairs, Devign single functions) on the
 * bundled samples, with malformed copies of them; and the config's rules. The bundled model was trained
 * on Java only and the Devign and BigCloneBench samples are synthetic: the numbers are not findings, and
 * the checks are about the pipeline (files, classes, guard rails), not about accuracy. The paper's Java
 * data through the shipped config, run from a clean install elsewhere: install.test.ts.
 */
const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");
const MAIN = join(ROOT, "src", "cli", "main.ts");
const MODEL = join(ROOT, "models", "codeneurons-java-tiny");
// tsx resolved from here, not from the working directory (runs start elsewhere).
const TSX = import.meta.resolve("tsx");

async function cli(args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, ["--import", TSX, MAIN, ...args], {
      cwd,
      env: { ...process.env, CODENEURONS_QUIET: "1" },
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

async function ok(args: string[], cwd = ROOT): Promise<string> {
  const r = await cli(args, cwd);
  expect(r.code, `${args.join(" ")}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

const json = <T>(file: string): T => JSON.parse(readFileSync(file, "utf8")) as T;
const tmp = (): string => mkdtempSync(join(tmpdir(), "cn-kinds-"));

describe("run config: task kinds, languages, paths", () => {
  it("paths in a config are relative to the file: config/paper.json names the shipped data", () => {
    const cfg = readRunConfig(join(ROOT, "config", "paper.json"), { model: MODEL });
    for (const s of ["train", "valid", "test"] as const) {
      expect(cfg.data[s]).toBe(join(ROOT, "data", "java-token-lines", `${s}.in`));
      expect(existsSync(cfg.data[s])).toBe(true);
    }
    expect(cfg.task).toMatchObject({ kind: "token-tagging", caps: [2000, 270, 340] });
    expect(cfg.task.classes).toEqual(["MODIFIER", "IDENT", "KEYWORD", "TYPE", "NUMBER", "STRING"]);
    expect(cfg.data).toMatchObject({ language: "java", pretokenized: true, parser: "native" });
  });

  it("--lang python: Python's classes, not Java's; source files are not token lines", () => {
    const dir = tmp();
    for (const s of ["train", "valid", "test"]) writeFileSync(join(dir, `${s}.py`), "x = 1\n");
    const cfg = readRunConfig(undefined, { model: MODEL, data: dir, lang: "python" });
    expect(cfg.data).toMatchObject({ language: "python", pretokenized: false, train: join(dir, "train.py") });
    expect(cfg.task.classes).toEqual(["NAME", "KEYWORD", "NUMBER", "STRING"]);
    expect(cfg.task.closedClasses).toEqual(["KEYWORD"]);
    // Classes chosen on the command line; the closed ones follow them.
    const picked = readRunConfig(undefined, {
      model: MODEL,
      data: dir,
      lang: "python",
      classes: ["NAME", "STRING"],
    });
    expect([picked.task.classes, picked.task.closedClasses]).toEqual([["NAME", "STRING"], []]);
    expect(() => readRunConfig(undefined, { model: MODEL, data: dir, lang: "cobol" })).toThrow(
      /unknown language 'cobol'/,
    );
  });

  it("--data DIR finds each kind's files, and says what it expected", () => {
    const dir = tmp();
    for (const s of ["train", "valid", "test"]) writeFileSync(join(dir, `${s}.json`), "[]");
    expect(dataFilesIn(dir, "cosqa", "python").valid).toBe(join(dir, "valid.json"));
    expect(() => dataFilesIn(dir, "bigclonebench", "java")).toThrow(
      /no train split for a bigclonebench task: expected train\.txt/,
    );
    expect(dataFilesIn(dir, "token-tagging", "python").test).toBe(join(dir, "test.json"));
  });

  it("a binary task needs exactly one of labels and regex; sentence kinds record their dataset's language", () => {
    const files = { train: "a", valid: "b", test: "c" };
    const dir = tmp();
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ model: "x/y", data: files, task: { kind: "binary" } }));
    expect(() => readRunConfig(file)).toThrow(/a binary task needs exactly one of task\.labels/);
    expect(readRunConfig(file, { labels: ["NUMBER"] }).task).toMatchObject({
      labels: ["NUMBER"],
      regex: null,
    });
    writeFileSync(file, JSON.stringify({ model: "x/y", data: files, task: { kind: "devign" } }));
    expect(readRunConfig(file).data.language).toBe("c");
    expect(readRunConfig(file).task.classes).toBeNull();
  });

  it("every demo config reads", () => {
    expect(DEMO_NAMES).toEqual(["java", "python", "binary", "cosqa", "devign", "bigclonebench"]);
    for (const name of DEMO_NAMES) {
      const cfg = readRunConfig(demoConfig(name));
      for (const s of ["train", "valid", "test"] as const)
        expect(existsSync(cfg.data[s]), `${name} ${s}`).toBe(true);
    }
  });
});

describe("codeneurons run, every kind of task, end to end", () => {
  it("Python token tagging on the bundled sample: Python's classes, the guard rails in the report", async () => {
    const out = join(tmp(), "py");
    const cfg = json<Record<string, unknown>>(demoConfig("python"));
    const dir = tmp();
    const config = join(dir, "python.json");
    // The demo's settings with absolute data paths and fewer redundancy steps, to keep the test short.
    writeFileSync(
      config,
      JSON.stringify({
        ...cfg,
        model: MODEL,
        data: {
          language: "python",
          field: "code",
          ...Object.fromEntries(
            ["train", "valid", "test"].map((s) => [s, join(ROOT, "demo", "cosqa", `${s}.json`)]),
          ),
        },
        task: { seed: 1, caps: [200, 60, 60] },
        redundancy: { steps: ["oracle", "independent", "lca", "control"] },
      }),
    );
    await ok(["run", "--config", config, "--out", out]);
    const summary = json<TaskSummary>(join(out, "task", "summary.json"));
    expect(summary.classes).toEqual(["NAME", "KEYWORD", "NUMBER", "STRING"]);
    const meta = json<{ lang: string; parser: string; version: number }>(
      join(out, "data", "train.meta.json"),
    );
    expect(meta).toMatchObject({ lang: "python", parser: "native", version: 2 });
    const data = json<ReportData>(join(out, "report-data.json"));
    expect(data.task).toBe("Python token tagging (4 classes)");
    expect(data.classMetrics?.classes.map((c) => c.name).sort()).toEqual([
      "KEYWORD",
      "NAME",
      "NUMBER",
      "STRING",
    ]);
    expect(data.classMetrics?.confusion).toHaveLength(4);
    expect(data.baseline?.rows.test).toBe(summary.totals.test);
    expect(readFileSync(join(out, "report", "index.html"), "utf8")).toContain('data-table="class-metrics"');
  }, 600_000);

  it("a sentence-level pair task: --demo cosqa, [v(query); v(code)] rows, no claim without evidence", async () => {
    const out = join(tmp(), "cosqa");
    const stdout = await ok(["run", "--demo", "cosqa", "--out", out]);
    const task = json<SentenceTaskSummary>(join(out, "task", "summary.json"));
    expect(task).toMatchObject({ format: "codeneurons-sentence-task", dataset: "cosqa" });
    expect(task.splits.map((s) => [s.name, s.count, s.pair])).toEqual([
      ["train", 404, true],
      ["valid", 100, true],
      ["test", 100, true],
    ]);
    for (const side of ["a", "b"])
      for (const s of ["train", "valid", "test"])
        expect(existsSync(join(out, "activations", side, s, "index.json")), `${side}/${s}`).toBe(true);
    const r = json<RedundancyResults>(join(out, "redundancy", "redundancy.json"));
    expect(r.input).toMatchObject({ kind: "pair", sides: 2 });
    expect(r.totalNeurons).toBe(2 * 5 * 256);
    const run = json<RunFile>(join(out, "run.json"));
    const b = run.headline.baseline!;
    // Whatever the numbers, the claim follows the guard rail.
    expect(b.majority.test).toBe(0.5);
    if (b.clearlyAboveMajority) expect(run.headline.row).not.toBeNull();
    else {
      expect(run.headline.row).toBeNull();
      expect(stdout).toMatch(/^Warning: The oracle probe .* is not clearly above the majority-class rate/m);
      expect(stdout).not.toMatch(/can go/);
    }
    const data = json<ReportData>(join(out, "report-data.json"));
    expect(data.classMetrics?.classes.map((c) => c.support)).toEqual([50, 50]);
    expect(stdout).not.toMatch(/Explore:/);
  }, 600_000);

  /** The guard rail decides the claim, whatever the numbers: a row and "can go" only when clearly above. */
  function expectHonestHeadline(run: RunFile, stdout: string): void {
    const b = run.headline.baseline!;
    expect(run.headline.text).toMatch(/Oracle probe: .* majority-class rate /);
    if (b.clearlyAboveMajority) {
      expect(run.headline.row).not.toBeNull();
      expect(stdout).toMatch(/can go/);
    } else {
      expect(run.headline.row).toBeNull();
      expect(stdout).toMatch(/^Warning: The oracle probe .* is not clearly above the majority-class rate/m);
      expect(stdout).not.toMatch(/can go/);
    }
  }

  it("--demo devign: Devign's records, one function per row, both classes in every split", async () => {
    const out = join(tmp(), "devign");
    const stdout = await ok(["run", "--demo", "devign", "--out", out]);
    const task = json<SentenceTaskSummary>(join(out, "task", "summary.json"));
    expect(task).toMatchObject({ format: "codeneurons-sentence-task", dataset: "devign" });
    expect(task.splits.map((s) => [s.name, s.count, s.pair, s.files])).toEqual([
      ["train", 320, false, ["train.in", "train.label"]],
      ["valid", 80, false, ["valid.in", "valid.label"]],
      ["test", 80, false, ["test.in", "test.label"]],
    ]);
    for (const s of task.splits) expect(Object.keys(s.labels), s.name).toEqual(["0", "1"]);
    for (const s of ["train", "valid", "test"])
      expect(existsSync(join(out, "activations", s, "index.json")), s).toBe(true);
    const run = json<RunFile>(join(out, "run.json"));
    expect(run.config.task.kind).toBe("devign");
    expect(run.config.data.language).toBe("c");
    expect(run.headline.baseline?.majority.test).toBe(task.splits[2].labels["0"] / 80);
    expectHonestHeadline(run, stdout);
    const r = json<RedundancyResults>(join(out, "redundancy", "redundancy.json"));
    expect(r.totalNeurons).toBe(5 * 256);
    const data = json<ReportData>(join(out, "report-data.json"));
    expect(data.classMetrics?.classes.map((c) => c.support)).toEqual([
      task.splits[2].labels["0"],
      task.splits[2].labels["1"],
    ]);
  }, 600_000);

  it("--demo bigclonebench: pairs of methods by idx, two sides, both classes in every split", async () => {
    const out = join(tmp(), "bcb");
    const stdout = await ok(["run", "--demo", "bigclonebench", "--out", out]);
    const task = json<SentenceTaskSummary>(join(out, "task", "summary.json"));
    expect(task).toMatchObject({ format: "codeneurons-sentence-task", dataset: "bigclonebench" });
    expect(task.splits.map((s) => [s.name, s.count, s.pair, s.labels])).toEqual([
      ["train", 200, true, { 0: 100, 1: 100 }],
      ["valid", 50, true, { 0: 25, 1: 25 }],
      ["test", 50, true, { 0: 25, 1: 25 }],
    ]);
    for (const side of ["a", "b"])
      for (const s of ["train", "valid", "test"])
        expect(existsSync(join(out, "activations", side, s, "index.json")), `${side}/${s}`).toBe(true);
    // Each side's rows are the methods the pair file names, as data.jsonl holds them.
    const functions = new Map(
      readFileSync(join(ROOT, "demo", "bigclonebench", "data.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { func: string; idx: string })
        .map((f) => [f.idx, f.func.split(/\s+/).join(" ")]),
    );
    const pairs = readFileSync(join(ROOT, "demo", "bigclonebench", "test.txt"), "utf8")
      .trim()
      .split("\n");
    const sideA = readFileSync(join(out, "task", "test.a.in"), "utf8")
      .trim()
      .split("\n");
    const sideB = readFileSync(join(out, "task", "test.b.in"), "utf8")
      .trim()
      .split("\n");
    expect(sideA.map((line, i) => [line, sideB[i]])).toEqual(
      pairs.map((p) => p.split("\t")).map(([a, b]) => [functions.get(a), functions.get(b)]),
    );
    const r = json<RedundancyResults>(join(out, "redundancy", "redundancy.json"));
    expect(r.input).toMatchObject({ kind: "pair", sides: 2 });
    expect(r.totalNeurons).toBe(2 * 5 * 256);
    const run = json<RunFile>(join(out, "run.json"));
    expect(run.config.task.kind).toBe("bigclonebench");
    expect(run.headline.baseline?.majority.test).toBe(0.5);
    expectHonestHeadline(run, stdout);
  }, 600_000);

  it("malformed sample files: the error names the file, the line and the field, exit 2", async () => {
    // Devign: a record without its code.
    const devign = tmp();
    for (const s of ["train", "valid", "test"])
      copyFileSync(join(ROOT, "demo", "devign", `${s}.jsonl`), join(devign, `${s}.jsonl`));
    const valid = readFileSync(join(devign, "valid.jsonl"), "utf8").split("\n");
    const { func: _, ...noFunc } = JSON.parse(valid[2]) as Record<string, unknown>;
    valid[2] = JSON.stringify(noFunc);
    writeFileSync(join(devign, "valid.jsonl"), valid.join("\n"));
    const args = (kind: string, data: string) => [
      "run",
      "--kind",
      kind,
      "--data",
      data,
      "--model",
      MODEL,
      "--out",
      join(tmp(), "x"),
    ];
    let r = await cli(args("devign", devign));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${join(devign, "valid.jsonl")}:3 (field 'func'): `);

    // BigCloneBench: a pair naming a method data.jsonl lacks, then a method without its code.
    const bcb = tmp();
    for (const f of ["data.jsonl", "train.txt", "valid.txt", "test.txt"])
      copyFileSync(join(ROOT, "demo", "bigclonebench", f), join(bcb, f));
    const test = readFileSync(join(bcb, "test.txt"), "utf8").split("\n");
    test[4] = test[4].replace(/^(\d+)\t\d+/, "$1\t99999");
    writeFileSync(join(bcb, "test.txt"), test.join("\n"));
    r = await cli(args("bigclonebench", bcb));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${join(bcb, "test.txt")}:5 (field 'idx2'): idx '99999' is not in data.jsonl`);
    const data = readFileSync(join(bcb, "data.jsonl"), "utf8").split("\n");
    data[6] = JSON.stringify({ idx: (JSON.parse(data[6]) as { idx: string }).idx });
    writeFileSync(join(bcb, "data.jsonl"), data.join("\n"));
    r = await cli(args("bigclonebench", bcb));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${join(bcb, "data.jsonl")}:7 (field 'func'): `);
  }, 600_000);

  it("a task that would be empty or have one class is an error, exit 2", async () => {
    const r = await cli([
      "run",
      "--config",
      demoConfig("python"),
      "--model",
      MODEL,
      "--classes",
      "NAME,BOOL",
      "--out",
      join(tmp(), "x"),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/class BOOL has no tokens in the train split .*; its labels are NAME \(\d+\)/);
  }, 600_000);
});
