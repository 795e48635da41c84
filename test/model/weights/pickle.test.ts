import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  PyDict,
  PyTuple,
  type PyValue,
  refusalMessage,
  unpickle,
} from "../../../src/model/weights/pickle.js";
import { resolveTorchGlobal } from "../../../src/model/weights/torch.js";
import { InputError } from "../../../src/util/errors.js";

// plain-p{0..5}.pkl: one structure pickled by CPython with every protocol (make_checkpoint_fixtures.py).
const PICKLES = join(import.meta.dirname, "../../fixtures/checkpoints/pickles");

/** The tagged JSON form written by the fixture script. */
function toJson(v: PyValue): unknown {
  if (v instanceof PyTuple) return { tuple: v.items.map(toJson) };
  if (v instanceof PyDict) return Object.fromEntries([...v.map].map(([k, x]) => [String(k), toJson(x)]));
  if (v instanceof Uint8Array) return { bytes: [...v] };
  if (typeof v === "bigint") return { int: v.toString() };
  if (Array.isArray(v)) return v.map(toJson);
  return v;
}

describe("unpickle", () => {
  const want = JSON.parse(readFileSync(join(PICKLES, "plain.json"), "utf8"));
  for (let proto = 0; proto <= 5; proto++) {
    it(`decodes CPython's protocol ${proto} exactly`, () => {
      const bytes = readFileSync(join(PICKLES, `plain-p${proto}.pkl`));
      const { value, end } = unpickle(bytes, { file: "plain", resolveGlobal: resolveTorchGlobal });
      expect(end).toBe(bytes.length);
      expect(toJson(value)).toEqual(want);
    });
  }

  it("keeps shared objects shared (memo)", () => {
    const bytes = readFileSync(join(PICKLES, "plain-p2.pkl"));
    const value = unpickle(bytes, { file: "plain", resolveGlobal: resolveTorchGlobal }).value as PyDict;
    const shared = value.map.get("shared") as PyValue[];
    expect(shared[0]).toBe(shared[1]);
  });

  it("refuses a global outside the allowlist, naming it", () => {
    // GLOBAL 'os system'
    const bytes = Buffer.from("\x80\x02cos\nsystem\nq\x00.", "latin1");
    expect(() => unpickle(bytes, { file: "f.pkl", resolveGlobal: resolveTorchGlobal })).toThrow(
      refusalMessage("os", "system"),
    );
  });

  it("refuses integers too large to be anything but an attack", () => {
    const long4 = Buffer.concat([
      Buffer.from([0x80, 0x02, 0x8b]),
      Buffer.from([0, 0, 1, 0]),
      Buffer.alloc(65536, 1),
    ]);
    expect(() => unpickle(long4, { file: "f.pkl", resolveGlobal: () => undefined })).toThrow(InputError);
  });
});
