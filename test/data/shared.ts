import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The project's shared data folder (../shared beside the repository, as DESIGN.md refers to it), or
 * $CODENEURONS_SHARED. Tests on the real data read it; it is not copied into the repository.
 */
export const SHARED_DIR =
  process.env.CODENEURONS_SHARED ??
  resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "shared");

export function sharedData(path: string): string {
  const full = join(SHARED_DIR, "data", path);
  if (!existsSync(full)) throw new Error(`shared data file missing: ${full} (set CODENEURONS_SHARED)`);
  return full;
}
