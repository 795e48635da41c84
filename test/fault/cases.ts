import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { basename, join, relative, sep } from "node:path";
import type { ZodType } from "zod";
import { runConcepts } from "../../src/concepts/stage.js";
import { SPLITS, type SplitName } from "../../src/data/splits.js";
import { parseTaskSummary } from "../../src/data/task/format.js";
import { FILE_FORMATS } from "../../src/index.js";
import { parseProbeFile } from "../../src/probe/format.js";
import { runRedundancyPipeline } from "../../src/redundancy/pipeline/pipeline.js";
import { parseRedundancyResults } from "../../src/redundancy/pipeline/results.js";
import { readReportData } from "../../src/report/read.js";
import { layoutOf, taskStage } from "../../src/run/stages.js";
import { readConceptsFile } from "../../src/serve/concepts-file.js";
import { ExplorerData } from "../../src/serve/data.js";
import { ResultsRoot } from "../../src/serve/files.js";
import { ActivationStore, exportNeuroxJson } from "../../src/store/index.js";
import { type JsonReader, readJsonFile } from "../../src/util/json.js";
import { Rng } from "../../src/util/rng.js";
import { extractSplit, type Fixture, probe, redundancyArgs } from "./fixture.js";
import { FAULT_KINDS, type FaultKind, injectFault, runCase, sha256, type Tally } from "./harness.js";

/**
 * The file cases: every file of the fixture's stores, of its redundancy cache and of the rest of its
 * results directory, damaged each way (harness.ts FAULT_KINDS), then read again by each command that
 * reads it. Each (file, fault, command) is one case. `flips`: bit flips per file (at seeded places).
 */
export interface FileCaseOptions {
  flips: number;
  /** Run the probe stage over every split's damaged store, not only train's. */
  probeAllSplits: boolean;
  seed: number;
}

export function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out;
}

/** Fault kinds with the flip repeated `flips` times. */
function faults(flips: number): FaultKind[] {
  return FAULT_KINDS.flatMap((k) => (k === "flip" ? Array<FaultKind>(flips).fill("flip") : [k]));
}

/** A results-relative name with forward slashes. */
const rel = (base: string, path: string) => relative(base, path).split(sep).join("/");

/** What a command wrote, with the case's directory taken out of it and wall-clock fields dropped. */
function normalized(text: string, dir: string): string {
  const json = JSON.parse(text.split(dir).join("<DIR>"));
  return JSON.stringify(json, (k, v: unknown) =>
    k === "seconds" || k === "createdAt" || k === "run" ? undefined : v,
  );
}

/** A working copy: `copy` subfolders (and the files) copied from the clean directory, the others linked to it. */
function workDir(f: Fixture, dir: string, copy: string[]): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(f.base)) {
    // Files of the top level are copied too: only folders no case writes to are shared.
    const shared = !copy.includes(name) && statSync(join(f.base, name)).isDirectory();
    if (shared) symlinkSync(join(f.base, name), join(dir, name));
    else cpSync(join(f.base, name), join(dir, name), { recursive: true });
  }
  return dir;
}

// ---- what each command produced ----

async function readStore(dir: string, verify?: "size"): Promise<string> {
  const store = await ActivationStore.open(dir, verify ? { verify } : {});
  try {
    const rows = Array.from({ length: store.meta.numRows }, (_, i) => i);
    const m = await store.readRows(rows);
    const words = Array.from({ length: store.numLines }, (_, l) => store.words(l).join(" ")).join("\n");
    const labels = Array.from({ length: store.numLines }, (_, l) => (store.labels(l) ?? []).join(" ")).join(
      "\n",
    );
    return sha256(new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength), words, labels);
  } finally {
    store.close();
  }
}

async function exportStore(dir: string, out: string): Promise<string> {
  const store = await ActivationStore.open(dir);
  try {
    await exportNeuroxJson(store, out, { quiet: true });
    return sha256(readFileSync(out));
  } finally {
    store.close();
  }
}

async function probeOutputs(dir: string): Promise<string> {
  const out = join(dir, "probe-check");
  await probe(dir, out);
  return ["probe.json", "metrics.json", "rankings.json"]
    .map((name) => normalized(readFileSync(join(out, name), "utf8"), dir))
    .join("\n");
}

async function redundancyOutputs(f: Fixture, dir: string): Promise<string> {
  await runRedundancyPipeline(...redundancyArgs(dir, f.cfg));
  return normalized(readFileSync(join(layoutOf(dir).redundancy, "redundancy.json"), "utf8"), dir);
}

async function taskOutputs(f: Fixture, dir: string): Promise<string> {
  const layout = layoutOf(dir);
  await taskStage(f.cfg, layout);
  return listFiles(layout.task)
    .map(
      (p) =>
        `${rel(dir, p)}:${p.endsWith(".json") ? normalized(readFileSync(p, "utf8"), dir) : sha256(readFileSync(p))}`,
    )
    .join("\n");
}

