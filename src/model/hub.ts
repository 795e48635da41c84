import { existsSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { downloadFileToCacheDir, listFiles, modelInfo } from "@huggingface/hub";
import { writeFileAtomic } from "../util/atomic.js";
import { errorMessage, InputError, UserError } from "../util/errors.js";
import { log } from "../util/progress.js";
import { CONFIG_FILE, findWeightFiles, readShardIndex, TOKENIZER_FILES, WEIGHT_FILES } from "./files.js";

/**
 * Model directories from the Hugging Face hub, through the standard cache layout shared with Python
 * (huggingface_hub): <cache>/models--org--name/{refs/<revision>, snapshots/<commit>/…, blobs/…}. A model
 * whose snapshot in the cache is complete loads without any network call; otherwise the needed files
 * (config, tokenizer, weights — safetensors preferred) are downloaded with @huggingface/hub.
 */

export interface ResolveModelOptions {
  /** Branch, tag or commit (default "main"). */
  revision?: string;
  /** The hub cache (default: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** How long to wait for the hub to answer one request (default 15 s). */
  timeoutMs?: number;
  /** The hub's address (default: HF_ENDPOINT, else https://huggingface.co). */
  hubUrl?: string;
  /** No progress lines on stderr. */
  quiet?: boolean;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const COMMIT = /^[0-9a-f]{40}$/;
const HUB_ID = /^[A-Za-z0-9][\w.-]{0,95}(\/[A-Za-z0-9][\w.-]{0,95})?$/;

/** The hub cache directory, resolved from the environment as huggingface_hub does. */
export function hubCacheDir(): string {
  const env = process.env;
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HUGGINGFACE_HUB_CACHE) return env.HUGGINGFACE_HUB_CACHE;
  return join(hfHome(), "hub");
}

function hfHome(): string {
  return process.env.HF_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "huggingface");
}

/** HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set to 1/true/yes/on. */
export function isOffline(): boolean {
  const on = (v: string | undefined) =>
    v !== undefined && ["1", "true", "yes", "on"].includes(v.toLowerCase());
  return on(process.env.HF_HUB_OFFLINE) || on(process.env.TRANSFORMERS_OFFLINE);
}

