/**
 * A copy of `opts` without the keys whose value is undefined, to spread over defaults:
 * `{ ...DEFAULTS, ...definedOptions(opts) }`. A plain spread would let an option given as undefined
 * (a CLI flag left out, `{ seed: opts.seed }`) replace its default with undefined.
 */
export function definedOptions<T extends object>(opts: T): T {
  return Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as T;
}
