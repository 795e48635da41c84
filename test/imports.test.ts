import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The house rule "one stage per folder, data flowing one way" (docs/DESIGN.md, "Pipeline and layout"),
 * as a check: a folder of src/ may import only from folders below it in LAYERS (or from itself). Data
 * flows corpus → labels → activations → probes/rankings → redundancy/concepts → report; serve, run and
 * cli sit on top, and only cli/ may load commander. Folders on one row are peers: they may not import
 * each other either, so that each can be understood (and tested) without the other.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["util"],
  ["onnx"],
  ["linalg"],
  ["data"],
  ["model"],
  ["store"],
  ["extract"],
  ["rank"],
  ["probe"],
  ["redundancy", "concepts"],
  ["intervene", "compress", "latent"],
  ["report"],
  ["serve"],
  ["run"],
  ["cli"],
];

/** src/index.ts (the library) may export any stage, but not the command line or `codeneurons run`. */
const LIBRARY_MAY_NOT_IMPORT = ["cli", "run"];

const ROOT = resolve(import.meta.dirname, "..");
const SRC = join(ROOT, "src");

interface Import {
  /** Importing file, relative to src/ with forward slashes. */
  from: string;
  /** The module named: a path relative to src/, or a package name when `package` is set. */
  to: string;
  package?: boolean;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Static imports and re-exports (type-only ones too: a type is a dependency) and dynamic import(). */
const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm;

function importsOf(file: string): Import[] {
  const text = readFileSync(file, "utf8");
  const from = relative(SRC, file).split(sep).join("/");
  const out: Import[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1];
    if (!spec.startsWith(".")) out.push({ from, to: spec, package: true });
    else
      out.push({
        from,
        to: relative(SRC, resolve(dirname(file), spec))
          .split(sep)
          .join("/"),
      });
  }
  return out;
}

/** The top folder of a path under src/ ("index" for src/index.ts). */
function folderOf(path: string): string {
  const i = path.indexOf("/");
  return i < 0 ? path.replace(/\.[jt]s$/, "") : path.slice(0, i);
}

function rankOf(folder: string): number {
  return LAYERS.findIndex((row) => row.includes(folder));
}

/** Every import that runs against the layering, as "from → to: why". */
function backwardImports(imports: readonly Import[]): string[] {
  const out: string[] = [];
  for (const { from, to, package: isPackage } of imports) {
    const source = folderOf(from);
    if (isPackage) {
      // Only the command line parses flags.
      if (to === "commander" && source !== "cli")
        out.push(`${from} → commander: only cli/ may load commander`);
      continue;
    }
    const target = folderOf(to);
    if (target === source) continue;
    if (source === "index") {
      if (LIBRARY_MAY_NOT_IMPORT.includes(target))
        out.push(`${from} → ${to}: the library does not export ${target}/`);
      continue;
    }
    const a = rankOf(source);
    const b = rankOf(target);
    if (a < 0) out.push(`${from}: folder ${source}/ is not in the layering (test/imports.test.ts)`);
    else if (b < 0) out.push(`${from} → ${to}: folder ${target}/ is not in the layering`);
    else if (b >= a)
      out.push(
        `${from} → ${to}: ${source}/ may not import ${target}/ (${b === a ? "peers" : "it runs backwards"})`,
      );
  }
  return out;
}

describe("imports run one way (issue 16, item 1)", () => {
  it("no folder of src/ imports a folder above it, and only cli/ loads commander", () => {
    const imports = sourceFiles(SRC).flatMap(importsOf);
    expect(imports.length).toBeGreaterThan(100);
    expect(backwardImports(imports)).toEqual([]);
  });

  it("the check catches an import that runs backwards", () => {
    expect(backwardImports([{ from: "data/task/build.ts", to: "probe/stage.js" }])).toHaveLength(1);
    expect(backwardImports([{ from: "probe/stage.ts", to: "cli/common.js" }])).toHaveLength(1);
    expect(backwardImports([{ from: "report/html.ts", to: "run/run.js" }])).toHaveLength(1);
    expect(backwardImports([{ from: "concepts/stage.ts", to: "redundancy/cka.js" }])).toHaveLength(1);
    expect(backwardImports([{ from: "index.ts", to: "cli/main.js" }])).toHaveLength(1);
    expect(backwardImports([{ from: "redundancy/cka.ts", to: "commander", package: true }])).toHaveLength(1);
    expect(backwardImports([{ from: "run/run.ts", to: "probe/stage.js" }])).toEqual([]);
    expect(backwardImports([{ from: "cli/run.ts", to: "run/run.js" }])).toEqual([]);
    expect(backwardImports([{ from: "probe/stage.ts", to: "node:fs", package: true }])).toEqual([]);
  });
});
