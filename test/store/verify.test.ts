import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { extractActivations } from "../../src/extract/extract.js";
import { openActivationModel } from "../../src/extract/model.js";
import { ActivationStore, exportNeuroxJson, importNeuroxJson, mergeStores } from "../../src/store/index.js";
import { forgetVerifiedFiles } from "../../src/store/verify.js";
import { InputError, UserError } from "../../src/util/errors.js";

/**
 * Issue 17, findings 1, 3, 4 and 5: a store's readers verify what they read, a resume re-checks what it
 * reuses, import refuses values the store cannot hold, --overwrite deletes only a store, a damaged
 * plan.json names its recovery. Small stores of tiny-bert (two shards) and of NeuroX JSON.
 */
const ROOT = join(import.meta.dirname, "..", "..");
const MODEL = join(ROOT, "test/fixtures/models/tiny-bert");
const LINES = ["public int x = 1 ;", "return x ;", "if ( a ) { b ( ) ; }", "", "int y = x + 2 ;", "x = y ;"];

let work = "";
let input = "";
let clean = "";
let model: Awaited<ReturnType<typeof openActivationModel>>;

/** Extracts LINES into `out` (two lines a shard); what `extract --shard-bytes 800` does. */
function extract(out: string, opts: { overwrite?: boolean } = {}) {
  return extractActivations(model, { input, out, shardBytes: 800, quiet: true, ...opts });
}

/** Everything a reader gets from a store: values, words, labels. */
async function contents(dir: string): Promise<{ values: number[]; words: string[][] }> {
  const store = await ActivationStore.open(dir);
  try {
    const m = await store.readRows(Array.from({ length: store.meta.numRows }, (_, i) => i));
    return {
      values: Array.from(m.data),
      words: Array.from({ length: store.numLines }, (_, l) => store.words(l)),
    };
  } finally {
    store.close();
  }
}

function copyOf(name: string): string {
  const dir = join(work, name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(clean, dir, { recursive: true });
  return dir;
}

const shard = (dir: string, id = 1) => join(dir, "shards", `${String(id).padStart(5, "0")}.safetensors`);

function flipByte(file: string, at: number): void {
  const bytes = readFileSync(file);
  bytes[at] ^= 0x40;
  writeFileSync(file, bytes);
}

/** A byte inside the last tensor's data, far from the header. */
const dataByte = (file: string) => readFileSync(file).length - 9;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "cn-verify-"));
  input = join(work, "in.txt");
  writeFileSync(input, `${LINES.join("\n")}\n`);
  model = await openActivationModel(MODEL);
  clean = join(work, "clean");
  await extract(clean);
  expect(readdirSync(join(clean, "shards")).filter((f) => f.endsWith(".safetensors")).length).toBeGreaterThan(
    2,
  );
});

afterAll(async () => {
  await model?.release();
  rmSync(work, { recursive: true, force: true });
});

beforeEach(() => forgetVerifiedFiles());

describe("finding 1: a damaged shard is never trusted", () => {
  for (const damage of ["truncated", "byte-flipped"] as const) {
    it(`a ${damage} shard with index.json deleted: extract names it, recomputes it, and the store is the clean one`, async () => {
      const dir = copyOf(`resume-${damage}`);
      if (damage === "truncated") truncateSync(shard(dir), 100);
      else flipByte(shard(dir), dataByte(shard(dir)));
      rmSync(join(dir, "index.json"));
      const warnings: string[] = [];
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((s: string) => warnings.push(String(s)) > 0) as typeof process.stderr.write;
      let result: Awaited<ReturnType<typeof extract>>;
      try {
        result = await extract(dir);
      } finally {
        process.stderr.write = write;
      }
      expect(result.shardsComputed).toBe(1);
      expect(warnings.join("")).toContain(shard(dir));
      expect(warnings.join("")).toMatch(/recomputing this shard/);
      expect(await contents(dir)).toEqual(await contents(clean));
    });
  }

  it("readers (read, export, merge) of a byte-flipped shard: an error naming the shard and the repair", async () => {
    const dir = copyOf("flipped");
    flipByte(shard(dir), dataByte(shard(dir)));
    const store = await ActivationStore.open(dir);
    try {
      const rows = Array.from({ length: store.meta.numRows }, (_, i) => i);
      await expect(store.readRows(rows)).rejects.toThrow(InputError);
      forgetVerifiedFiles();
      const err = await exportNeuroxJson(store, join(work, "flipped.json"), { quiet: true }).catch((e) => e);
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toContain(shard(dir));
      expect(err.message).toMatch(/SHA-256/);
      // The repair: the extract command that wrote the store.
      expect(err.message).toMatch(/codeneurons extract .*--input .*in\.txt/);
    } finally {
      store.close();
    }
    await expect(mergeStores([dir], join(work, "merged"), {})).rejects.toThrow(UserError);
  });

  it("a truncated or missing shard is refused at open, also with CODENEURONS_VERIFY=size", async () => {
    for (const [name, damage] of [
      ["short", (p: string) => truncateSync(p, 200)],
      ["gone", (p: string) => rmSync(p)],
    ] as const) {
      const dir = copyOf(name);
      damage(shard(dir));
      for (const verify of ["hash", "size"] as const) {
        const err = await ActivationStore.open(dir, { verify }).catch((e) => e);
        expect(err, `${name} ${verify}`).toBeInstanceOf(InputError);
        expect(err.message).toContain(shard(dir));
      }
    }
  });
});

