import { realpathSync } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { extname, join, sep } from "node:path";
import { InputError } from "../util/errors.js";

/**
 * Containment of every file the explorer reads: a request names a path relative to the results
 * directory; it is decoded segment by segment (so `%2e%2e%2f` cannot smuggle a `..`), rebuilt, resolved
 * with realpath (so a symlink pointing out is seen for what it is) and must still lie inside the
 * directory's own realpath. Directories are never listed.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export class ResultsRoot {
  readonly real: string;

  constructor(readonly dir: string) {
    this.real = realpathSync(dir);
  }

  /** The real path of `relative` (already split into decoded segments) if it is a file inside the root. */
  async file(segments: string[]): Promise<string> {
    const real = await this.resolve(segments);
    const info = await stat(real);
    if (!info.isFile()) throw new HttpError(404, "not a file");
    return real;
  }

  /** Real path inside the root, or an HttpError: 403 when it escapes, 404 when it does not exist. */
  async resolve(segments: string[]): Promise<string> {
    for (const s of segments) checkSegment(s);
    let real: string;
    try {
      real = await realpath(join(this.real, ...segments));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") throw new HttpError(404, "no such file");
      throw new HttpError(403, "cannot read this path");
    }
    if (!this.contains(real)) throw new HttpError(403, "outside the results directory");
    return real;
  }

  /**
   * Like resolve, for the explorer's own data files (read at start-up): null when absent; a file that
   * resolves outside the directory (a symlink pointing out) is an InputError, not quietly skipped.
   */
  async optional(...segments: string[]): Promise<string | null> {
    try {
      return await this.resolve(segments);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      if (e.status === 404) return null;
      const path = join(this.dir, ...segments);
      throw new InputError(path, `${e.message} (${this.real}): the explorer reads only files inside it`);
    }
  }

  contains(real: string): boolean {
    return real === this.real || real.startsWith(this.real.endsWith(sep) ? this.real : this.real + sep);
  }
}

/** Splits the raw URL path after a prefix into decoded segments; rejects anything that is not a plain name. */
export function pathSegments(rawPath: string): string[] {
  const parts = rawPath.split("/").filter((p, i, all) => !(p === "" && (i === 0 || i === all.length - 1)));
  return parts.map((p) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(p);
    } catch {
      throw new HttpError(400, "malformed percent-encoding in the path");
    }
    checkSegment(decoded);
    return decoded;
  });
}

function checkSegment(s: string): void {
  if (s === "" || s === "." || s === "..")
    throw new HttpError(400, "path segments '', '.' and '..' are not allowed");
  if (/[/\\\0]/.test(s)) throw new HttpError(400, "path segments cannot contain slashes or NUL");
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".tsv": "text/tab-separated-values; charset=utf-8",
};

export function contentType(path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? "application/octet-stream";
}
