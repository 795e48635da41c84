import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LatentResult } from "../../src/latent/format.js";
import { runLatent } from "../../src/latent/stage.js";
import type { LatentClusterResponse, LatentLayerResponse, MetaResponse } from "../../src/serve/api-types.js";
import { type RunningExplorer, startExplorer } from "../../src/serve/server.js";
import { ActivationStore } from "../../src/store/index.js";
import { makeResultsDir } from "../fixtures/report/make-results.js";
import { artifactPath, explorerPage, launchChromium } from "./browser.js";

let dir: string;
let latent: LatentResult;
let explorer: RunningExplorer;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cn-serve-latent-"));
  await makeResultsDir(dir);
  ({ result: latent } = await runLatent({
    store: join(dir, "activations"),
    out: join(dir, "latent"),
    layers: [3, 8],
    clusters: 10,
    maxTokens: 120,
    language: "java",
    quiet: true,
  }));
  explorer = await startExplorer({ resultsDir: dir, port: 0 });
  browser = await launchChromium();
  page = await explorerPage(browser, problems);
});

afterAll(async () => {
  await browser?.close();
  await explorer?.close();
});

async function get<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(new URL(path, explorer.url));
  return { status: res.status, body: (await res.json()) as T };
}

describe("explorer: latent concepts (latent/latent.json)", () => {
  it("meta names the clustered layers; a layer lists its clusters, largest first", async () => {
    const meta = (await get<MetaResponse>("/api/meta")).body;
    expect(meta.latent).toEqual({ site: "hidden", layers: [3, 8], clusters: 10, tokens: 120, theta: 0.9 });
    const { status, body } = await get<LatentLayerResponse>("/api/latent?layer=8");
    expect(status).toBe(200);
    const layer = latent.layers.find((l) => l.layer === 8)!;
    expect(body.clusters.map((c) => c.id).sort((a, b) => a - b)).toEqual(layer.clusters.map((c) => c.id));
    expect(body.clusters.map((c) => c.size)).toEqual(
      [...body.clusters.map((c) => c.size)].sort((a, b) => b - a),
    );
    expect(body.novel).toBe(layer.novel);
  });

  it("a cluster shows its tokens in their store lines and the neurons most active on it", async () => {
    const layer = latent.layers.find((l) => l.layer === 3)!;
    const cluster = layer.clusters[0];
    const { body } = await get<LatentClusterResponse>(`/api/latent/3/${cluster.id}`);
    expect(body.size).toBe(cluster.size);
    expect(body.neurons.map((n) => n.name)).toEqual(cluster.neurons.map((n) => n.name));
    const store = await ActivationStore.open(join(dir, "activations"));
    try {
      for (const o of body.occurrences) {
        expect(o.words).toEqual(store.words(o.sentence));
        expect(o.words![o.position]).toBe(o.word);
      }
    } finally {
      store.close();
    }
    expect(body.occurrences.map((o) => o.word).sort()).toEqual(
      cluster.tokens.map((t) => latent.tokens.word[t]).sort(),
    );
  });

  it("answers what is not there with 4xx", async () => {
    expect((await get("/api/latent?layer=5")).status).toBe(404);
    expect((await get("/api/latent?layer=x")).status).toBe(400);
    expect((await get("/api/latent/3/99")).status).toBe(404);
    expect((await get("/api/latent/3/-1")).status).toBe(400);
  });

  it("refuses at start-up a latent.json made on another store, naming the file and the token", async () => {
    const other = await mkdtemp(join(tmpdir(), "cn-serve-latent-other-"));
    cpSync(dir, other, { recursive: true });
    const file = join(other, "latent", "latent.json");
    const changed = JSON.parse(readFileSync(file, "utf8")) as LatentResult;
    changed.tokens.word[4] = `${changed.tokens.word[4]}_x`;
    writeFileSync(file, JSON.stringify(changed));
    await expect(startExplorer({ resultsDir: other, port: 0 })).rejects.toThrow(
      /latent\.json \(field 'tokens\.word\.4'\): token 4 .* is not the store's word there/,
    );
  });

  it("in chromium: browses a layer's clusters, opens one, and links to its neurons", async () => {
    await page.goto(explorer.url);
    await page.click(".pill[data-latent='8']");
    await page.waitForSelector(".chip.cluster");
    expect(await page.textContent("#list-title")).toContain("Latent concepts of layer 8");
    const first = page.locator(".chip.cluster").first();
    const id = await first.getAttribute("data-cluster");
    await first.click();
    await page.waitForSelector("[data-testid=latent-lines] .tok.hit");
    expect(await page.textContent("[data-testid=cluster-name]")).toBe(`cluster #${id}`);
    const hits = await page.$$eval("[data-testid=latent-lines] .tok.hit", (n) => n.length);
    expect(hits).toBe(Math.min(60, latent.layers[1].clusters.find((c) => String(c.id) === id)!.size));
    await page.screenshot({ path: artifactPath("explorer-latent.png"), fullPage: true });
    const neuron = page.locator("[data-testid=cluster-neurons] .chip").first();
    const name = await neuron.getAttribute("data-name");
    await neuron.click();
    await page.waitForFunction(
      (n) => document.querySelector("[data-testid=neuron-name]")?.textContent === n,
      name,
    );
    expect(problems).toEqual([]);
  });
});
