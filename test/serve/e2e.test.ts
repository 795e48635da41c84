import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeReportForResults } from "../../src/report/index.js";
import { type RunningExplorer, startExplorer } from "../../src/serve/server.js";
import { makeResultsDir } from "../fixtures/report/make-results.js";
import { artifactPath, explorerPage, launchChromium } from "./browser.js";

let explorer: RunningExplorer;
/** Over a store with both sites (the residual stream and MLP neurons). */
let sites: RunningExplorer;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), "cn-e2e-"));
  await makeResultsDir(dir);
  await writeReportForResults(dir, { quiet: true, png: false });
  explorer = await startExplorer({ resultsDir: dir, port: 0 });
  const both = await mkdtemp(join(tmpdir(), "cn-e2e-sites-"));
  await makeResultsDir(both, { mlp: true });
  sites = await startExplorer({ resultsDir: both, port: 0 });
  browser = await launchChromium();
  page = await explorerPage(browser, problems);
});

afterAll(async () => {
  await browser?.close();
  await explorer?.close();
  await sites?.close();
});

/** Background colour of a token as [r, g, b]. */
async function backgrounds(selector: string): Promise<{ a: number; rgb: number[] }[]> {
  return page.$$eval(selector, (nodes) =>
    nodes.map((n) => ({
      a: Number((n as HTMLElement).dataset.activation),
      rgb: (getComputedStyle(n).backgroundColor.match(/\d+/g) ?? []).slice(0, 3).map(Number),
    })),
  );
}

