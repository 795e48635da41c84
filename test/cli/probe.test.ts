import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { makeResultsDir } from "../fixtures/report/make-results.js";

/** `codeneurons probe` as installed: flags in, the stage's summary out (test/probe/stage.test.ts tests the stage). */
const run = promisify(execFile);
let dir = "";
let store = "";
let task = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cn-cli-probe-"));
  await makeResultsDir(dir);
  store = join(dir, "activations");
  task = join(dir, "task");
});

describe("codeneurons probe", () => {
  it("the installed command: --json on stdout, exit code 2 on bad input", async () => {
    const cli = ["--import", "tsx", join(import.meta.dirname, "..", "..", "src", "cli", "main.ts"), "probe"];
    const env = { ...process.env, CODENEURONS_QUIET: "1" };
    const { stdout } = await run(
      "node",
      [...cli, "--store", store, "--task", task, "--out", join(dir, "j"), "--lambda1", "0.001", "--json"],
      { env },
    );
    const summary = JSON.parse(stdout);
    expect(summary.lambda1).toBe(0.001);
    expect(summary.accuracy.test).toBeGreaterThan(0.5);
    const err = await run(
      "node",
      [...cli, "--store", store, "--task", join(dir, "nope"), "--out", join(dir, "k")],
      { env },
    ).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toMatch(/codeneurons: error: .*nope/);
  });
});
