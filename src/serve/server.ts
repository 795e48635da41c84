import { createReadStream } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { log } from "../util/progress.js";
import { appScript } from "./assets.js";
import { ExplorerData as Data, type ExplorerData, type ExplorerOptions } from "./data.js";
import { contentType, HttpError, pathSegments, ResultsRoot } from "./files.js";
import { APP_CSS, appHtml } from "./web/page.js";

export interface ServeOptions extends ExplorerOptions {
  resultsDir: string;
  /** 0 = any free port. */
  port?: number;
  host?: string;
  /** Log one line per request on stderr. */
  verbose?: boolean;
}

export interface RunningExplorer {
  url: string;
  port: number;
  server: Server;
  data: ExplorerData;
  close(): Promise<void>;
}

/** Starts the explorer; resolves once it listens. */
export async function startExplorer(opts: ServeOptions): Promise<RunningExplorer> {
  const root = new ResultsRoot(opts.resultsDir);
  const data = await Data.open(root, opts);
  const host = opts.host ?? "127.0.0.1";
  const script = await appScript();
  const server = createServer((req, res) => {
    handle(req, res, { root, data, script, host, verbose: opts.verbose ?? false }).catch((e) => fail(res, e));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    server,
    data,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        data.close();
      }),
  };
}

interface Context {
  root: ResultsRoot;
  data: ExplorerData;
  script: string;
  host: string;
  verbose: boolean;
}

const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "SAMEORIGIN",
  "Cross-Origin-Resource-Policy": "same-origin",
};

// The app itself loads only its own script and style; report pages under /files/ use inline styles.
const APP_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'";
const FILES_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'none'";

async function handle(req: IncomingMessage, res: ServerResponse, ctx: Context): Promise<void> {
  if (ctx.verbose) log(`${req.method} ${req.url}`);
  if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, "only GET and HEAD");
  checkHost(req, ctx.host);
  const raw = req.url ?? "/";
  if (!raw.startsWith("/")) throw new HttpError(400, "bad request target");
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  let query: URLSearchParams;
  try {
    query = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  } catch {
    throw new HttpError(400, "bad query string");
  }
  if (path === "/" || path === "/index.html")
    return send(res, 200, "text/html; charset=utf-8", appHtml(), APP_CSP);
  if (path === "/app.js") return send(res, 200, "text/javascript; charset=utf-8", ctx.script, APP_CSP);
  if (path === "/app.css") return send(res, 200, "text/css; charset=utf-8", APP_CSS, APP_CSP);
  if (path === "/favicon.ico") return send(res, 204, "text/plain", "", APP_CSP);
  if (path === "/report" || path === "/report/") {
    res.writeHead(302, { Location: "/files/report/index.html", ...SECURITY_HEADERS });
    res.end();
    return;
  }
  if (path.startsWith("/api/")) return sendJson(res, 200, await api(path.slice(5), query, ctx.data));
  if (path.startsWith("/files/")) return sendFile(req, res, await ctx.root.file(pathSegments(path.slice(7))));
  throw new HttpError(404, "no such page");
}

/**
 * A server bound to loopback answers only requests addressed to loopback names, so that a web page
 * elsewhere cannot reach it through DNS rebinding.
 */
function checkHost(req: IncomingMessage, bound: string): void {
  const loopback = bound === "127.0.0.1" || bound === "localhost" || bound === "::1";
  if (!loopback) return;
  const host = (req.headers.host ?? "").toLowerCase();
  const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.split(":")[0];
  if (!["127.0.0.1", "localhost", "[::1]"].includes(name)) throw new HttpError(403, "unexpected Host header");
}

async function api(route: string, q: URLSearchParams, data: ExplorerData): Promise<unknown> {
  const parts = route.split("/");
  if (route === "meta") return data.meta();
  if (route === "neurons") {
    const layer = q.get("layer");
    if (layer !== null) {
      if (!/^\d{1,4}$/.test(layer)) throw new HttpError(400, "layer must be a number");
      return data.neurons({ layer: Number(layer), site: data.siteParam(q.get("site")) });
    }
    const cls = q.get("class");
    if (cls !== null) return data.neurons({ cls });
    const concept = q.get("concept");
    if (concept !== null) return data.neurons({ concept });
    throw new HttpError(400, "give layer, class or concept");
  }
  if (parts[0] === "neuron" && parts.length === 2) {
    const site = data.siteParam(q.get("site"));
    return data.neuron(data.parseNeuron(decodeParam(parts[1]), site), parseLines(q.get("lines")));
  }
  if (route === "search") {
    const token = q.get("token");
    if (token === null || token === "" || token.length > 200)
      throw new HttpError(400, "give a token (1–200 characters)");
    return data.search(token, data.siteParam(q.get("site")));
  }
  if (route === "compare") {
    const site = data.siteParam(q.get("site"));
    return data.compare(data.parseNeuron(q.get("a"), site), data.parseNeuron(q.get("b"), site));
  }
  if (route === "latent") {
    const layer = q.get("layer");
    if (layer === null || !/^\d{1,4}$/.test(layer)) throw new HttpError(400, "layer must be a number");
    return data.latentClusters(Number(layer));
  }
  if (parts[0] === "latent" && parts.length === 3) {
    if (!/^\d{1,4}$/.test(parts[1]) || !/^\d{1,7}$/.test(parts[2]))
      throw new HttpError(400, "expected /api/latent/<layer>/<cluster>");
    return data.latentCluster(Number(parts[1]), Number(parts[2]));
  }
  throw new HttpError(404, "no such API route");
}

function decodeParam(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    throw new HttpError(400, "malformed percent-encoding");
  }
}

function parseLines(text: string | null): number[] {
  if (text === null || text === "") return [];
  const parts = text.split(",");
  if (parts.length > 20) throw new HttpError(400, "at most 20 lines");
  return parts.map((p) => {
    if (!/^\d{1,9}$/.test(p.trim())) throw new HttpError(400, `not a line number: '${p.slice(0, 20)}'`);
    return Number(p);
  });
}

function send(res: ServerResponse, status: number, type: string, body: string, csp: string): void {
  res.writeHead(status, {
    "Content-Type": type,
    "Cache-Control": "no-store",
    "Content-Security-Policy": csp,
    ...SECURITY_HEADERS,
  });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(value), APP_CSP);
}

function sendFile(req: IncomingMessage, res: ServerResponse, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = createReadStream(file);
    stream.once("open", () => {
      res.writeHead(200, {
        "Content-Type": contentType(file),
        "Content-Security-Policy": FILES_CSP,
        ...SECURITY_HEADERS,
      });
      if (req.method === "HEAD") {
        stream.destroy();
        res.end();
        resolve();
        return;
      }
      stream.pipe(res);
    });
    stream.once("error", (e) =>
      reject(new HttpError(404, `cannot read file (${(e as NodeJS.ErrnoException).code})`)),
    );
    stream.once("end", () => resolve());
  });
}

/** Every failure becomes a JSON error: HttpErrors with their status, anything else a 500 (and a log line). */
function fail(res: ServerResponse, e: unknown): void {
  const status = e instanceof HttpError ? e.status : 500;
  const message = e instanceof HttpError ? e.message : "internal error";
  if (!(e instanceof HttpError))
    log(`explorer: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: message });
}