/** HF_TOKEN, else the token file that `huggingface-cli login` writes. */
function hubToken(): string | undefined {
  const env = process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN;
  if (env) return env;
  const path = process.env.HF_TOKEN_PATH ?? join(hfHome(), "token");
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

export function repoFolder(cacheDir: string, id: string): string {
  return join(cacheDir, `models--${id.split("/").join("--")}`);
}

export interface CachedModel {
  /** The snapshot directory, when the revision is in the cache. */
  dir: string | null;
  /** What the snapshot lacks to be loadable (empty when complete). */
  missing: string[];
}

/** The cached snapshot of `id` at `revision`, and what it lacks. Reads only the local disk. */
export function findCachedModel(id: string, revision: string, cacheDir: string): CachedModel {
  const repo = repoFolder(cacheDir, id);
  let commit = revision;
  if (!COMMIT.test(revision)) {
    const ref = join(repo, "refs", revision);
    if (!existsSync(ref)) return { dir: null, missing: [`refs/${revision}`] };
    commit = readFileSync(ref, "utf8").trim();
  }
  const dir = join(repo, "snapshots", commit);
  if (!existsSync(dir)) return { dir: null, missing: [`snapshots/${commit}`] };
  return { dir, missing: missingFiles(dir) };
}

/** Files a model directory needs to be loaded: config, a tokenizer, all weight files. */
export function missingFiles(dir: string): string[] {
  const has = (f: string) => existsSync(join(dir, f));
  const missing: string[] = [];
  if (!has(CONFIG_FILE)) missing.push(CONFIG_FILE);
  if (!has("tokenizer.json") && !has("vocab.txt") && !(has("vocab.json") && has("merges.txt"))) {
    missing.push("a tokenizer (tokenizer.json, vocab.txt or vocab.json + merges.txt)");
  }
  try {
    for (const f of findWeightFiles(dir).files) if (!existsSync(f)) missing.push(f.slice(dir.length + 1));
  } catch {
    missing.push(`weights (${WEIGHT_FILES.join(" or ")})`);
  }
  return missing;
}

/**
 * The files to download from a repository listing: config.json, the tokenizer files (tokenizer.json and
 * its configs when present, else the vocabulary files), and one weight format — safetensors first. Shards
 * named by an index json are added after the index is downloaded.
 */
export function filesToDownload(listing: readonly string[]): string[] {
  const present = new Set(listing);
  const files = [CONFIG_FILE];
  const tokenizerFiles = present.has("tokenizer.json")
    ? ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"]
    : [...TOKENIZER_FILES];
  files.push(...tokenizerFiles.filter((f) => present.has(f)));
  const weights = WEIGHT_FILES.find((f) => present.has(f));
  if (weights) files.push(weights);
  return files;
}

/**
 * A directory in Hugging Face layout for `idOrDir`: a local directory as is, else the hub model
 * `org/name` from the cache (downloading what is missing unless HF_HUB_OFFLINE is set).
 */
export async function resolveModelDir(idOrDir: string, opts: ResolveModelOptions = {}): Promise<string> {
  if (existsSync(idOrDir) && statSync(idOrDir).isDirectory()) return resolve(idOrDir);
  if (/^[./~]|\\/.test(idOrDir) || idOrDir.split("/").length > 2) {
    throw new InputError(idOrDir, "no such model directory");
  }
  if (!HUB_ID.test(idOrDir) || idOrDir.includes("--") || idOrDir.includes("..")) {
    throw new UserError(`'${idOrDir}' is neither a local directory nor a Hugging Face model id (org/name)`);
  }
  const revision = opts.revision ?? "main";
  const cacheDir = opts.cacheDir ?? hubCacheDir();
  const cached = findCachedModel(idOrDir, revision, cacheDir);
  if (cached.dir && cached.missing.length === 0) return cached.dir;
  if (isOffline()) throw offlineError(idOrDir, revision, cacheDir, cached);
  try {
    return await download(idOrDir, revision, cacheDir, opts);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw downloadError(idOrDir, revision, cacheDir, opts, e);
  }
}

function offlineError(id: string, revision: string, cacheDir: string, cached: CachedModel): UserError {
  const what = cached.dir
    ? `its cached snapshot ${cached.dir} lacks ${cached.missing.join(", ")}`
    : `it is not in the Hugging Face cache (${cacheDir})`;
  return new UserError(
    `cannot load model '${id}' (revision ${revision}): ${what}, and HF_HUB_OFFLINE forbids downloading it. ` +
      "Unset HF_HUB_OFFLINE and connect to download it, point HF_HOME/HF_HUB_CACHE at a cache that has it, " +
      "or pass a local model directory.",
  );
}

function downloadError(
  id: string,
  revision: string,
  cacheDir: string,
  opts: ResolveModelOptions,
  e: unknown,
) {
  const status = (e as { statusCode?: number }).statusCode;
  const hub = opts.hubUrl ?? process.env.HF_ENDPOINT ?? "https://huggingface.co";
  let why: string;
  if (status === 401 || status === 403) {
    why = `the hub refused access (HTTP ${status}): set HF_TOKEN to a token that may read this model`;
  } else if (e instanceof TypeError && /access token/i.test(e.message)) {
    why = `HF_TOKEN is not a Hugging Face access token (${e.message})`;
  } else if (status === 404) {
    why = `the hub has no model '${id}' at revision '${revision}' (HTTP 404)`;
  } else {
    const cause = (e as { cause?: unknown }).cause;
    why = `could not reach ${hub} (${errorMessage(e)}${cause ? `: ${errorMessage(cause)}` : ""})`;
  }
  return new UserError(
    `cannot load model '${id}' (revision ${revision}): ${why}, and there is no complete copy in the cache ` +
      `(${cacheDir}). Connect to the network (or set HF_ENDPOINT to a mirror), or pass a local model directory.`,
  );
}

/** fetch that gives up when the hub does not start answering within `timeoutMs`. */
function fetchWithTimeout(timeoutMs: number): typeof fetch {
  return async (input, init) => {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error(`no answer within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    const signal = init?.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal;
    try {
      return await fetch(input, { ...init, signal });
    } finally {
      clearTimeout(timer);
    }
  };
}

async function download(id: string, revision: string, cacheDir: string, opts: ResolveModelOptions) {
  const common = {
    hubUrl: opts.hubUrl ?? process.env.HF_ENDPOINT,
    accessToken: hubToken(),
    fetch: fetchWithTimeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS),
  };
  const info = await modelInfo({ ...common, name: id, revision, additionalFields: ["sha"] });
  const commit = info.sha;
  if (!commit || !COMMIT.test(commit))
    throw new UserError(`the hub gave no commit for '${id}' at '${revision}'`);
  const listing: string[] = [];
  for await (const entry of listFiles({ ...common, repo: id, revision: commit })) {
    if (entry.type === "file") listing.push(entry.path);
  }
  if (!listing.includes(CONFIG_FILE)) {
    throw new UserError(`'${id}' has no config.json: not a transformers model repository`);
  }
  const fetchFile = (path: string) => {
    if (!opts.quiet) log(`downloading ${id}/${path}`);
    return quietly(() => downloadFileToCacheDir({ ...common, repo: id, path, revision: commit, cacheDir }));
  };
  const files = filesToDownload(listing);
  const paths = new Map<string, string>();
  for (const f of files) paths.set(f, await fetchFile(f));
  const index = files.find((f) => f.endsWith(".index.json"));
  if (index) {
    const shards = new Set(readShardIndex(paths.get(index) as string).values());
    for (const shard of shards) await fetchFile(shard);
  }
  if (revision !== commit) await writeFileAtomic(join(repoFolder(cacheDir, id), "refs", revision), commit);
  return join(repoFolder(cacheDir, id), "snapshots", commit);
}

/**
 * @huggingface/hub reports each download with console.debug (and a symlink fallback with console.info),
 * which go to stdout; codeneurons keeps stdout for results (--json), so they are silenced meanwhile.
 */
async function quietly<T>(f: () => Promise<T>): Promise<T> {
  const { debug, info } = console;
  console.debug = () => {};
  console.info = (...args: unknown[]) => process.stderr.write(`${args.join(" ")}\n`);
  try {
    return await f();
  } finally {
    console.debug = debug;
    console.info = info;
  }
}
