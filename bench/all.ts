/**
 * `npm run bench`: every benchmark (bench:* scripts) in sequence, then bench/RESULTS.md, a table of
 * each figure beside its baseline from the same run. Baselines need Debian's python3-torch, -numpy,
 * -scipy and -sklearn; when they are missing and apt-get is usable (root), they are installed first,
 * otherwise the baselines print `baseline=skipped`.
 * Usage: npm run bench [-- --only extract,probe] [-- --table-only]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeFileAtomic } from "../src/util/atomic.js";
import { BENCH_DIR, pythonHas, RESULTS_FILE } from "./common.js";

const MODULES = ["torch", "numpy", "scipy", "sklearn"];
// libopenblas0-pthread: without it Debian's torch and numpy fall back to the reference BLAS, about 20×
// slower, which would flatter us.
const PACKAGES = [
  "python3-torch",
  "python3-numpy",
  "python3-scipy",
  "python3-sklearn",
  "libopenblas0-pthread",
];

const { values: args } = parseArgs({
  options: { only: { type: "string" }, "table-only": { type: "boolean" } },
});

function ensurePythonBaselines(): void {
  if (pythonHas(MODULES) && existsSync("/usr/lib/x86_64-linux-gnu/openblas-pthread")) return;
  const root = process.getuid?.() === 0;
  let hasApt = false;
  try {
    execFileSync("apt-get", ["--version"], { stdio: "ignore" });
    hasApt = true;
  } catch {}
  if (!hasApt || !root) {
    process.stderr.write(
      `bench: ${PACKAGES.join(", ")} missing and apt-get unusable (${hasApt ? "not root" : "no apt-get"}): baselines will be skipped\n`,
    );
    return;
  }
  process.stderr.write(`bench: installing ${PACKAGES.join(" ")} with apt-get for the baselines\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  spawnSync("apt-get", ["install", "-y", "-qq", ...PACKAGES], { stdio: "inherit", env });
}

function benchScripts(): string[] {
  const pkg = JSON.parse(readFileSync(join(BENCH_DIR, "..", "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  const all = Object.keys(pkg.scripts).filter((k) => k.startsWith("bench:"));
  const only = args.only?.split(",").map((s) => `bench:${s.trim()}`);
  return only ? all.filter((k) => only.includes(k)) : all;
}

interface ResultRecord {
  name: string;
  date: string;
  commit?: string;
  lines?: string[];
  line?: string;
  machine?: Record<string, unknown>;
}

/** Parses `BENCH name ours=… baseline=… ratio=… k=v …` into its fields. */
function parseBenchLine(line: string): { name: string; fields: Record<string, string> } | null {
  const parts = line.trim().split(/\s+/);
  if (parts[0] !== "BENCH" || parts.length < 3) return null;
  const fields: Record<string, string> = {};
  for (const p of parts.slice(2)) {
    const eq = p.indexOf("=");
    if (eq > 0) fields[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return { name: parts[1], fields };
}

/** The newest BENCH line of every benchmark figure in results.json, as a Markdown table. */
export function resultsTable(records: ResultRecord[]): string {
  const latest = new Map<
    string,
    { fields: Record<string, string>; date: string; commit: string; load: string }
  >();
  for (const r of records) {
    for (const line of [...(r.lines ?? []), ...(r.line ? [r.line] : [])]) {
      const parsed = parseBenchLine(line);
      if (!parsed) continue;
      const load =
        r.machine && typeof r.machine.load1 === "number" ? (r.machine.load1 as number).toFixed(1) : "";
      latest.set(parsed.name, {
        fields: parsed.fields,
        date: r.date.slice(0, 16).replace("T", " "),
        commit: r.commit ?? "",
        load,
      });
    }
  }
  const rows = [...latest].sort((a, b) => a[0].localeCompare(b[0]));
  const out = [
    "# Benchmark results",
    "",
    `Machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? "unknown CPU"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB. ` +
      "Times are medians in seconds; ratio = baseline / ours (above 1: we are faster). Each row is the newest run of " +
      "that benchmark in bench/results.json; ours and its baseline always come from the same run. Regenerate with `npm run bench`.",
    "",
    "| benchmark | ours (s) | baseline (s) | ratio | details | run (UTC) | commit | load |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const [name, { fields, date, commit, load }] of rows) {
    const { ours, baseline, ratio, ...rest } = fields;
    const details = Object.entries(rest)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ");
    out.push(
      `| ${name} | ${ours ?? ""} | ${baseline ?? ""} | ${ratio ?? "–"} | ${details} | ${date} | ${commit} | ${load} |`,
    );
  }
  return `${out.join("\n")}\n`;
}

/**
 * The sections written by hand below the generated table (from the first `## ` heading on: e.g.
 * "Design choices", the measurements that source comments cite), kept when the table is regenerated.
 */
function handWrittenSections(): string {
  let text = "";
  try {
    text = readFileSync(join(BENCH_DIR, "RESULTS.md"), "utf8");
  } catch {
    return "";
  }
  const at = text.search(/^## /m);
  return at < 0 ? "" : `\n${text.slice(at)}`;
}

async function main(): Promise<void> {
  if (!args["table-only"]) {
    ensurePythonBaselines();
    for (const script of benchScripts()) {
      process.stderr.write(`\n=== npm run ${script}\n`);
      const r = spawnSync("npm", ["run", "--silent", script], { stdio: "inherit" });
      if (r.status !== 0) process.stderr.write(`bench: ${script} failed (exit ${r.status}); continuing\n`);
    }
  }
  let records: ResultRecord[] = [];
  try {
    records = JSON.parse(readFileSync(RESULTS_FILE, "utf8")) as ResultRecord[];
  } catch {
    process.stderr.write(`bench: no readable ${RESULTS_FILE}\n`);
  }
  const table = resultsTable(records);
  await writeFileAtomic(join(BENCH_DIR, "RESULTS.md"), table + handWrittenSections());
  process.stdout.write(table);
}

await main();