/** `codeneurons concepts` as `run` calls it. */
async function conceptsOutputs(f: Fixture, dir: string): Promise<string> {
  const layout = layoutOf(dir);
  await runConcepts({
    store: layout.store("train"),
    probe: join(layout.probe, "probe.json"),
    site: f.cfg.site,
    task: layout.task,
    splits: ["train"],
    out: layout.concepts,
    percentage: f.cfg.concepts.percentage,
    quiet: true,
  });
  return normalized(readFileSync(join(layout.concepts, "concepts.json"), "utf8"), dir);
}

async function explorerMeta(dir: string): Promise<string> {
  const data = await ExplorerData.open(new ResultsRoot(dir));
  try {
    const meta = data.meta();
    const first = data.neurons({ layer: meta.layers[0] }).neurons.slice(0, 3);
    return JSON.stringify([
      meta,
      await Promise.all(first.map((n) => data.neuron({ site: n.site, id: n.id }))),
    ]);
  } finally {
    data.close();
  }
}

/**
 * A results JSON read back by the reader the library has for it: the readers of every version where
 * there are (probe.json, redundancy.json, concepts.json, report-data.json, task summary), else the
 * published schema of its file name (FILE_FORMATS).
 */
const READERS: Record<string, JsonReader<unknown>> = {
  "probe.json": parseProbeFile,
  "redundancy.json": parseRedundancyResults,
  "summary.json": parseTaskSummary,
};

export async function readResultsJson(path: string): Promise<string> {
  const name = basename(path);
  if (name === "concepts.json") return JSON.stringify(await readConceptsFile(path));
  if (name === "report-data.json") return JSON.stringify(await readReportData(path));
  const reader =
    READERS[name] ??
    (FILE_FORMATS.find((x) => basename(x.file) === name)?.schema as ZodType<unknown> | undefined);
  if (!reader) throw new Error(`no reader for ${path}`);
  return JSON.stringify(await readJsonFile(path, reader));
}

// ---- the cases ----

/** Reading `file` back with its format's reader (a consumer per file: its clean result is its own). */
function readBack(f: Fixture, file: string): Consumer {
  const name = rel(f.base, file);
  return { name: `read back ${name}`, run: (dir) => readResultsJson(join(dir, name)) };
}

interface Consumer {
  name: string;
  /** Whether the command may change the directory (it runs after the others on the same damage). */
  repairs?: boolean;
  run(dir: string): Promise<string>;
}

/**
 * Damages each file under `sub` (relative to the results directory) in each way and runs each
 * consumer over the damaged copy; `copy` are the subfolders the case gets its own copy of.
 */
async function fileCases(
  f: Fixture,
  tally: Tally,
  o: {
    group: string;
    sub: string;
    copy: string[];
    work: string;
    files?: (path: string) => boolean;
    editable: boolean;
    consumers: (file: string, kind?: FaultKind) => Consumer[];
    /** The file a "replace" puts in place of `file`. */
    replacement: (file: string) => string | undefined;
    flips: number;
    seed: number;
  },
): Promise<void> {
  const rng = new Rng(o.seed);
  const files = listFiles(join(f.base, o.sub)).filter((p) => o.files?.(p) ?? true);
  const clean = new Map<string, string>();
  for (const file of files) {
    const consumers = o.consumers(file);
    for (const c of consumers) {
      if (clean.has(c.name)) continue;
      const dir = workDir(f, `${o.work}-clean`, o.copy);
      clean.set(c.name, await c.run(dir));
    }
    for (const kind of faults(o.flips)) {
      const dir = workDir(f, o.work, o.copy);
      const target = join(dir, rel(f.base, file));
      const replacement = o.replacement(file);
      const what = injectFault(target, kind, rng, replacement && join(dir, rel(f.base, replacement)));
      const these = o.consumers(file, kind);
      const ordered = [...these.filter((c) => !c.repairs), ...these.filter((c) => c.repairs)];
      for (const c of ordered) {
        const r = await runCase(() => c.run(dir), clean.get(c.name)!, o.editable);
        tally.add({ group: o.group, name: `${rel(f.base, file)}: ${what}: ${c.name}`, ...r });
      }
    }
  }
}

/** The same relative file in another split's store, else the next file of the same store. */
function storeReplacement(f: Fixture, file: string): string | undefined {
  const r = rel(join(f.base, "activations"), file);
  const [split, ...rest] = r.split("/");
  const other = SPLITS[(SPLITS.indexOf(split as SplitName) + 1) % SPLITS.length];
  const same = join(f.base, "activations", other, ...rest);
  if (existsSync(same)) return same;
  const siblings = listFiles(join(f.base, "activations", split)).filter((p) => p !== file);
  return siblings[0];
}

/** The next file (in sorted order) of the same folder, else of the same tree. */
function siblingReplacement(f: Fixture, file: string, sub: string): string | undefined {
  const all = listFiles(join(f.base, sub));
  const i = all.indexOf(file);
  return all.length > 1 ? all[(i + 1) % all.length] : undefined;
}