describe("explorer in chromium", () => {
  it("browses a class, opens a neuron and shows its top words and coloured code", async () => {
    await page.goto(explorer.url);
    await page.click(".item[data-class='NUMBER']");
    await page.waitForSelector(".chip[data-neuron='43']");
    expect(await page.textContent("#list-title")).toContain("Top neurons of NUMBER");
    await page.click(".chip[data-neuron='43']");
    await page.waitForSelector("[data-testid=lines] .tok");
    expect(await page.textContent("[data-testid=neuron-name]")).toBe("L5:3");
    expect(await page.textContent("[data-testid=concept-badge]")).toContain("NUMBER neuron");
    // The intervention experiments that changed it: smallest set first, the NUMBER row marked worse.
    expect(
      await page.$$eval("[data-testid=interventions] .effect", (n) =>
        n.map((e) => (e as HTMLElement).dataset.label),
      ),
    ).toEqual(["top:NUMBER:1", "top:NUMBER:3"]);
    const row = page
      .locator("[data-testid=interventions] .effect")
      .first()
      .locator("tr[data-class=NUMBER] td");
    expect(await row.allTextContents()).toEqual([
      "NUMBER",
      "25",
      "60.0% → 20.0%",
      "58.0% ± 2.0%",
      "1.800 → 2.600",
      "1.840 ± 0.020",
    ]);
    expect(await row.nth(2).getAttribute("class")).toContain("worse");
    // One population per view, named; the report's (concepts.json's task tokens) beside the store's.
    expect(await page.textContent("[data-testid=population]")).toMatch(/^Statistics over all words/);
    expect(await page.textContent("[data-testid=report-population]")).toMatch(
      /^As in the report: over the task's train \+ valid \+ test tokens/,
    );
    expect(await page.locator("[data-testid=report-top-words] tr").count()).toBeGreaterThan(0);
    // Signs: the concept badge and the probe weights say whether the neuron fires high or low.
    expect(await page.textContent("[data-testid=concept-badge]")).toMatch(/fires (high|low) on it/);
    expect(await page.textContent("#detail .stats")).toMatch(/NUMBER [+-]\d\.\d\d \(fires (high|low)\)/);
    const top = await page.$$eval("[data-testid=top-words] tr", (rows) =>
      rows.map((r) => (r as HTMLElement).dataset.word ?? ""),
    );
    expect(top.slice(0, 5).every((w) => /^-?\d/.test(w))).toBe(true);
    const toks = await backgrounds("[data-testid=lines] .tok");
    expect(toks.length).toBeGreaterThan(10);
    // The most active word is strongly red, the most negative bluish, a near-zero one near white.
    const max = toks.reduce((a, b) => (b.a > a.a ? b : a));
    expect(max.rgb[0]).toBeGreaterThan(150);
    expect(max.rgb[2]).toBeLessThan(80);
    const min = toks.reduce((a, b) => (b.a < a.a ? b : a));
    if (min.a < 0) expect(min.rgb[2]).toBeGreaterThan(min.rgb[0]);
    await page.screenshot({ path: artifactPath("explorer-neuron.png"), fullPage: true });
  });

  it("browses a layer", async () => {
    await page.click(".pill[data-layer='8']");
    await page.waitForFunction(() =>
      document.querySelector("#list-title")?.textContent?.startsWith("Layer 8"),
    );
    expect(await page.locator("#neuron-list .chip").count()).toBe(8);
    expect(await page.getAttribute(".chip[data-neuron='69']", "class")).toContain("concept");
  });

  it("searches a token and opens the best neuron", async () => {
    await page.fill("#search", "0");
    await page.click("#search-form button");
    await page.waitForSelector("[data-testid=search-results] tbody tr");
    expect(await page.textContent("[data-testid=search-token]")).toBe("0");
    const first = page.locator("[data-testid=search-results] tbody tr").first();
    expect(await first.getAttribute("data-neuron")).toBe("43");
    await page.screenshot({ path: artifactPath("explorer-search.png") });
    await first.click();
    await page.waitForFunction(
      () => document.querySelector("[data-testid=neuron-name]")?.textContent === "L5:3",
    );
  });

  it("compares two neurons", async () => {
    // The examples name layers this model has (0 … 12 here), not a fixed "L8:5".
    expect(await page.getAttribute("#cmp-a", "placeholder")).toBe("L0:3");
    expect(await page.getAttribute("#cmp-b", "placeholder")).toBe("L12:5");
    await page.fill("#cmp-a", "L5:3");
    await page.fill("#cmp-b", "L8:5");
    await page.click("#compare-form button");
    await page.waitForSelector("[data-testid=scatter] circle");
    const r = Number(await page.textContent("[data-testid=correlation]"));
    expect(r).toBeGreaterThanOrEqual(-1);
    expect(r).toBeLessThanOrEqual(1);
    expect(await page.locator("[data-testid=top-words-a] tr").count()).toBeGreaterThan(0);
    expect(await page.locator("[data-testid=top-words-b] tr").count()).toBeGreaterThan(0);
    // Each line appears once per neuron.
    const lines = await page.locator("[data-testid=lines] .line").count();
    expect(lines % 2).toBe(0);
    expect(lines).toBeGreaterThan(0);
    await page.screenshot({ path: artifactPath("explorer-compare.png"), fullPage: true });
  });

  it("links to the report, served from the results directory", async () => {
    const href = await page.getAttribute("#report-link", "href");
    expect(href).toBe("/files/report/index.html");
    const report = await browser.newPage();
    await report.goto(new URL(href!, explorer.url).href);
    expect(await report.locator("figure[data-figure] svg").count()).toBeGreaterThan(5);
    await report.close();
  });

  it("a store with one site shows no site switch", async () => {
    await page.goto(explorer.url);
    await page.waitForSelector(".pill[data-layer='0']");
    expect(await page.isHidden("#sites")).toBe(true);
  });

  it("with both sites: switches to the MLP neurons, browses a block, searches and compares across sites", async () => {
    await page.goto(sites.url);
    await page.waitForSelector("#sites .site[data-site='mlp']");
    expect(await page.textContent("#model")).toContain("13 layers × 8 units · MLP 12 × 12");
    expect(await page.getAttribute(".site[data-site='hidden']", "class")).toContain("active");
    await page.click(".site[data-site='mlp']");
    await page.waitForFunction(() => document.querySelector(".pill[data-layer]")?.textContent === "1");
    expect(await page.locator(".pill[data-layer]").count()).toBe(12);
    await page.click(".pill[data-layer='4']");
    await page.waitForFunction(() =>
      document.querySelector("#list-title")?.textContent?.startsWith("Layer 4 MLP"),
    );
    expect(await page.locator("#neuron-list .chip").count()).toBe(12);
    await page.click(".chip[data-name='L4.mlp:7']");
    await page.waitForFunction(
      () => document.querySelector("[data-testid=neuron-name]")?.textContent === "L4.mlp:7",
    );
    expect(await page.textContent("[data-testid=layer-badge]")).toBe("block 4 MLP");
    expect(decodeURIComponent(new URL(page.url()).hash)).toBe("#/neuron/L4.mlp:7");
    await page.fill("#search", "0");
    await page.click("#search-form button");
    await page.waitForSelector("[data-testid=search-results] tbody tr");
    expect(await page.textContent("#detail h2")).toContain("MLP neurons that fire most on");
    const first = page.locator("[data-testid=search-results] tbody tr").first();
    expect(await first.getAttribute("data-name")).toBe("L4.mlp:7");
    await page.screenshot({ path: artifactPath("explorer-mlp-search.png") });
    await page.fill("#cmp-a", "L5:3");
    await page.fill("#cmp-b", "L4.mlp:7");
    await page.click("#compare-form button");
    await page.waitForSelector("[data-testid=scatter] circle");
    expect(await page.textContent("#detail h2")).toContain("L4.mlp:7");
    // Back to the residual stream: its layers again, 0 (the embeddings) included.
    await page.click(".site[data-site='hidden']");
    await page.waitForFunction(() => document.querySelector(".pill[data-layer]")?.textContent === "0");
    expect(await page.locator(".pill[data-layer]").count()).toBe(13);
  });

  it("ran without console errors (CSP violations included)", () => {
    expect(problems).toEqual([]);
  });
});
