import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractActivations } from "../../src/extract/extract.js";
import { openActivationModel } from "../../src/extract/model.js";
import type { ActivationModel } from "../../src/extract/types.js";
import { planSentence } from "../../src/extract/windows.js";
import { ActivationStore } from "../../src/store/index.js";

const MODELS = ["tiny-bert", "tiny-roberta", "tiny-gpt2"];
// The tiny models have 16 positions: these lines fit in one window.
const JAVA = ["x = y ;", "", "if ( é ) {", "int\tc ;"];
const tmp = () => mkdtempSync(join(tmpdir(), "cn-extract-"));

/**
 * Direct computation: run words [first, end) of a sentence alone, unpadded, and average each word's
 * subword vectors (words keep the tokenization they have inside the whole sentence).
 */
async function direct(
  model: ActivationModel,
  words: string[],
  layer: number,
  first = 0,
  end = words.length,
): Promise<number[][]> {
  const tok = model.tokenizer;
  const ids: number[] = [...tok.prefixIds];
  const spans: [number, number][] = [];
  for (let i = first; i < end; i++) {
    const b = ids.length;
    ids.push(...tok.tokenizeWord(words[i], i === 0));
    spans.push([b, ids.length]);
  }
  ids.push(...tok.suffixIds);
  let block: Float32Array | undefined;
  await model.forwardGroup(
    [{ ids: Int32Array.from(ids), mask: new Int32Array(ids.length).fill(1), batch: 1, seq: ids.length }],
    (_b, site, l, data) => {
      if (site === "hidden" && l === layer) block = data.slice();
    },
  );
  if (!block) throw new Error(`no hidden layer ${layer}`);
  const values = block;
  const h = model.hidden;
  return spans.map(([b, e]) => {
    const v = new Array(h).fill(0);
    for (let p = b; p < e; p++) for (let u = 0; u < h; u++) v[u] += values[p * h + u] / (e - b);
    return v;
  });
}

describe.each(MODELS)("extraction with %s", (name) => {
  const dir = `test/fixtures/models/${name}`;
  let model: Awaited<ReturnType<typeof openActivationModel>>;
  beforeAll(async () => {
    model = await openActivationModel(dir);
  });
  afterAll(async () => model?.release());

  it("stores, for every word and layer, the average of its subword vectors (batched, padded)", async () => {
    const work = tmp();
    writeFileSync(join(work, "in.txt"), `${JAVA.join("\r\n")}\r\n`);
    // Short sentences only: no windowing here; batching pads them together.
    const res = await extractActivations(model, {
      input: join(work, "in.txt"),
      out: join(work, "s"),
      quiet: true,
    });
    expect(res.counts.emptyLines).toBe(1);
    expect(res.counts.windowedSentences).toBe(0);
    const store = await ActivationStore.open(join(work, "s"));
    expect(store.meta.layers).toEqual(Array.from({ length: model.numLayers + 1 }, (_, i) => i));
    for (const line of [0, 2, 3]) {
      const words = store.words(line);
      expect(words.join(" ")).toBe(JAVA[line].split(/\s+/).join(" "));
      for (const layer of [0, model.numLayers]) {
        const want = await direct(model, words, layer);
        const rows = words.map((_, w) => store.row(line, w));
        const got = await store.readRows(rows, { layers: [layer] });
        // Same float32 graph, different batch padding: agreement to 1e-4 absolute.
        for (let w = 0; w < words.length; w++)
          for (let u = 0; u < model.hidden; u++)
            expect(Math.abs(got.data[w * model.hidden + u] - want[w][u])).toBeLessThan(1e-4);
      }
    }
    store.close();
  });

  it("windows long sentences: every word gets one vector from its owner window", async () => {
    const work = tmp();
    const words = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? "value" : i % 3 === 1 ? "=" : `x${i}`));
    writeFileSync(join(work, "in.txt"), `${words.join(" ")}\n`);
    const res = await extractActivations(model, {
      input: join(work, "in.txt"),
      out: join(work, "s"),
      quiet: true,
    });
    expect(res.counts.windowedSentences).toBe(1);
    expect(res.counts.rows).toBe(40);
    const store = await ActivationStore.open(join(work, "s"));
    const layer = model.numLayers;
    const m = await store.readAll({ layers: [layer] });
    const tok = model.tokenizer;
    const budget = model.maxTokens - tok.prefixIds.length - tok.suffixIds.length;
    const plan = planSentence(
      words.map((w, i) => tok.tokenizeWord(w, i === 0)),
      budget,
      model.causal,
    );
    for (let wi = 0; wi < plan.windows.length; wi++) {
      const win = plan.windows[wi];
      const want = await direct(model, words, layer, win.firstWord, win.endWord);
      for (let w = win.firstWord; w < win.endWord; w++) {
        if (plan.owner[w] !== wi) continue;
        // The owner window run alone: 1e-4 absolute.
        for (let u = 0; u < m.cols; u++)
          expect(Math.abs(m.data[w * m.cols + u] - want[w - win.firstWord][u])).toBeLessThan(1e-4);
      }
    }
    store.close();
  });

  it("writes sentence-level vectors", async () => {
    const work = tmp();
    writeFileSync(join(work, "in.txt"), `${JAVA.join("\n")}\n`);
    const repr = model.tokenizer.prefixIds.length > 0 ? "first" : "last";
    await extractActivations(model, {
      input: join(work, "in.txt"),
      out: join(work, "s"),
      quiet: true,
      level: "sentence",
      sentenceRepresentation: repr,
    });
    const store = await ActivationStore.open(join(work, "s"));
    expect(store.meta.numRows).toBe(3);
    expect(store.row(2, 0)).toBe(1);
    store.close();
  });
});

