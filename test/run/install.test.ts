import { execFile } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SentenceTaskSummary } from "../../src/data/sentence/index.js";
import type { TaskSummary } from "../../src/data/task/format.js";
import type { RunFile } from "../../src/run/format.js";

/**
 * A clean install (issue 18): the package as `npm pack` makes it from this working tree, installed by
 * `npm ci` into a fresh directory, and its `codeneurons` binary run from another directory on the
 * paper's config and shipped data, on Python token tagging and on a sentence-level pair task. This is
 * what shows that package.json's "files" ships everything a run needs (dist, models, data, demo,
 * config) and that the declared dependencies are enough: nothing of the repository is on the path.
 *
 * The build goes to the staging copy, never to the repository's dist/ (other tests run dist/ when it
 * exists). The install is offline: the temporary project gets a lockfile made from ours (the same
 * pinned versions and integrity hashes of every production dependency), so `npm ci --offline` takes
 * them from npm's cache, where `npm ci` of the repository put them.
 */
const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");
const TSC = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc");

interface PackEntry {
  filename: string;
  size: number;
  unpackedSize: number;
  integrity: string;
  files: { path: string }[];
}

interface LockEntry {
  dev?: boolean;
  [key: string]: unknown;
}

const json = <T>(file: string): T => JSON.parse(readFileSync(file, "utf8")) as T;
/** Temporary directories, removed after the tests (the installed project alone holds ~300 MB). */
const made: string[] = [];
const tmp = (name: string): string => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `cn-install-${name}-`)));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** npm with this process's environment less what an enclosing `npm test` sets for its own package. */
async function npm(args: string[], cwd: string): Promise<string> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^npm_(package_|lifecycle_|config_local_prefix)/i.test(k)),
  );
  try {
    return (await exec("npm", args, { cwd, env, maxBuffer: 64 << 20 })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`npm ${args.join(" ")} in ${cwd} failed: ${err.stderr || err.message}`);
  }
}

let pkg: string; // the installed package: APP/node_modules/codeneurons
let bin: string; // APP/node_modules/.bin/codeneurons
let packed: PackEntry;

async function installed(args: string[], cwd: string): Promise<string> {
  try {
    const r = await exec(bin, args, {
      cwd,
      env: { ...process.env, CODENEURONS_QUIET: "1" },
      maxBuffer: 64 << 20,
    });
    return r.stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`codeneurons ${args.join(" ")} failed: ${err.stderr || err.message}`);
  }
}

beforeAll(async () => {
  // 1. A staging copy of what npm would pack from this tree, with dist/ built there.
  const stage = tmp("stage");
  const list = JSON.parse(
    await npm(["pack", "--dry-run", "--json", "--ignore-scripts"], ROOT),
  ) as PackEntry[];
  for (const { path } of list[0].files) {
    if (path.startsWith("dist/")) continue; // a leftover build of the repository: built afresh below
    mkdirSync(dirname(join(stage, path)), { recursive: true });
    copyFileSync(join(ROOT, path), join(stage, path));
  }
  await exec(process.execPath, [
    TSC,
    "-p",
    join(ROOT, "tsconfig.json"),
    "--outDir",
    join(stage, "dist"),
    "--tsBuildInfoFile",
    join(tmp("tsbuildinfo"), ".tsbuildinfo"),
  ]);

  // 2. The tarball.
  const packs = tmp("tarball");
  packed = (
    JSON.parse(
      await npm(["pack", "--json", "--ignore-scripts", "--pack-destination", packs], stage),
    ) as PackEntry[]
  )[0];

  // 3. A fresh project that depends on it, locked to our lockfile's production dependencies.
  const app = tmp("app");
  copyFileSync(join(packs, packed.filename), join(app, packed.filename));
  const manifest = json<{
    version: string;
    license: string;
    dependencies: Record<string, string>;
    bin: unknown;
    engines: unknown;
  }>(join(ROOT, "package.json"));
  const dependencies = { codeneurons: `file:${packed.filename}` };
  const ours = json<{ packages: Record<string, LockEntry> }>(join(ROOT, "package-lock.json"));
  const packages: Record<string, unknown> = {
    "": { name: "app", version: "1.0.0", dependencies },
    "node_modules/codeneurons": {
      version: manifest.version,
      resolved: `file:${packed.filename}`,
      integrity: packed.integrity,
      license: manifest.license,
      dependencies: manifest.dependencies,
      bin: manifest.bin,
      engines: manifest.engines,
    },
  };
  for (const [key, entry] of Object.entries(ours.packages))
    if (key !== "" && entry.dev !== true) packages[key] = entry;
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "app", version: "1.0.0", private: true, dependencies }),
  );
  writeFileSync(
    join(app, "package-lock.json"),
    JSON.stringify({ name: "app", version: "1.0.0", lockfileVersion: 3, requires: true, packages }),
  );
  await npm(["ci", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"], app);
  pkg = join(app, "node_modules", "codeneurons");
  bin = join(app, "node_modules", ".bin", "codeneurons");
}, 600_000);

