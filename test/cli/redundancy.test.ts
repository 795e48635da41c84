import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { parseFractionList } from "../../src/cli/options.js";
import { parseSteps, withDependencies } from "../../src/redundancy/pipeline/pipeline.js";
import type { RedundancyResults } from "../../src/redundancy/pipeline/results.js";
import { makeTokenTask } from "../redundancy/pipeline-helpers.js";

const exec = promisify(execFile);
const MAIN = join(import.meta.dirname, "..", "..", "src", "cli", "main.ts");
let dir = "";
let data: { store: string; task: string };

/** Runs the real CLI; resolves with the exit code and both streams (never rejects). */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, ["--import", "tsx", MAIN, ...args], {
      env: { ...process.env, CODENEURONS_QUIET: "1" },
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cn-redundancy-cli-"));
  data = await makeTokenTask(join(dir, "data"), { train: 20, valid: 6, test: 6 });
});

describe("codeneurons redundancy", () => {
  it("--help lists the options", async () => {
    const r = await cli(["redundancy", "--help"]);
    expect(r.code).toBe(0);
    for (const opt of [
      "--store",
      "--task",
      "--out",
      "--steps",
      "--thresholds",
      "--deltas",
      "--percentages",
      "--json",
    ])
      expect(r.stdout).toContain(opt);
  });

  it("runs chosen steps: --json prints the results; a rerun says everything is cached", async () => {
    const out = join(dir, "out");
    const args = ["redundancy", "--store", data.store, "--task", data.task, "--out", out];
    const first = await cli([...args, "--steps", "layerwise,ls", "--json"]);
    expect(first.code).toBe(0);
    const r = JSON.parse(first.stdout) as RedundancyResults;
    expect(runRecord(out).details.computed).toEqual(["oracle", "independent", "incremental", "ls"]);
    expect(r.summary.map((s) => s.name)).toEqual(["Oracle", "LS"]);
    expect(existsSync(join(out, "redundancy.json"))).toBe(true);
    const again = await cli([...args, "--steps", "ls"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/computed: nothing; cached: oracle, incremental, ls; 0 probes/);
    expect(again.stdout).toMatch(/^ {2}LS +\d+ +\d+\.\d\d%/m);
  });

  it("a run analyses only the --layers given and refuses one over --max-memory before reading", async () => {
    const out = join(dir, "some-layers");
    const args = [
      "redundancy",
      "--store",
      data.store,
      "--task",
      data.task,
      "--out",
      out,
      "--steps",
      "oracle",
    ];
    const some = await cli([...args, "--layers", "1-2", "--json"]);
    expect(some.code, some.stderr).toBe(0);
    const r = JSON.parse(some.stdout) as RedundancyResults;
    expect(r.input.layers).toEqual([1, 2]);
    expect(r.totalNeurons).toBe(32);
    const over = await cli([...args, "--max-memory", "0.00001"]);
    expect(over.code).toBe(2);
    expect(over.stderr).toMatch(/over the memory bound of .*--max-memory/);
  });

  it("--plan prints each step's memory and time for this store and task, running nothing", async () => {
    const out = join(dir, "planned");
    const r = await cli(["redundancy", "--store", data.store, "--task", data.task, "--plan"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^plan: 64 hidden neurons \(4 layers × 16\), \d+\/\d+\/\d+ rows, 6 classes; clustering: all$/m,
    );
    const time = String.raw`[\d.]+ (s|min|h)`;
    const mem = String.raw`\d+(\.\d GiB| MiB)`;
    // Exact where the shape fixes the work, an estimate with its range where the data decides.
    for (const step of ["cka", "oracle", "independent", "control"])
      expect(r.stdout).toMatch(new RegExp(`^  ${step} +${mem} +${time}$`, "m"));
    for (const step of ["ccfs", "random"])
      expect(r.stdout).toMatch(new RegExp(`^  ${step} +${mem} +${time}( \\(${time} – ${time}\\))?$`, "m"));
    expect(r.stdout).toMatch(new RegExp(`^  total +${mem} +${time}`, "m"));
    expect(r.stdout).toMatch(/^ {2}memory: the peak against the bound of .* GiB: fits$/m);
    // The incremental probes stop where LayerSelector's targets are reached (--curves until-target);
    // cc reuses ccfs's work when LayerSelector keeps every layer, known only after it ran.
    expect(r.stdout).toMatch(/incremental at the first prefix of layers/);
    expect(r.stdout).toMatch(/cc does nothing when it keeps every layer/);
    expect(r.stdout).toMatch(/nothing was run/);
    expect(existsSync(out)).toBe(false);
    const over = await cli([
      "redundancy",
      "--store",
      data.store,
      "--task",
      data.task,
      "--plan",
      "--max-memory",
      "0.00001",
      "--json",
    ]);
    expect(over.code).toBe(0);
    const plan = JSON.parse(over.stdout) as {
      peakBytes: number;
      boundBytes: number;
      steps: { step: string }[];
    };
    expect(plan.peakBytes).toBeGreaterThan(plan.boundBytes);
    expect(plan.steps.map((s) => s.step)).toHaveLength(12);
    // Running needs --out.
    const noOut = await cli(["redundancy", "--store", data.store, "--task", data.task]);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/--out <dir> is required \(unless --plan\)/);
  });

  it("bad input: exit 2 with one line naming the problem", async () => {
    const base = ["redundancy", "--store", data.store, "--out", join(dir, "bad")];
    const cases: [string[], RegExp][] = [
      [[...base, "--task", data.task, "--steps", "oracle,nope"], /unknown step 'nope'/],
      [[...base, "--task", dir], /is not a task directory/],
      [[...base, "--task", data.task, "--deltas", "0.01,1.5"], /deltas: 1\.5 is not in \[0, 1\)/],
      [[...base, "--task", data.task, "--percentages", "0.1,abc"], /'abc' is not a number/],
      [[...base, "--task", data.task, "--tune", "some"], /Allowed choices are oracle, all/],
      [["redundancy", "--store", join(dir, "none"), "--task", data.task, "--out", join(dir, "bad")], /none/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/internal error|at .*\.ts:\d+/);
    }
  });
});

describe("option parsing", () => {
  it("fraction lists accept fractions and percentages", () => {
    expect(parseFractionList("0.1, 0.25,1%,0.5%")).toEqual([0.1, 0.25, 0.01, 0.005]);
    expect(() => parseFractionList("")).toThrow(/comma-separated/);
    expect(() => parseFractionList("%")).toThrow(/not a number/);
  });

  it("step lists expand groups and pull in dependencies in run order", () => {
    expect(parseSteps(["layerwise", "cc"])).toEqual(["independent", "incremental", "cc"]);
    expect(parseSteps(["all"])).toHaveLength(12);
    expect(withDependencies(["lslca"])).toEqual(["oracle", "incremental", "ls", "ccfs", "lslca"]);
    expect(withDependencies(["cka"])).toEqual(["cka"]);
    expect(() => parseSteps(["LS", "x"])).toThrow(/unknown step 'x'/);
  });
});

/** The pipeline's run record (run-record.json): which steps it computed, timings. */
function runRecord(out: string): { details: { computed: string[] } } {
  return JSON.parse(readFileSync(join(out, "run-record.json"), "utf8"));
}
