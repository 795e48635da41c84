import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { filesToDownload, findCachedModel, resolveModelDir } from "../../src/model/hub.js";
import { loadTokenizer } from "../../src/model/tokenizer/index.js";
import { loadCheckpointWeights } from "../../src/model/weights/index.js";
import { InputError, UserError } from "../../src/util/errors.js";

/**
 * The hub path without network: a fake cache in the standard layout (as huggingface_hub writes it) must
 * load offline; anything not cached must fail fast with a message that names the model and says how to
 * fix it. No test reaches the network (test/setup/no-network.ts refuses connections beyond this
 * machine), so the online path runs against local servers, and against a refused huggingface.co.
 */
const FIXTURES = join(import.meta.dirname, "../fixtures");
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const tmp = mkdtempSync(join(tmpdir(), "cn-hub-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ENV_KEYS = [
  "HF_HOME",
  "HF_HUB_CACHE",
  "HUGGINGFACE_HUB_CACHE",
  "HF_HUB_OFFLINE",
  "HF_ENDPOINT",
  "HF_TOKEN",
];
let savedEnv: Record<string, string | undefined> = {};
beforeEach(() => {
  savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of ENV_KEYS) delete process.env[k];
  process.env.HF_HOME = join(tmp, "hf-home");
});
afterEach(() => {
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

/** Writes a model into the cache as huggingface_hub does: blobs named by hash, snapshot symlinks, a ref. */
function cacheModel(id: string, files: Record<string, string>, ref = "main") {
  const repo = join(tmp, "hf-home", "hub", `models--${id.replace("/", "--")}`);
  const snapshot = join(repo, "snapshots", COMMIT);
  mkdirSync(join(repo, "blobs"), { recursive: true });
  mkdirSync(snapshot, { recursive: true });
  for (const [name, source] of Object.entries(files)) {
    const bytes = readFileSync(source);
    const blob = join(repo, "blobs", createHash("sha256").update(bytes).digest("hex"));
    writeFileSync(blob, bytes);
    symlinkSync(relative(snapshot, blob), join(snapshot, name));
  }
  mkdirSync(join(repo, "refs"), { recursive: true });
  writeFileSync(join(repo, "refs", ref), COMMIT);
  return snapshot;
}

const TINY = {
  "config.json": join(FIXTURES, "tokenizers/bpe-roberta/tokenizer_config.json"),
  "model.safetensors": join(FIXTURES, "checkpoints/st/model.safetensors"),
  "tokenizer.json": join(FIXTURES, "tokenizers/bpe-roberta-json/tokenizer.json"),
  "tokenizer_config.json": join(FIXTURES, "tokenizers/bpe-roberta-json/tokenizer_config.json"),
};

async function failure(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => new Error("expected a failure"),
    (err: unknown) => err as Error,
  );
  expect(e).toBeInstanceOf(UserError);
  return e;
}

describe("resolveModelDir", () => {
  it("uses a local directory as it is", async () => {
    const dir = join(FIXTURES, "checkpoints/st");
    expect(await resolveModelDir(dir)).toBe(dir);
    await expect(resolveModelDir("./no/such/dir")).rejects.toBeInstanceOf(InputError);
  });

  it("loads a cached model with no network: the hub address is unusable and it still works", async () => {
    const snapshot = cacheModel("org/tiny", TINY);
    process.env.HF_ENDPOINT = "http://127.0.0.1:9";
    const dir = await resolveModelDir("org/tiny", { timeoutMs: 2000 });
    expect(dir).toBe(snapshot);
    expect(await resolveModelDir("org/tiny", { revision: COMMIT })).toBe(snapshot);
    process.env.HF_HUB_OFFLINE = "1";
    expect(await resolveModelDir("org/tiny")).toBe(snapshot);
    // The resolved directory is a real model directory for the other loaders.
    expect(loadCheckpointWeights(dir).get("f32.weight")?.shape).toEqual([3, 4]);
    expect((await loadTokenizer(dir)).kind).toBe("tokenizer.json");
  });

  it("with HF_HUB_OFFLINE=1, a model not in the cache fails at once, naming it and the fix", async () => {
    process.env.HF_HUB_OFFLINE = "1";
    const e = await failure(resolveModelDir("org/absent"));
    expect(e.message).toContain("'org/absent'");
    expect(e.message).toContain("HF_HUB_OFFLINE");
    expect(e.message).toContain(join(tmp, "hf-home", "hub"));
    expect(e.message).toContain("local model directory");
  });

  it("with HF_HUB_OFFLINE=1, an incomplete snapshot says what it lacks", async () => {
    cacheModel("org/partial", {
      "config.json": TINY["config.json"],
      "tokenizer.json": TINY["tokenizer.json"],
    });
    process.env.HF_HUB_OFFLINE = "1";
    const e = await failure(resolveModelDir("org/partial"));
    expect(e.message).toContain("lacks weights");
    expect(findCachedModel("org/partial", "main", join(tmp, "hf-home", "hub")).missing).toHaveLength(1);
  });

  it("without network, a model not in the cache fails with a clear message within the timeout", async () => {
    const e = await failure(resolveModelDir("codeneurons-test/not-cached", { timeoutMs: 3000 }));
    expect(e.message).toContain("'codeneurons-test/not-cached'");
    expect(e.message).toContain("no complete copy in the cache");
    // The test setup refuses the connection to huggingface.co before any name lookup.
    expect(e.message).toMatch(/could not reach https:\/\/huggingface.co|HTTP 40[134]/);
  }, 15_000);

  it("gives up on a hub that accepts the connection but never answers (timeout)", async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
    const { port } = silent.address() as AddressInfo;
    process.env.HF_ENDPOINT = `http://127.0.0.1:${port}`;
    try {
      const e = await failure(resolveModelDir("org/absent", { timeoutMs: 1500 }));
      expect(e.message).toContain(`could not reach http://127.0.0.1:${port}`);
      expect(e.message).toContain("no answer within 1.5 s");
      expect(sockets.length).toBeGreaterThan(0);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  }, 15_000);

  it("says so when HF_TOKEN is not a hub token", async () => {
    process.env.HF_TOKEN = "not-a-token";
    const e = await failure(resolveModelDir("org/absent", { timeoutMs: 1500 }));
    expect(e.message).toContain("HF_TOKEN is not a Hugging Face access token");
  });

  it("rejects strings that are neither directories nor hub ids", async () => {
    await failure(resolveModelDir("bad id with spaces"));
    await failure(resolveModelDir("org--x/y"));
  });
});

describe("filesToDownload", () => {
  it("prefers safetensors and tokenizer.json, and skips what is not needed", () => {
    const listing = [
      "config.json",
      "pytorch_model.bin",
      "model.safetensors",
      "tf_model.h5",
      "tokenizer.json",
      "tokenizer_config.json",
      "vocab.json",
      "merges.txt",
      "README.md",
    ];
    expect(filesToDownload(listing)).toEqual([
      "config.json",
      "tokenizer.json",
      "tokenizer_config.json",
      "model.safetensors",
    ]);
  });

  it("falls back to vocabulary files and sharded .bin", () => {
    const listing = [
      "config.json",
      "vocab.txt",
      "tokenizer_config.json",
      "pytorch_model.bin.index.json",
      "x.bin",
    ];
    expect(filesToDownload(listing)).toEqual([
      "config.json",
      "tokenizer_config.json",
      "vocab.txt",
      "pytorch_model.bin.index.json",
    ]);
  });
});

/**
 * Tests never reach huggingface.co, so the download path runs against a small local server that
 * answers the four hub endpoints @huggingface/hub uses (model info, tree, paths-info, resolve with
 * ranges). It checks what codeneurons asks for and what lands in the cache, not the real hub.
 */
describe("downloading into the cache (local stand-in for the hub)", () => {
  const SHA = "fedcba9876543210fedcba9876543210fedcba98";
  const config = join(tmp, "remote-config.json");
  writeFileSync(config, JSON.stringify({ model_type: "roberta" }));
  const SERVED: Record<string, string> = {
    "config.json": config,
    "tokenizer.json": TINY["tokenizer.json"],
    "tokenizer_config.json": TINY["tokenizer_config.json"],
    "model.safetensors.index.json": join(FIXTURES, "checkpoints/st-sharded/model.safetensors.index.json"),
    "model-00001-of-00002.safetensors": join(
      FIXTURES,
      "checkpoints/st-sharded/model-00001-of-00002.safetensors",
    ),
    "model-00002-of-00002.safetensors": join(
      FIXTURES,
      "checkpoints/st-sharded/model-00002-of-00002.safetensors",
    ),
    "pytorch_model.bin": join(FIXTURES, "checkpoints/bin-zip/pytorch_model.bin"),
    "vocab.json": join(FIXTURES, "tokenizers/bpe-roberta/vocab.json"),
  };
  const oid = (f: string) => createHash("sha1").update(readFileSync(SERVED[f])).digest("hex");
  const requests: { method: string; path: string; auth?: string }[] = [];

  function serve(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://x");
    requests.push({ method: req.method ?? "", path: url.pathname, auth: req.headers.authorization });
    const json = (v: unknown) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(v));
    };
    const entry = (f: string) => ({
      type: "file",
      path: f,
      size: readFileSync(SERVED[f]).length,
      oid: oid(f),
    });
    if (url.pathname === "/api/models/org/remote/revision/main")
      return json({ _id: "1", id: "org/remote", sha: SHA });
    if (url.pathname === `/api/models/org/remote/tree/${SHA}`) return json(Object.keys(SERVED).map(entry));
    if (url.pathname === `/api/models/org/remote/paths-info/${SHA}`) {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () =>
        json((JSON.parse(body).paths as string[]).map((f) => ({ ...entry(f), lastCommit: { id: SHA } }))),
      );
      return;
    }
    const file = url.pathname.slice(`/org/remote/resolve/${SHA}/`.length);
    if (url.pathname.startsWith(`/org/remote/resolve/${SHA}/`) && SERVED[file]) {
      const bytes = readFileSync(SERVED[file]);
      const range = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? "");
      const [start, end] = range ? [Number(range[1]), Number(range[2])] : [0, bytes.length - 1];
      res.writeHead(range ? 206 : 200, {
        etag: `"${oid(file)}"`,
        "content-range": `bytes ${start}-${end}/${bytes.length}`,
        "content-length": end - start + 1,
      });
      res.end(bytes.subarray(start, end + 1));
      return;
    }
    res.writeHead(404, { "x-error-code": "RepoNotFound" });
    res.end();
  }

  it("downloads config, tokenizer and the safetensors shards only, then loads offline", async () => {
    const server = createHttpServer(serve);
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    process.env.HF_ENDPOINT = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    process.env.HF_TOKEN = "hf_test_token";
    let dir: string;
    try {
      dir = await resolveModelDir("org/remote", { quiet: true, timeoutMs: 5000 });
    } finally {
      server.close();
    }
    const cache = join(tmp, "hf-home", "hub", "models--org--remote");
    expect(dir).toBe(join(cache, "snapshots", SHA));
    expect(readFileSync(join(cache, "refs", "main"), "utf8")).toBe(SHA);
    const fetched = requests.filter((r) => r.path.includes("/resolve/")).map((r) => r.path.split("/").pop());
    expect(new Set(fetched)).toEqual(
      new Set([
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "model.safetensors.index.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
      ]),
    );
    expect(requests.every((r) => r.auth === "Bearer hf_test_token")).toBe(true);
    // The server is gone: the cached snapshot is complete and loads without it.
    expect(await resolveModelDir("org/remote")).toBe(dir);
    expect(loadCheckpointWeights(dir).size).toBeGreaterThan(0);
    expect((await loadTokenizer(dir)).kind).toBe("tokenizer.json");
  });
});