describe("words the tokenizer removes", () => {
  it("reads a zero-width-only word as [UNK] and counts it (BERT)", async () => {
    const model = await openActivationModel("test/fixtures/models/tiny-bert");
    const work = tmp();
    writeFileSync(join(work, "in.txt"), "x \u200b y\n");
    const res = await extractActivations(model, {
      input: join(work, "in.txt"),
      out: join(work, "s"),
      quiet: true,
    });
    expect(res.counts.rows).toBe(3);
    expect(res.counts.emptyWords).toBe(1);
    const store = await ActivationStore.open(join(work, "s"));
    const m = await store.readRows([1], { layers: [0] });
    expect(m.data.every((v) => Number.isFinite(v))).toBe(true);
    store.close();
    await model.release();
  });
});

describe("shard groups", () => {
  it("computing several shards in one go gives the same store, also when a resume recomputes a group", async () => {
    const model = await openActivationModel("test/fixtures/models/tiny-roberta");
    const work = tmp();
    // Varied lengths, so that grouping changes which sentences share a padded batch.
    const words = ["a", "bb", "(", ")", "x1", "=", ";", "return", "0", '"s"'];
    const lines = Array.from({ length: 60 }, (_, i) =>
      Array.from({ length: 1 + ((i * 7) % 11) }, (_, k) => words[(i + k) % words.length]).join(" "),
    );
    writeFileSync(join(work, "in.txt"), `${lines.join("\n")}\n`);
    const bytesPerRow = 4 * (model.numLayers + 1) * model.hidden;
    const run = (out: string, groupRows: number) =>
      extractActivations(model, {
        input: join(work, "in.txt"),
        out: join(work, out),
        quiet: true,
        batchTokens: 64,
        shardBytes: 20 * bytesPerRow,
        groupBytes: groupRows * bytesPerRow,
      });
    const single = await run("single", 1); // one shard per group: the old behaviour
    const grouped = await run("grouped", 70); // about three shards per group
    expect(single.shardsComputed).toBeGreaterThan(6);
    expect(grouped.shardsComputed).toBe(single.shardsComputed);
    const read = async (out: string) => {
      const store = await ActivationStore.open(join(work, out));
      const m = await store.readAll();
      store.close();
      return m.data;
    };
    const reference = await read("single");
    expect(await read("grouped")).toEqual(reference);

    // Lose one shard and the index: the rerun recomputes that shard's group, writes only that shard.
    rmSync(join(work, "grouped", "shards", "00004.safetensors"));
    rmSync(join(work, "grouped", "index.json"));
    const resumed = await run("grouped", 70);
    expect(resumed.status).toBe("resume");
    expect(resumed.shardsComputed).toBe(1);
    expect(await read("grouped")).toEqual(reference);
    await model.release();
  });
});
