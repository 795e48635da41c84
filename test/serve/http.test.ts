import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConceptsResult } from "../../src/concepts/format.js";
import { SIX_CLASSES } from "../../src/data/labels.js";
import type {
  CompareResponse,
  MetaResponse,
  NeuronResponse,
  NeuronsResponse,
  SearchResponse,
} from "../../src/serve/api-types.js";
import { type RunningExplorer, startExplorer } from "../../src/serve/server.js";
import { ActivationStore } from "../../src/store/index.js";
import { InputError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { FIXTURE, makeResultsDir } from "../fixtures/report/make-results.js";

const SECRET = "secret-outside-the-results-directory";
let dir: string;
let explorer: RunningExplorer;

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A raw request: the path goes out exactly as written (no client-side normalisation of "..", "%2e"). */
function raw(path: string, opts: { method?: string; host?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: explorer.port,
        path,
        method: opts.method ?? "GET",
        headers: { host: opts.host ?? `127.0.0.1:${explorer.port}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            headers: res.headers,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

async function json<T>(path: string): Promise<T> {
  const r = await raw(path);
  expect(r.status, `${path}: ${r.body}`).toBe(200);
  return JSON.parse(r.body) as T;
}

beforeAll(async () => {
  const base = await mkdtemp(join(tmpdir(), "cn-serve-"));
  dir = join(base, "results");
  mkdirSync(dir);
  await makeResultsDir(dir);
  const outside = join(base, "outside");
  mkdirSync(outside);
  writeFileSync(join(outside, "secret.txt"), SECRET);
  writeFileSync(join(base, "secret.txt"), SECRET);
  symlinkSync(join(outside, "secret.txt"), join(dir, "leak.txt"));
  symlinkSync(outside, join(dir, "leakdir"));
  symlinkSync(join(dir, "probe.json"), join(dir, "inner-link.json"));
  explorer = await startExplorer({ resultsDir: dir, port: 0 });
});

afterAll(async () => {
  await explorer?.close();
});

describe("explorer HTTP: only files inside the results directory", () => {
  it("serves files inside, with their content type", async () => {
    const r = await raw("/files/probe.json");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toContain("application/json");
    expect((await raw("/files/inner-link.json")).status).toBe(200);
    expect((await raw("/files/task/train.tsv")).body.startsWith("sentence\tword\ttoken\tlabel")).toBe(true);
  });

  it("refuses traversal, encoded traversal and NUL with 4xx and never leaks", async () => {
    const attempts = [
      "/files/../secret.txt",
      "/files/../../secret.txt",
      "/files/%2e%2e/secret.txt",
      "/files/%2E%2E%2Fsecret.txt",
      "/files/..%2fsecret.txt",
      "/files/..%5csecret.txt",
      "/files/report/%2e%2e/%2e%2e/secret.txt",
      "/files/./probe.json",
      "/files//etc/passwd",
      "/files/%00",
      "/files/probe.json%00.txt",
      "/files/%252e%252e/secret.txt",
      "/files/%",
      "/files/%zz",
      "/../secret.txt",
    ];
    for (const path of attempts) {
      const r = await raw(path);
      expect(r.status, path).toBeGreaterThanOrEqual(400);
      expect(r.status, path).toBeLessThan(500);
      expect(r.body, path).not.toContain(SECRET);
    }
  });

  it("refuses symlinks that point out of the results directory", async () => {
    for (const path of ["/files/leak.txt", "/files/leakdir/secret.txt"]) {
      const r = await raw(path);
      expect(r.status, path).toBe(403);
      expect(r.body).not.toContain(SECRET);
    }
  });

  it("never lists a directory", async () => {
    for (const path of ["/files/", "/files/report", "/files/report/", "/files/activations/shards"]) {
      const r = await raw(path);
      expect(r.status, path).toBeGreaterThanOrEqual(400);
      expect(r.status, path).toBeLessThan(500);
      expect(r.body).not.toContain("index.html");
    }
  });

  it("answers bad API requests with 4xx and JSON, and stays up", async () => {
    const cases: [string, number][] = [
      ["/api/neuron/abc", 400],
      ["/api/neuron/L5:99", 404],
      ["/api/neuron/99999", 404],
      ["/api/neuron/%zz", 400],
      ["/api/neuron/1/extra", 404],
      ["/api/neuron/43?lines=x", 400],
      ["/api/neuron/43?lines=100000", 400],
      ["/api/neurons", 400],
      ["/api/neurons?layer=x", 400],
      ["/api/neurons?layer=40", 404],
      ["/api/neurons?class=NOPE", 404],
      ["/api/neurons?concept=NOPE", 404],
      // Query strings are data: names of Object.prototype's members are unknown classes (issue 17, finding 8).
      ["/api/neurons?class=__proto__", 404],
      ["/api/neurons?class=constructor", 404],
      ["/api/neurons?class=toString", 404],
      ["/api/neurons?class=hasOwnProperty", 404],
      ["/api/neurons?class=valueOf", 404],
      ["/api/neurons?concept=__proto__", 404],
      ["/api/neurons?concept=constructor", 404],
      ["/api/search?token=__proto__", 200],
      ["/api/search?token=constructor", 200],
      ["/api/search", 400],
      [`/api/search?token=${"x".repeat(300)}`, 400],
      ["/api/compare?a=43", 400],
      ["/api/compare?a=43&b=-1", 400],
      ["/api/nothing", 404],
      ["/nothing", 404],
    ];
    for (const [path, status] of cases) {
      const r = await raw(path);
      expect(r.status, path).toBe(status);
      if (status !== 200) expect(JSON.parse(r.body).error, path).toBeTypeOf("string");
      else expect((JSON.parse(r.body) as SearchResponse).occurrences, path).toBe(0);
    }
    for (const method of ["POST", "PUT", "DELETE"])
      expect((await raw("/api/meta", { method })).status).toBe(405);
    expect((await raw("/api/meta", { host: "evil.example:80" })).status).toBe(403);
    expect((await raw("/api/meta")).status).toBe(200);
  });

  it("fuzz: random request paths get a status below 500 and never the secret", async () => {
    const rng = new Rng(99);
    const parts = [
      "/",
      "..",
      "%2e",
      "%2f",
      "%5c",
      "%00",
      "%",
      "files",
      "api",
      "neuron",
      "report",
      "leak.txt",
      "?",
      "=",
      "&",
      "L5:3",
      "lines",
      "token",
      "a",
      "43",
      "%ff",
      "~",
    ];
    for (let i = 0; i < 300; i++) {
      let path = "/";
      for (let k = 0; k < 1 + rng.int(7); k++) path += parts[rng.int(parts.length)];
      const r = await raw(path);
      expect(r.status, path).toBeLessThan(500);
      expect(r.body).not.toContain(SECRET);
    }
    expect((await raw("/api/meta")).status).toBe(200);
  });

  it("sends security headers", async () => {
    const r = await raw("/");
    expect(r.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
  });
});

describe("explorer API", () => {
  it("describes the results", async () => {
    const meta = await json<MetaResponse>("/api/meta");
    expect(meta.layers.length).toBe(13);
    expect(meta.hidden).toBe(8);
    expect(meta.hasStore && meta.hasConcepts).toBe(true);
    expect(meta.report).toBeNull();
    expect(meta.concepts.find((c) => c.name === "NUMBER")?.count).toBe(1);
    expect(meta.interventions).toBe(3);
  });

  it("shows the intervention experiments that changed a neuron, smallest set first", async () => {
    const n = await json<NeuronResponse>("/api/neuron/L5:3");
    expect(n.interventions.map((e) => [e.label, e.neurons])).toEqual([
      ["top:NUMBER:1", 1],
      ["top:NUMBER:3", 3],
    ]);
    const number = n.interventions[0].classes.find((c) => c.class === "NUMBER")!;
    expect(number).toEqual({
      class: "NUMBER",
      rows: 25,
      before: { accuracy: 0.6, loss: 1.8 },
      after: { accuracy: 0.2, loss: 2.6 },
      random: { accuracy: { mean: 0.58, sd: 0.02 }, loss: { mean: 1.84, sd: 0.02 } },
    });
    expect(n.interventions[0].classes.map((c) => c.class)).toEqual([...SIX_CLASSES, "all classes"]);
    expect([n.interventions[0].mode, n.interventions[0].evaluation, n.interventions[0].controls]).toEqual([
      "zero",
      "masked-lm",
      4,
    ]);
    const string = await json<NeuronResponse>("/api/neuron/L8:5");
    expect(string.interventions.map((e) => e.label)).toEqual(["concept:STRING", "top:NUMBER:3"]);
    expect((await json<NeuronResponse>("/api/neuron/L0:0")).interventions).toEqual([]);
  });

  it("shows a neuron's top words, class means and coloured lines", async () => {
    const n = await json<NeuronResponse>("/api/neuron/L5:3");
    expect(n.id).toBe(43);
    expect(n.concept?.name).toBe("NUMBER");
    expect(n.topWords.positive.slice(0, 5).every((w) => w.label === "NUMBER")).toBe(true);
    const means = Object.fromEntries(n.classMeans.map((c) => [c.class, c.mean!]));
    expect(means.NUMBER).toBeGreaterThan(means.IDENT + 2);
    for (const l of n.lines) expect(l.activations[0].length).toBe(l.words.length);
    const chosen = await json<NeuronResponse>("/api/neuron/43?lines=0,2");
    expect(chosen.lines.slice(0, 2).map((l) => l.sentence)).toEqual([0, 2]);
  });

  it("names the rows of each statistic: the store's words, and the report's (concepts.json's) task tokens", async () => {
    const n = await json<NeuronResponse>("/api/neuron/L5:3");
    expect(n.population.kind).toBe("store");
    expect(n.population.description).toMatch(/^all words/);
    const concepts = JSON.parse(
      readFileSync(join(dir, "concepts", "concepts.json"), "utf8"),
    ) as ConceptsResult;
    expect(n.inReport?.population).toEqual({
      kind: "task",
      rows: concepts.corpus.rows,
      description: concepts.population!.description,
    });
    // The report's top words are concepts.json's, word for word.
    const report = concepts.neurons.find((x) => x.id === 43)!;
    expect(n.inReport?.topWords.positive.map((w) => w.word)).toEqual(
      report.topWords.positive.map((w) => w.word),
    );
  });

  it("errors name the neuron as it was typed, and the layers there are", async () => {
    const past = await raw("/api/compare?a=L5:3&b=L40:2");
    expect(past.status).toBe(404);
    expect(JSON.parse(past.body).error).toMatch(/^neuron L40:2 is not in the stored layers: L0 … L\d+$/);
    const bad = await raw("/api/compare?a=L5:3&b=L5-2");
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toMatch(/^L5-2: /);
    const id = await raw("/api/neuron/99999");
    expect(JSON.parse(id.body).error).toMatch(/^99999: |neuron 99999 \(L\d+:\d+\)/);
  });

  it("finds the number neuron by searching a number", async () => {
    const r = await json<SearchResponse>("/api/search?token=0");
    expect(r.occurrences).toBeGreaterThan(0);
    expect(r.neurons[0].name).toBe("L5:3");
    const none = await json<SearchResponse>("/api/search?token=retur");
    expect(none.occurrences).toBe(0);
    expect(none.suggestions).toContain("return");
  });

  it("compares two neurons with the correlation of their activations", async () => {
    const r = await json<CompareResponse>("/api/compare?a=L5:3&b=69");
    const store = await ActivationStore.open(join(dir, "activations"));
    const m = await store.readAll({ neurons: [43, 69] });
    store.close();
    const a = Array.from({ length: m.rows }, (_, i) => m.data[2 * i]);
    const b = Array.from({ length: m.rows }, (_, i) => m.data[2 * i + 1]);
    const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
    const [ma, mb] = [mean(a), mean(b)];
    const cov = a.reduce((s, v, i) => s + (v - ma) * (b[i] - mb), 0);
    const va = a.reduce((s, v) => s + (v - ma) ** 2, 0);
    const vb = b.reduce((s, v) => s + (v - mb) ** 2, 0);
    // Same float64 sums in a different order: 1e-9 absolute on a correlation is ample.
    expect(Math.abs(r.correlation! - cov / Math.sqrt(va * vb))).toBeLessThan(1e-9);
    expect(r.scatter.length).toBe(m.rows);
    expect(r.lines.every((l) => l.activations.length === 2)).toBe(true);
  });
});

describe("explorer without an activation store", () => {
  it("still browses concepts.json, and refuses search with a 4xx", async () => {
    const base = await mkdtemp(join(tmpdir(), "cn-serve-concepts-"));
    cpSync(join(dir, "concepts"), join(base, "concepts"), { recursive: true });
    const small = await startExplorer({ resultsDir: base, port: 0 });
    try {
      const get = (p: string) =>
        fetch(`${small.url}${p.slice(1)}`).then(async (r) => ({ status: r.status, body: await r.json() }));
      expect((await get("/api/meta")).body.hasStore).toBe(false);
      const n = await get("/api/neuron/L5:3");
      expect(n.status).toBe(200);
      expect(n.body.topWords.positive[0].label).toBe("NUMBER");
      expect(n.body.lines.length).toBeGreaterThan(0);
      expect((await get("/api/neuron/L5:4")).status).toBe(404);
      expect((await get("/api/search?token=0")).status).toBe(409);
    } finally {
      await small.close();
    }
  });
});

describe("explorer over a store with both sites", () => {
  let both: RunningExplorer;
  let bothDir: string;
  const get = async <T>(p: string): Promise<{ status: number; body: T }> => {
    const r = await fetch(`${both.url}${p.slice(1)}`);
    return { status: r.status, body: (await r.json()) as T };
  };

  beforeAll(async () => {
    bothDir = await mkdtemp(join(tmpdir(), "cn-serve-sites-"));
    await makeResultsDir(bothDir, { mlp: true });
    both = await startExplorer({ resultsDir: bothDir, port: 0 });
  });

  afterAll(async () => {
    await both?.close();
  });

  it("describes both sites; classes and concepts stay of concepts.json's site", async () => {
    const meta = (await get<MetaResponse>("/api/meta")).body;
    expect(meta.site).toBe("hidden");
    expect(meta.conceptsSite).toBe("hidden");
    expect(meta.sites.map((s) => [s.site, s.width, s.layers.length])).toEqual([
      ["hidden", 8, 13],
      ["mlp", 12, 12],
    ]);
    expect(meta.sites[1].layers[0]).toBe(1);
  });

  it("lists an MLP layer, opens MLP neurons by name or by id of the site, refuses what is not there", async () => {
    const list = (await get<NeuronsResponse>("/api/neurons?layer=4&site=mlp")).body;
    expect(list.title).toBe("Layer 4 MLP");
    expect(list.neurons.map((n) => n.name)).toEqual(Array.from({ length: 12 }, (_, u) => `L4.mlp:${u}`));
    const { id } = FIXTURE.mlp.planted;
    const byName = (await get<NeuronResponse>("/api/neuron/L4.mlp:7")).body;
    expect([byName.site, byName.id, byName.name, byName.layer]).toEqual(["mlp", id, "L4.mlp:7", 4]);
    expect(byName.topWords.positive.slice(0, 5).every((w) => w.label === "NUMBER")).toBe(true);
    // An MLP neuron is not the hidden neuron of the same id, and says nothing of concepts.json's.
    expect(byName.concept).toBeNull();
    expect((await get<NeuronResponse>(`/api/neuron/${id}?site=mlp`)).body.name).toBe("L4.mlp:7");
    expect((await get<NeuronResponse>(`/api/neuron/${id}`)).body.name).toBe("L6:7");
    const wide = await get<{ error: string }>("/api/neuron/L4.mlp:12");
    expect(wide.status).toBe(404);
    expect(wide.body.error).toMatch(/unit 12 is out of range: the mlp site has 12 neurons per layer/);
    expect((await get("/api/neurons?layer=0&site=mlp")).status).toBe(404);
    expect((await get("/api/neuron/L0.mlp:3")).status).toBe(404);
    expect((await get("/api/neurons?layer=1&site=attn")).status).toBe(400);
    expect((await get("/api/neuron/L1.attn:3")).status).toBe(400);
  });

  it("--site picks the site shown first; a site the results lack is refused", async () => {
    const mlpFirst = await startExplorer({ resultsDir: bothDir, port: 0, site: "mlp" });
    try {
      const meta = (await fetch(`${mlpFirst.url}api/meta`).then((r) => r.json())) as MetaResponse;
      expect([meta.site, meta.layers[0], meta.conceptsSite]).toEqual(["mlp", 1, "hidden"]);
      const n = (await fetch(`${mlpFirst.url}api/neuron/${FIXTURE.mlp.planted.id}`).then((r) =>
        r.json(),
      )) as NeuronResponse;
      expect(n.name).toBe("L4.mlp:7");
    } finally {
      await mlpFirst.close();
    }
    await expect(startExplorer({ resultsDir: dir, port: 0, site: "mlp" })).rejects.toThrow(
      /--site mlp: the results hold only the hidden site/,
    );
  });

  it("searches one site's neurons, and compares neurons of two sites", async () => {
    const mlp = (await get<SearchResponse>("/api/search?token=0&site=mlp")).body;
    expect(mlp.site).toBe("mlp");
    expect(mlp.neurons[0].name).toBe("L4.mlp:7");
    expect(mlp.neurons.every((n) => n.site === "mlp")).toBe(true);
    expect((await get<SearchResponse>("/api/search?token=0")).body.neurons[0].name).toBe("L5:3");
    const r = (await get<CompareResponse>("/api/compare?a=L5:3&b=L4.mlp:7")).body;
    expect([r.a.name, r.b.name]).toEqual(["L5:3", "L4.mlp:7"]);
    // Both fire on numbers.
    expect(r.correlation!).toBeGreaterThan(0.3);
    expect(
      r.lines.every((l) => l.activations.length === 2 && l.activations[1].length === l.words.length),
    ).toBe(true);
  });
});

describe("concepts.json and the store must be of one site", () => {
  it("refuses concepts of a site the store lacks, naming the file and field; reads version 1 files", async () => {
    const base = await mkdtemp(join(tmpdir(), "cn-serve-mismatch-"));
    cpSync(dir, base, { recursive: true, verbatimSymlinks: true });
    const file = join(base, "concepts", "concepts.json");
    const concepts = JSON.parse(readFileSync(file, "utf8"));
    writeFileSync(file, JSON.stringify({ ...concepts, site: "mlp" }));
    const refused = await startExplorer({ resultsDir: base, port: 0 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InputError);
    expect((refused as InputError).message).toMatch(
      /concepts\.json \(field 'site'\): holds mlp-site neurons .*has only the hidden site/,
    );
    // Before sites: version 1 (named by `schema`) with `hidden`, the residual stream.
    const { site: _s, width, format: _f, ...v1 } = concepts;
    writeFileSync(file, JSON.stringify({ ...v1, schema: "codeneurons.concepts", version: 1, hidden: width }));
    const old = await startExplorer({ resultsDir: base, port: 0 });
    try {
      const n = (await fetch(`${old.url}api/neuron/L5:3`).then((r) => r.json())) as NeuronResponse;
      expect([n.site, n.concept?.name]).toEqual(["hidden", "NUMBER"]);
    } finally {
      await old.close();
    }
  });
});

describe("intervention.json must be of the explored neurons", () => {
  it("refuses another width or site, and a damaged file, naming the file and field", async () => {
    const base = await mkdtemp(join(tmpdir(), "cn-serve-iv-"));
    cpSync(dir, base, { recursive: true, verbatimSymlinks: true });
    const file = join(base, "intervene", "intervention.json");
    const good = JSON.parse(readFileSync(file, "utf8"));
    const refusal = async (value: unknown) => {
      writeFileSync(file, JSON.stringify(value));
      const e = await startExplorer({ resultsDir: base, port: 0 }).then(
        async (x) => {
          await x.close();
          return null;
        },
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(InputError);
      return (e as InputError).message;
    };
    expect(await refusal({ ...good, width: 16 })).toMatch(
      /intervention\.json \(field 'width'\): counts 16 neurons per layer, the results' hidden site has 8/,
    );
    expect(await refusal({ ...good, site: "mlp" })).toMatch(/\(field 'site'\): holds mlp-site experiments/);
    const missing = structuredClone(good);
    delete missing.experiments[1].controls.perClass.STRING;
    expect(await refusal(missing)).toMatch(
      /\(field 'experiments\[1\]\.controls\.perClass'\): no score for class 'STRING'/,
    );
    expect(await refusal({ ...good, experiments: "x" })).toMatch(/field 'experiments'/);
  });
});

describe("explorer start-up: files of the results directory that point outside it (issue 17, finding 8)", () => {
  /** A copy of the results directory with `file` replaced by a symlink to a copy of it outside. */
  async function linkedOut(file: string): Promise<string> {
    const base = await mkdtemp(join(tmpdir(), "cn-serve-link-"));
    const results = join(base, "results");
    cpSync(dir, results, { recursive: true, verbatimSymlinks: true });
    const outside = join(base, "outside.copy");
    cpSync(join(results, file), outside);
    rmSync(join(results, file));
    symlinkSync(outside, join(results, file));
    return results;
  }

  for (const file of [
    "activations/words.txt",
    "activations/index.json",
    "activations/shards/00000.safetensors",
    "concepts/concepts.json",
    "intervene/intervention.json",
  ]) {
    it(`refuses ${file} linked outside, naming it`, async () => {
      const results = await linkedOut(file);
      const started = startExplorer({ resultsDir: results, port: 0 });
      const refused = await started.then(
        async (e) => {
          // A shard is opened on first use: the first request that reads it must fail, not leak.
          const r = await fetch(`${e.url}api/neuron/L5:3`);
          await e.close();
          return new Error(`served ${r.status}: ${await r.text()}`);
        },
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(InputError);
      expect((refused as InputError).message).toContain(join(results, file));
      expect((refused as InputError).message).toMatch(/outside/);
    });
  }
});
