import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SafetensorsFile } from "../../src/model/weights/safetensors.js";
import {
  ActivationStore,
  openForWriting,
  type ShardPlan,
  STORE_FORMAT,
  type StoreIndex,
  type StorePlan,
  shardFileName,
  tensorName,
  writeShard,
  writeWordsFiles,
} from "../../src/store/index.js";
import { readSentenceInput } from "../../src/store/input.js";
import { writeJsonAtomic } from "../../src/util/atomic.js";
import { InputError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";

const tmp = () => mkdtempSync(join(tmpdir(), "cn-store-"));

/** A store of 3 lines (one empty) over layers 0 and 2 of hidden size 3, value = f(row, layer, unit). */
async function makeStore(dtype: "float16" | "float32", shardsSplit: boolean): Promise<string> {
  const dir = join(tmp(), "s");
  const words = [["a", "b"], [], ["c", "d", "e"]];
  const value = (row: number, layer: number, unit: number) => row * 100 + layer * 10 + unit + 0.25;
  const shards: ShardPlan[] = shardsSplit
    ? [
        { id: 0, firstLine: 0, endLine: 2, firstRow: 0, endRow: 2 },
        { id: 1, firstLine: 2, endLine: 3, firstRow: 2, endRow: 5 },
      ]
    : [{ id: 0, firstLine: 0, endLine: 3, firstRow: 0, endRow: 5 }];
  const plan: StorePlan = {
    format: STORE_FORMAT,
    version: 1,
    model: { source: "test", modelType: "bert", numLayers: 2, hidden: 3, layerNumbering: "" },
    settings: {
      level: "word",
      aggregation: "average",
      sentenceRepresentation: "first",
      includeSpecialTokens: false,
      layers: [0, 2],
      sites: ["hidden"],
      dtype,
      maxTokens: 512,
    },
    input: { file: "x", sha256: "" },
    shards,
  };
  expect(await openForWriting(dir, plan, false)).toBe("new");
  const records = [];
  for (const s of shards) {
    const rows = s.endRow - s.firstRow;
    const blocks = [0, 2].map((layer) => {
      const data = new Float32Array(rows * 3);
      for (let r = 0; r < rows; r++)
        for (let u = 0; u < 3; u++) data[r * 3 + u] = value(s.firstRow + r, layer, u);
      return { site: "hidden" as const, layer, dim: 3, data };
    });
    records.push(await writeShard(dir, s, { rows, blocks }, dtype));
  }
  await writeWordsFiles(dir, words, [["X", "Y"], [], ["Z", "Z", "Z"]]);
  const index: StoreIndex = {
    ...plan,
    shards: records,
    counts: {
      lines: 3,
      sentences: 2,
      emptyLines: 1,
      rows: 5,
      subwords: 5,
      windowedSentences: 0,
      windows: 2,
      truncatedWords: 0,
    },
    createdAt: "",
    seconds: 0,
  };
  await writeJsonAtomic(join(dir, "index.json"), index);
  return dir;
}

describe("activation store", () => {
  for (const dtype of ["float32", "float16"] as const) {
    for (const split of [false, true]) {
      it(`reads any rows and neurons back (${dtype}, ${split ? "2 shards" : "1 shard"})`, async () => {
        const store = await ActivationStore.open(await makeStore(dtype, split));
        expect(store.meta.layers).toEqual([0, 2]);
        expect(store.row(2, 1)).toBe(3);
        expect(() => store.row(1, 0)).toThrow(/out of range/);
        expect(store.locate(3)).toEqual({ sentence: 2, word: 1 });
        expect(store.labels(2)).toEqual(["Z", "Z", "Z"]);
        // Rows out of order and repeated; neuron ids are global: layer 2 unit 1 = 2*3+1 = 7.
        const m = await store.readRows([4, 0, 4], { neurons: [7, 0] });
        expect([m.rows, m.cols]).toEqual([3, 2]);
        // float16 holds these values (< 512, quarter steps) exactly.
        expect(Array.from(m.data)).toEqual([421.25, 400.25, 21.25, 0.25, 421.25, 400.25]);
        const all = await store.readAll({ layers: [2] });
        expect([all.rows, all.cols]).toEqual([5, 3]);
        expect(all.data[4 * 3 + 2]).toBe(422.25);
        await expect(store.readRows([0], { layers: [1] })).rejects.toThrow(/layer 1 is not in the store/);
        await expect(store.readRows([9])).rejects.toThrow(/out of range/);
        store.close();
      });
    }
  }

  it("refuses a stored value that is not a finite number where a read covers it, naming row and neuron", async () => {
    for (const dtype of ["float32", "float16"] as const) {
      const dir = await makeStore(dtype, true);
      // Row 3 (line 3, word 2 'd') is shard 1's row 1; neuron 7 is layer 2, unit 1 (hidden size 3).
      const shard = join(dir, shardFileName(1));
      const f = SafetensorsFile.open(shard);
      const width = dtype === "float16" ? 2 : 4;
      const at = f.header.dataStart + f.entry(tensorName("hidden", 2)).begin + (1 * 3 + 1) * width;
      f.close();
      const fd = openSync(shard, "r+");
      writeSync(
        fd,
        dtype === "float16" ? Uint8Array.of(0x00, 0x7e) : new Uint8Array(Float32Array.of(Number.NaN).buffer),
        0,
        width,
        at,
      );
      closeSync(fd);
      // The shard's hash no longer matches: check sizes only, as CODENEURONS_VERIFY=size does.
      const store = await ActivationStore.open(dir, { verify: "size" });
      const named =
        /shards.00001\.safetensors: row 3 \(line 3, word 2 'd'\), neuron L2:1 .*holds NaN: activations must be finite/;
      await expect(store.readAll()).rejects.toThrow(named);
      await expect(store.readRows([4, 3], { neurons: [6, 7, 8] })).rejects.toThrow(named);
      await expect(store.readRows([3], { neurons: [8, 7, 0] })).rejects.toThrow(named);
      // Reads that do not cover the value succeed.
      expect(Array.from((await store.readRows([2, 4], { neurons: [7] })).data)).toEqual([221.25, 421.25]);
      expect(Array.from((await store.readRows([3], { neurons: [6, 8, 1] })).data)).toEqual([
        320.25, 322.25, 301.25,
      ]);
      store.close();
    }
  });

  it("refuses an incomplete store and an overwrite of another store", async () => {
    const dir = await makeStore("float32", true);
    const plan = JSON.parse(
      (await import("node:fs")).readFileSync(join(dir, "plan.json"), "utf8"),
    ) as StorePlan;
    // Same plan: resumes (and drops index.json so the store reads as incomplete until finished).
    expect(await openForWriting(dir, plan, false)).toBe("resume");
    expect(existsSync(join(dir, "index.json"))).toBe(false);
    await expect(ActivationStore.open(dir)).rejects.toThrow(/incomplete/);
    const other = { ...plan, settings: { ...plan.settings, dtype: "float16" as const } };
    await expect(openForWriting(dir, other, false)).rejects.toThrow(/other settings/);
  });

  it("removes temp files of an interrupted run on resume", async () => {
    const dir = await makeStore("float32", true);
    writeFileSync(join(dir, "shards", "00001.safetensors.tmp-1-abcd"), "partial");
    const plan = JSON.parse(
      (await import("node:fs")).readFileSync(join(dir, "plan.json"), "utf8"),
    ) as StorePlan;
    await openForWriting(dir, plan, false);
    expect(readdirSync(join(dir, "shards")).some((n) => n.includes(".tmp-"))).toBe(false);
  });
});

describe("sentence input", () => {
  it("handles CRLF, tabs, non-ASCII and empty lines", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "in.txt"), "a\tb  c\r\n\r\nnaïve 字 🙂\n");
    const input = await readSentenceInput(join(dir, "in.txt"));
    expect(input.lines).toEqual([["a", "b", "c"], [], ["naïve", "字", "🙂"]]);
    expect(input.emptyLines).toBe(1);
  });

  it("names the line of a token/label count mismatch", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "in.txt"), "a b\nc d e\n");
    writeFileSync(join(dir, "in.label"), "X Y\nZ Z\n");
    const err = await readSentenceInput(join(dir, "in.txt"), join(dir, "in.label")).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/in\.label:2: line has 2 labels but line 2 of .*in\.txt has 3 words/);
    writeFileSync(join(dir, "short.label"), "X Y\n");
    await expect(readSentenceInput(join(dir, "in.txt"), join(dir, "short.label"))).rejects.toThrow(
      /has 1 lines but/,
    );
  });

  it("rejects invalid UTF-8 naming the file", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "bad.txt"), Buffer.from([0x61, 0xff, 0x62]));
    await expect(readSentenceInput(join(dir, "bad.txt"))).rejects.toThrow(/bad\.txt: not valid UTF-8/);
  });
});