describe("codeneurons from a clean install (npm pack, npm ci into a fresh directory)", () => {
  it("the tarball holds the build, the model, the paper's data, the demos and the config, and nothing else", () => {
    const paths = packed.files.map((f) => f.path);
    for (const p of [
      "package.json",
      "README.md",
      "dist/cli/main.js",
      "dist/index.js",
      "dist/index.d.ts",
      "models/codeneurons-java-tiny/model.safetensors",
      "models/codeneurons-java-tiny/tokenizer.json",
      "data/java-token-lines/train.in",
      "data/README.md",
      "config/paper.json",
      "demo/config.json",
      "demo/cosqa/train.json",
      "demo/devign/test.jsonl",
      "demo/bigclonebench/data.jsonl",
      "demo/bigclonebench/train.txt",
    ])
      expect(paths, p).toContain(p);
    const top = new Set(paths.map((p) => p.split("/")[0]));
    expect([...top].sort()).toEqual([
      "README.md",
      "config",
      "data",
      "demo",
      "dist",
      "docs",
      "models",
      "package.json",
    ]);
    expect(paths.filter((p) => p.endsWith(".ts") && !p.endsWith(".d.ts"))).toEqual([]);
  });

  it("the library entry loads from the installed package and reads the installed model", async () => {
    const script = [
      "const m = await import('codeneurons');",
      `const c = m.readModelConfig(${JSON.stringify(join(pkg, "models", "codeneurons-java-tiny"))});`,
      "console.log(JSON.stringify([c.modelType, c.numLayers, typeof m.runLabel]));",
    ].join(" ");
    const { stdout } = await exec(process.execPath, ["--input-type=module", "-e", script], {
      cwd: dirname(dirname(pkg)),
    });
    expect(JSON.parse(stdout)).toEqual(["roberta", 4, "function"]);
  });

  it("Java: the installed config/paper.json and its shipped data, run from another directory", async () => {
    const elsewhere = tmp("java");
    const stdout = await installed(
      [
        "run",
        "--config",
        join(pkg, "config", "paper.json"),
        "--model",
        join(pkg, "models", "codeneurons-java-tiny"),
        "--caps",
        "60,20,20",
        "--out",
        "results",
      ],
      elsewhere,
    );
    expect(stdout).toMatch(/can go|Closest/);
    const out = join(elsewhere, "results");
    const run = json<RunFile>(join(out, "run.json"));
    expect(run.config.data.train).toBe(join(pkg, "data", "java-token-lines", "train.in"));
    const summary = json<TaskSummary>(join(out, "task", "summary.json"));
    expect(summary.totals).toEqual({ train: 360, valid: 120, test: 120 });
    expect(run.headline.baseline?.majority.test).toBeCloseTo(1 / 6, 12);
    expect(run.headline.text).toMatch(/majority-class rate 16\.7% test/);
    expect(existsSync(join(out, "report", "index.html"))).toBe(true);
  }, 600_000);

  it("Python token tagging on the installed sample", async () => {
    const elsewhere = tmp("python");
    // The python demo's data and model from the installed package, fewer redundancy steps to keep it short.
    writeFileSync(
      join(elsewhere, "python.json"),
      JSON.stringify({
        model: join(pkg, "models", "codeneurons-java-tiny"),
        data: {
          language: "python",
          field: "code",
          ...Object.fromEntries(
            ["train", "valid", "test"].map((s) => [s, join(pkg, "demo", "cosqa", `${s}.json`)]),
          ),
        },
        task: { seed: 1, caps: [200, 60, 60] },
        redundancy: { steps: ["oracle", "independent", "lca", "control"] },
      }),
    );
    await installed(["run", "--config", "python.json", "--out", "py"], elsewhere);
    const summary = json<TaskSummary>(join(elsewhere, "py", "task", "summary.json"));
    expect(summary.classes).toEqual(["NAME", "KEYWORD", "NUMBER", "STRING"]);
    expect(summary.totals.train).toBe(4 * 200);
    const run = json<RunFile>(join(elsewhere, "py", "run.json"));
    expect(run.config.data.train).toBe(join(pkg, "demo", "cosqa", "train.json"));
    expect(run.headline.baseline?.rows.test).toBe(summary.totals.test);
    expect(run.headline.text).toMatch(/Oracle probe: .* majority-class rate /);
  }, 600_000);

  it("a sentence-level pair task: the installed --demo cosqa", async () => {
    const elsewhere = tmp("cosqa");
    const stdout = await installed(["run", "--demo", "cosqa"], elsewhere);
    const out = join(elsewhere, "demo-results-cosqa");
    const task = json<SentenceTaskSummary>(join(out, "task", "summary.json"));
    expect(task.splits.map((s) => [s.name, s.count, s.pair])).toEqual([
      ["train", 404, true],
      ["valid", 100, true],
      ["test", 100, true],
    ]);
    const run = json<RunFile>(join(out, "run.json"));
    expect(run.config.data.train).toBe(join(pkg, "demo", "cosqa", "train.json"));
    expect(run.headline.text).toMatch(/Oracle probe: .* majority-class rate 50\.0% test/);
    if (!run.headline.baseline?.clearlyAboveMajority) expect(stdout).not.toMatch(/can go/);
  }, 600_000);
});
