import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { LatentResult } from "../../src/latent/format.js";
import { runLatent } from "../../src/latent/stage.js";
import { reportSectionFromLatent } from "../../src/report/from-latent.js";
import { parseReportData, renderSvg, writeReport } from "../../src/report/index.js";
import { latentAlignmentSpec } from "../../src/report/specs.js";
import { REPORT_FORMAT, REPORT_VERSION, type ReportData } from "../../src/report/types.js";
import { ActivationStore } from "../../src/store/index.js";
import { makeResultsDir } from "../fixtures/report/make-results.js";

let dir: string;
let latent: LatentResult;
let data: ReportData;
let lines: (s: number) => string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cn-report-latent-"));
  await makeResultsDir(dir);
  ({ result: latent } = await runLatent({
    store: join(dir, "activations"),
    out: join(dir, "latent"),
    layers: [2, 9],
    clusters: 12,
    maxTokens: 150,
    language: "java",
    quiet: true,
  }));
  const store = await ActivationStore.open(join(dir, "activations"));
  const words = Array.from({ length: store.numLines }, (_, s) => store.words(s));
  store.close();
  lines = (s) => words[s];
  data = {
    format: REPORT_FORMAT,
    version: REPORT_VERSION,
    site: "hidden",
    model: "fixture",
    task: "latent concepts",
    latent: reportSectionFromLatent(latent, lines),
  };
});

describe("the report's latent-concept section", () => {
  it("carries latent.json's shares and samples the largest aligned and novel clusters with their lines", () => {
    const s = data.latent!;
    expect(s.layers.map((l) => l.layer)).toEqual([2, 9]);
    for (const [i, l] of latent.layers.entries()) {
      expect(s.layers[i].novel).toBe(l.novel);
      expect(s.layers[i].aligned.map((a) => a.share)).toEqual(l.alignment.map((a) => a.aligned));
      const samples = s.samples.filter((x) => x.layer === l.layer);
      const aligned = samples.filter((x) => x.aligned.length > 0);
      const novel = samples.filter((x) => x.aligned.length === 0);
      expect(aligned.length).toBe(Math.min(3, l.clusters.filter((c) => c.aligned.length > 0).length));
      expect(novel.length).toBe(Math.min(2, l.clusters.filter((c) => c.aligned.length === 0).length));
      // The largest novel cluster is the first novel sample.
      const largestNovel = l.clusters
        .filter((c) => c.aligned.length === 0)
        .sort((a, b) => b.size - a.size || a.id - b.id)[0];
      if (largestNovel) expect(novel[0].cluster).toBe(largestNovel.id);
      for (const x of samples) {
        const c = l.clusters.find((k) => k.id === x.cluster)!;
        expect(x.size).toBe(c.size);
        expect(x.words.reduce((a, w) => a + w.count, 0)).toBeLessThanOrEqual(c.size);
        const clusterWords = new Set(c.tokens.map((t) => latent.tokens.word[t]));
        for (const ctx of x.contexts) {
          expect(ctx.words).toEqual(lines(ctx.sentence));
          expect(clusterWords.has(ctx.words[ctx.position])).toBe(true);
        }
        expect(new Set(x.contexts.map((ctx) => ctx.sentence)).size).toBe(x.contexts.length);
      }
    }
  });

  it("draws one bar per family and one for the novel clusters per layer", async () => {
    const spec = latentAlignmentSpec(data.latent!) as unknown as {
      data: { values: { layer: number; category: string; share: number }[] };
    };
    const rows = spec.data.values;
    expect(rows).toHaveLength(2 * (latent.settings.families.length + 1));
    const novel = rows.filter((r) => r.category === "None (novel)").map((r) => r.share);
    expect(novel).toEqual(latent.layers.map((l) => Math.round(l.novel * 10000) / 100));
    await expect(renderSvg(latentAlignmentSpec(data.latent!))).resolves.toContain("<svg");
  });

  it("writes the section into the page, tokens escaped and marked in their lines", async () => {
    const odd = structuredClone(data);
    odd.latent!.samples[0].contexts[0] = { sentence: 0, position: 1, words: ["a", "<b>&", "c"] };
    const out = join(dir, "report");
    await writeReport(odd, out, { png: false, quiet: true });
    const html = readFileSync(join(out, "index.html"), "utf8");
    const section = html.slice(html.indexOf('<section id="latent">'));
    expect(section).toContain('data-figure="latent-alignment"');
    expect(section.match(/<tr data-layer=/g)).toHaveLength(odd.latent!.samples.length);
    expect(section).toContain("<mark>&#60;b&#62;&#38;</mark>");
    expect(section).not.toContain("<b>&</mark>");
  });

  it("report-data.json with a context pointing past its line is refused, naming the field", () => {
    const bad = structuredClone(data) as ReportData;
    bad.latent!.samples[0].contexts[0].position = 999;
    expect(() => parseReportData(JSON.parse(JSON.stringify(bad)), "r.json")).toThrow(
      /r\.json \(field 'latent\.samples\[0\]\.contexts\[0\]\.position'\): word 999 of a \d+-word line/,
    );
  });
});
