import { describe, expect, it } from "vitest";
import { definedOptions } from "../../src/util/options.js";

describe("definedOptions", () => {
  it("drops undefined options so that they keep their defaults; null, 0, false and '' are given values", () => {
    const defaults = { a: 1, b: 2, c: 3, d: true, e: "x", f: 4 as number | null };
    const opts: Partial<typeof defaults> = { a: undefined, b: 0, d: false, e: "", f: null };
    expect({ ...defaults, ...definedOptions(opts) }).toEqual({ a: 1, b: 0, c: 3, d: false, e: "", f: null });
    expect(opts).toEqual({ a: undefined, b: 0, d: false, e: "", f: null }); // the input is not changed
  });
});
