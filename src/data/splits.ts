/**
 * The three splits of every corpus, task and store, in the order results list them: the probe trains
 * on train, every choice (λs, layers, minimal sets) is made on valid (dev), and test is only reported.
 * The one list of them; every stage takes its split names from here.
 */
export const SPLITS = ["train", "valid", "test"] as const;
export type SplitName = (typeof SPLITS)[number];
export type PerSplit<T> = Record<SplitName, T>;

export function isSplitName(name: string): name is SplitName {
  return (SPLITS as readonly string[]).includes(name);
}

/** A value per split, computed in split order. */
export async function perSplit<T>(fn: (split: SplitName) => Promise<T>): Promise<PerSplit<T>> {
  const out = {} as PerSplit<T>;
  for (const s of SPLITS) out[s] = await fn(s);
  return out;
}
