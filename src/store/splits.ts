import { existsSync } from "node:fs";
import { join } from "node:path";
import { SPLITS, type SplitName } from "../data/splits.js";
import { InputError } from "../util/errors.js";
import { ActivationStore } from "./reader.js";

/** The stores a task's splits read from: task rows name (sentence, word) of their split's input file. */
export type SplitStores = Record<SplitName, ActivationStore>;

/**
 * Opens the stores behind a task. `dir` is either one store (every split refers to lines of the same
 * input file) or a directory with train/, valid/ and test/ stores (one per split input file, as
 * `codeneurons run` writes them).
 */
export async function openSplitStores(dir: string): Promise<SplitStores> {
  if (existsSync(join(dir, "index.json")) || existsSync(join(dir, "plan.json"))) {
    const one = await ActivationStore.open(dir);
    return { train: one, valid: one, test: one };
  }
  const missing = SPLITS.filter((s) => !existsSync(join(dir, s)));
  if (missing.length > 0) {
    throw new InputError(
      dir,
      `is neither an activation store nor a directory of per-split stores (missing ${missing.join(", ")}/)`,
    );
  }
  const [train, valid, test] = await Promise.all(SPLITS.map((s) => ActivationStore.open(join(dir, s))));
  for (const [name, s] of [
    ["valid", valid],
    ["test", test],
  ] as const) {
    if (
      JSON.stringify(s.meta.layers) !== JSON.stringify(train.meta.layers) ||
      s.meta.hidden !== train.meta.hidden ||
      s.meta.model !== train.meta.model
    ) {
      throw new InputError(join(dir, name), "holds other layers or another model than the train store");
    }
  }
  return { train, valid, test };
}

export function closeSplitStores(stores: SplitStores): void {
  for (const s of new Set(Object.values(stores))) s.close();
}
