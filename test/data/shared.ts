import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * The project's shared data folder, the `shared` folder docs/DESIGN.md calls ../shared. Looked for in this
 * order: $CODENEURONS_SHARED; a `shared/data` beside the repository or beside any folder above it (a
 * clone may sit deeper than the main checkout); /work/shared, where this project's machines keep it.
 * Tests and benchmarks on the real data read it there; it is not copied into the repository.
 */
function findSharedDir(): string {
  const fromEnv = process.env.CODENEURONS_SHARED;
  if (fromEnv) return fromEnv;
  for (let dir = REPO_ROOT; ; dir = dirname(dir)) {
    const candidate = join(dirname(dir), "shared");
    if (existsSync(join(candidate, "data"))) return candidate;
    if (dirname(dir) === dir) break;
  }
  return "/work/shared";
}

export const SHARED_DIR = findSharedDir();

export function sharedData(path: string): string {
  const full = join(SHARED_DIR, "data", path);
  if (!existsSync(full)) throw new Error(`shared data file missing: ${full} (set CODENEURONS_SHARED)`);
  return full;
}
