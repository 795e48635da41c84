import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  figuresOf,
  parseReportData,
  type ReportData,
  writeReportForResults,
} from "../../src/report/index.js";
import { InputError } from "../../src/util/errors.js";
import { makeResultsDir } from "../fixtures/report/make-results.js";
import { artifactPath, launchChromium } from "../serve/browser.js";

let dir: string;
let data: ReportData;
let browser: Browser;

const EXPECTED = [
  "layer-accuracy",
  "cka",
  "neuron-curves",
  "redundancy",
  "layer-distribution",
  "concept-neurons",
  "heatmap-modifier",
  "heatmap-ident",
  "heatmap-keyword",
  "heatmap-type",
  "heatmap-number",
  "heatmap-string",
  "intervention-sweep",
];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cn-report-"));
  await makeResultsDir(dir);
  data = parseReportData(JSON.parse(readFileSync(join(dir, "report-data.json"), "utf8")), "report-data.json");
  await writeReportForResults(dir, { quiet: true });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe("codeneurons report", () => {
  it("makes one figure per section and class, each as SVG, PNG and Vega-Lite spec", () => {
    expect(figuresOf(data).map((f) => f.name)).toEqual(EXPECTED);
    for (const name of EXPECTED) {
      const svg = readFileSync(join(dir, "report", "figures", `${name}.svg`), "utf8");
      expect(svg.startsWith("<svg")).toBe(true);
      expect(svg).toContain("</svg>");
      const png = readFileSync(join(dir, "report", "figures", `${name}.png`));
      // PNG signature, and a real picture (not an empty canvas): more than a few KB.
      expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(png.length).toBeGreaterThan(5000);
      const spec = JSON.parse(readFileSync(join(dir, "report", "figures", `${name}.vl.json`), "utf8"));
      expect(spec.$schema).toContain("vega-lite");
    }
  });

  it("puts the data into the pictures: CKA cells, layer ticks, heatmap words", () => {
    const cka = readFileSync(join(dir, "report", "figures", "cka.svg"), "utf8");
    // 13 × 13 cells, each labelled with its value; diagonal = 1.00.
    expect(cka.match(/>1\.00</g)?.length).toBe(13);
    for (const l of ["0", "6", "12"]) expect(cka).toContain(`>${l}</text>`);
    const number = readFileSync(join(dir, "report", "figures", "heatmap-number.svg"), "utf8");
    const heat = data.heatmaps!.find((h) => h.class === "NUMBER")!;
    const xml = (w: string) =>
      w.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
    for (const w of heat.lines[0].words) expect(number).toContain(`>${xml(w)}<`);
    expect(number).toContain(">L5:3<");
  });

  it("plots the intervention sweep beside the probe's curve", () => {
    const svg = readFileSync(join(dir, "report", "figures", "intervention-sweep.svg"), "utf8");
    for (const t of [
      "NUMBER accuracy (%)",
      "NUMBER loss (nats)",
      "Probe test accuracy (%)",
      "Top-K NUMBER neurons (zero)",
      "K random neurons of the same layers (mean ± sd, 4 sets)",
    ])
      expect(svg).toContain(t);
    const spec = JSON.parse(
      readFileSync(join(dir, "report", "figures", "intervention-sweep.vl.json"), "utf8"),
    );
    const line = spec.hconcat[0].layer.at(-1).data.values;
    expect(line).toEqual([
      { k: 1, series: "Top-K NUMBER neurons (zero)", accuracy: 20, loss: 2.6 },
      { k: 1, series: "K random neurons of the same layers (mean ± sd, 4 sets)", accuracy: 58, loss: 1.84 },
      { k: 3, series: "Top-K NUMBER neurons (zero)", accuracy: 12, loss: 2.76 },
      { k: 3, series: "K random neurons of the same layers (mean ± sd, 4 sets)", accuracy: 58, loss: 1.84 },
    ]);
    // The probe's panel is the LCA curve of the redundancy analysis.
    expect(spec.hconcat[2].layer.at(-1).data.values).toHaveLength(
      data.neuronCurves!.orderings[0].points.length,
    );
  });

  it("writes one self-contained HTML page that references no network address", () => {
    const html = readFileSync(join(dir, "report", "index.html"), "utf8");
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\((?!#)/i);
    expect(html).not.toMatch(/\bsrc=/i);
    for (const name of EXPECTED) expect(html).toContain(`data-figure="${name}"`);
    // Inline SVGs share one id space: every id must be unique.
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(html).toContain('data-table="redundancy"');
    expect(html).toContain("LS+CC+LCA");
    // The intervention table: the featured experiment (the sweep's K = 3) per class, beside the controls.
    expect(html).toContain("Zeroing top:NUMBER:3 (3 neurons) inside the model; masked-LM predictions");
    expect(html).toContain(
      '<th scope="row">NUMBER</th><td class="num">25</td><td class="num">60.0%</td><td class="num worse">12.0%</td><td class="num">58.0% ± 2.0%</td>',
    );
    expect(html).toMatch(
      /<code>top:NUMBER:1<\/code><\/th><td class="num">1<\/td><td>NUMBER<\/td><td class="num">60\.0% → 20\.0%/,
    );
    // The concept-neuron table names the planted number neuron with its purity.
    expect(html).toMatch(
      /<code>L5:3<\/code><\/th><td>NUMBER<\/td><td>fires high<\/td><td class="num">1\.00</,
    );
  });

  it("opens offline in chromium with every plot drawn", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    // Anything that is not the file itself would be a network dependency: record and refuse it.
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("file://")) return route.continue();
      requests.push(url);
      return route.abort();
    });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(pathToFileURL(join(dir, "report", "index.html")).href);
    for (const name of EXPECTED) {
      const fig = page.locator(`figure[data-figure="${name}"] svg`).first();
      const box = await fig.boundingBox();
      expect(box, name).not.toBeNull();
      expect(box!.width).toBeGreaterThan(200);
      expect(box!.height).toBeGreaterThan(60);
      // Vega draws marks as paths/rects/texts inside role-mark groups.
      expect(await page.locator(`figure[data-figure="${name}"] svg .role-mark`).count()).toBeGreaterThan(0);
    }
    expect(await page.locator("table[data-table=redundancy] tbody tr").count()).toBe(
      data.redundancy!.steps.length,
    );
    // One row per class and one for all classes; one row per experiment.
    expect(await page.locator("table[data-table=intervention] tbody tr").count()).toBe(7);
    expect(await page.locator("table[data-table=intervention-experiments] tbody tr").count()).toBe(3);
    expect(requests).toEqual([]);
    expect(errors).toEqual([]);
    await page.screenshot({ path: artifactPath("report-full.png"), fullPage: true });
    await page.close();
  });

  it("replaces an old report whole, and leaves it untouched when the data is bad", async () => {
    const before = readdirSync(dir).sort();
    await writeFile(join(dir, "report", "figures", "stale.svg"), "<svg/>");
    await writeReportForResults(dir, { quiet: true, png: false });
    expect(existsSync(join(dir, "report", "figures", "stale.svg"))).toBe(false);
    expect(existsSync(join(dir, "report", "figures", "cka.png"))).toBe(false);
    const html = readFileSync(join(dir, "report", "index.html"), "utf8");
    const good = readFileSync(join(dir, "report-data.json"), "utf8");
    await writeFile(join(dir, "report-data.json"), good.replace(/"version": \d+/, '"version": 9'));
    await expect(writeReportForResults(dir, { quiet: true })).rejects.toBeInstanceOf(InputError);
    expect(readFileSync(join(dir, "report", "index.html"), "utf8")).toBe(html);
    // No temp folders left beside the report.
    expect(readdirSync(dir).sort()).toEqual(before);
    await writeFile(join(dir, "report-data.json"), good);
  });
});