describe("sparse and dense row reads", () => {
  it("return the same values as reading everything, for random row subsets (property)", async () => {
    const dir = join(tmp(), "big");
    const rows = 300;
    const shards: ShardPlan[] = [
      { id: 0, firstLine: 0, endLine: 1, firstRow: 0, endRow: 200 },
      { id: 1, firstLine: 1, endLine: 2, firstRow: 200, endRow: 300 },
    ];
    const plan: StorePlan = {
      format: STORE_FORMAT,
      version: 1,
      model: { source: "t", modelType: "bert", numLayers: 1, hidden: 4, layerNumbering: "" },
      settings: {
        level: "word",
        aggregation: "average",
        sentenceRepresentation: "first",
        includeSpecialTokens: false,
        layers: [0, 1],
        sites: ["hidden"],
        dtype: "float16",
        maxTokens: 9,
      },
      input: { file: "x", sha256: "" },
      shards,
    };
    await openForWriting(dir, plan, false);
    const records = [];
    for (const s of shards) {
      const n = s.endRow - s.firstRow;
      const blocks = [0, 1].map((layer) => ({
        site: "hidden" as const,
        layer,
        dim: 4,
        data: Float32Array.from(
          { length: n * 4 },
          (_, k) => (s.firstRow + Math.floor(k / 4)) * 0.5 + layer * 0.25 + (k % 4),
        ),
      }));
      records.push(await writeShard(dir, s, { rows: n, blocks }, "float16"));
    }
    const words = [
      Array.from({ length: 200 }, (_, i) => `w${i}`),
      Array.from({ length: 100 }, (_, i) => `v${i}`),
    ];
    await writeWordsFiles(dir, words);
    const counts = {
      lines: 2,
      sentences: 2,
      emptyLines: 0,
      rows,
      subwords: rows,
      windowedSentences: 0,
      windows: 2,
      truncatedWords: 0,
    };
    await writeJsonAtomic(join(dir, "index.json"), {
      ...plan,
      shards: records,
      counts,
      createdAt: "",
      seconds: 0,
    });
    const store = await ActivationStore.open(dir);
    const all = await store.readAll();
    const rng = new Rng(3);
    for (let trial = 0; trial < 30; trial++) {
      const k = 1 + rng.int(trial % 2 === 0 ? 20 : 280);
      const picked = Array.from({ length: k }, () => rng.int(rows));
      const m = await store.readRows(picked);
      picked.forEach((r, i) => {
        expect(Array.from(m.data.subarray(i * 8, i * 8 + 8))).toEqual(
          Array.from(all.data.subarray(r * 8, r * 8 + 8)),
        );
      });
    }
    store.close();
  });
});