export async function storeCases(f: Fixture, tally: Tally, root: string, o: FileCaseOptions): Promise<void> {
  for (const split of SPLITS) {
    const store = (dir: string) => layoutOf(dir).store(split);
    await fileCases(f, tally, {
      group: "store",
      sub: join("activations", split),
      copy: ["activations"],
      work: join(root, `store-${split}`),
      editable: false,
      flips: o.flips,
      seed: o.seed + SPLITS.indexOf(split),
      replacement: (file) => storeReplacement(f, file),
      consumers: (file, kind) => [
        { name: `read ${split}`, run: (dir: string) => readStore(store(dir)) },
        // CODENEURONS_VERIFY=size skips the hash by design: a flipped bit of shard data then reads as
        // data. Its cases are the other faults (sizes, missing files, every other file).
        ...(kind === "flip" && file.endsWith(".safetensors")
          ? []
          : [
              {
                name: `read ${split} (CODENEURONS_VERIFY=size)`,
                run: (dir: string) => readStore(store(dir), "size"),
              },
            ]),
        { name: `export ${split}`, run: (dir) => exportStore(store(dir), join(dir, "export.json")) },
        ...(o.probeAllSplits || split === "train"
          ? [{ name: `probe over ${split}`, run: (dir: string) => probeOutputs(dir) }]
          : []),
        {
          name: `extract ${split} again (resume)`,
          repairs: true,
          run: async (dir: string) => {
            await extractSplit(f, store(dir), split);
            return readStore(store(dir));
          },
        },
      ],
    });
  }
}

export async function cacheCases(f: Fixture, tally: Tally, root: string, o: FileCaseOptions): Promise<void> {
  await fileCases(f, tally, {
    group: "cache",
    sub: join("redundancy", "cache"),
    copy: ["redundancy"],
    work: join(root, "cache"),
    editable: false,
    flips: o.flips,
    seed: o.seed + 10,
    replacement: (file) => siblingReplacement(f, file, join("redundancy", "cache")),
    consumers: () => [{ name: "redundancy again", repairs: true, run: (dir) => redundancyOutputs(f, dir) }],
  });
}

/**
 * Files of the results directory outside the stores and the cache, each read by the commands that
 * read it: data/ by `task`, task/ by `probe`, probe.json by `concepts`, concepts.json by the explorer,
 * and every results JSON by the reader of its format. These are files people may write themselves.
 * Not read by any command, so not damaged here: task/wordlists/*.txt (a copy for people of
 * wordlists.json).
 */
export async function resultsCases(
  f: Fixture,
  tally: Tally,
  root: string,
  o: FileCaseOptions,
): Promise<void> {
  const common = { group: "results", editable: true, flips: o.flips };
  await fileCases(f, tally, {
    ...common,
    sub: "data",
    copy: ["data", "task"],
    work: join(root, "results-data"),
    seed: o.seed + 20,
    files: (p) => !p.endsWith(".meta.json"),
    replacement: (file) => siblingReplacement(f, file, "data"),
    consumers: () => [{ name: "task again", repairs: true, run: (dir) => taskOutputs(f, dir) }],
  });
  await fileCases(f, tally, {
    ...common,
    sub: "task",
    copy: ["task", "concepts"],
    work: join(root, "results-task"),
    seed: o.seed + 21,
    files: (p) => !p.includes(`${sep}wordlists${sep}`),
    replacement: (file) => siblingReplacement(f, file, "task"),
    consumers: (file) => [
      ...(file.endsWith(".json") ? [readBack(f, file)] : []),
      { name: "probe", run: (dir: string) => probeOutputs(dir) },
      // The concept analysis reads the train split on its own (with the summary beside it).
      ...(["train.tsv", "summary.json"].includes(basename(file))
        ? [{ name: "concepts", repairs: true, run: (dir: string) => conceptsOutputs(f, dir) }]
        : []),
    ],
  });
  await fileCases(f, tally, {
    ...common,
    sub: "probe",
    copy: ["probe", "concepts"],
    work: join(root, "results-probe"),
    seed: o.seed + 22,
    replacement: (file) => siblingReplacement(f, file, "probe"),
    consumers: (file) => [
      readBack(f, file),
      ...(file.endsWith("probe.json")
        ? [{ name: "concepts", repairs: true, run: (dir: string) => conceptsOutputs(f, dir) }]
        : []),
    ],
  });
  for (const sub of ["concepts", "redundancy"]) {
    await fileCases(f, tally, {
      ...common,
      sub,
      // The explorer reads the store too, and only inside the results directory: a copy, not a link.
      copy: [sub, ...(sub === "concepts" ? ["activations"] : [])],
      work: join(root, `results-${sub}`),
      seed: o.seed + 23,
      files: (p) => !p.includes(`${sep}cache${sep}`),
      replacement: (file) => siblingReplacement(f, file, sub),
      consumers: (file) => [
        readBack(f, file),
        ...(file.endsWith("concepts.json")
          ? [{ name: "explorer", run: (dir: string) => explorerMeta(dir) }]
          : []),
      ],
    });
  }
  await fileCases(f, tally, {
    ...common,
    sub: ".",
    copy: [],
    work: join(root, "results-top"),
    seed: o.seed + 24,
    files: (p) => rel(f.base, p) === "report-data.json",
    replacement: () => join(f.base, "probe", "metrics.json"),
    consumers: (file) => [readBack(f, file)],
  });
}