describe("finding 3: import refuses values the store cannot hold", () => {
  const line = (v: string) =>
    `{"linex_index": 0, "features": [{"token": "a", "layers": [{"index": 2, "values": [0.25, 0.5]}]}, {"token": "bc", "layers": [{"index": 2, "values": [0.5, ${v}]}]}]}\n`;
  for (const [value, dtype, shown] of [
    ["1e300", "float32", "1e+300"],
    ["70000", "float16", "70000"],
    ["-1e39", "float32", "-1e+39"],
  ] as const) {
    it(`${value} into ${dtype}: an error naming file, line, token, layer, unit and value`, async () => {
      const file = join(work, `big-${value}.json`);
      writeFileSync(file, line(value));
      const err = await importNeuroxJson({
        inputs: [file],
        out: join(work, `big-${value}`),
        dtype,
        quiet: true,
      }).catch((e) => e);
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toContain(`${file}:1`);
      expect(err.message).toContain(
        `value ${shown} (token 2 'bc', layer 2, unit 1) does not fit in ${dtype}`,
      );
      expect(existsSync(join(work, `big-${value}`, "index.json"))).toBe(false);
    });
  }

  it("NaN and Infinity (Python's json writes them) are errors naming file and line", async () => {
    for (const v of ["NaN", "Infinity", "-Infinity"]) {
      const file = join(work, `nan-${v}.json`);
      writeFileSync(file, line(v));
      const err = await importNeuroxJson({ inputs: [file], out: join(work, `nan-${v}`), quiet: true }).catch(
        (e) => e,
      );
      expect(err, v).toBeInstanceOf(InputError);
      expect(err.message).toContain(`${file}:1`);
    }
  });

  it("a value within float16 (65504) imports and reads back", async () => {
    const file = join(work, "edge.json");
    writeFileSync(file, line("65504"));
    await importNeuroxJson({ inputs: [file], out: join(work, "edge"), dtype: "float16", quiet: true });
    expect((await contents(join(work, "edge"))).values).toContain(65504);
  });
});

describe("finding 4: --overwrite deletes only a store, never the input", () => {
  it("a directory that is not a store is refused and left as it was", async () => {
    const dir = join(work, "notes");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "todo.txt"), "keep\n");
    const err = await extract(dir, { overwrite: true }).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/is not an activation store \(it holds 'todo.txt'\).*nothing was deleted/);
    expect(readFileSync(join(dir, "todo.txt"), "utf8")).toBe("keep\n");
    // Without --overwrite the message does not suggest it.
    const plain = await extract(dir).catch((e) => e);
    expect(plain.message).not.toMatch(/--overwrite/);
  });

  it("a store holding the input file is refused, with or without --overwrite; the input stays", async () => {
    const dir = copyOf("holds-input");
    const inside = join(dir, "in.txt");
    writeFileSync(inside, `${LINES.join("\n")}\n`);
    for (const overwrite of [true, false]) {
      const err = await extractActivations(model, { input: inside, out: dir, overwrite, quiet: true }).catch(
        (e) => e,
      );
      expect(err, `overwrite ${overwrite}`).toBeInstanceOf(InputError);
      expect(existsSync(inside)).toBe(true);
    }
  });

  it("--out . --overwrite replaces the store in the working directory (the CLI)", () => {
    const dir = copyOf("dot");
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        // Resolved here: tsx is not found from the store's directory.
        import.meta.resolve("tsx"),
        join(ROOT, "src/cli/main.ts"),
        "extract",
        "--model",
        MODEL,
        "--input",
        input,
        "--out",
        ".",
        "--overwrite",
        "--aggregation",
        "first",
      ],
      { cwd: dir, encoding: "utf8", env: { ...process.env, CODENEURONS_QUIET: "1" } },
    );
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.status).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "index.json"), "utf8")).settings.aggregation).toBe("first");
  });
});

describe("finding 5: a damaged plan.json names its recovery", () => {
  it("extract: an error naming the file and --overwrite (no stack trace); --overwrite starts over", async () => {
    const dir = copyOf("plan");
    const plan = join(dir, "plan.json");
    truncateSync(plan, 40);
    rmSync(join(dir, "index.json"));
    const err = await extract(dir).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(plan);
    expect(err.message).toMatch(/plan\.json is damaged.*pass --overwrite/);
    await extract(dir, { overwrite: true });
    expect(await contents(dir)).toEqual(await contents(clean));
  });

  it("reading a complete store with a damaged plan.json says how to read or repair it", async () => {
    const dir = copyOf("plan-read");
    writeFileSync(join(dir, "plan.json"), "{");
    const err = await ActivationStore.open(dir).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/delete plan\.json to read the store as it is/);
  });
});
