import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadProbe, parseProbe, saveProbe } from "../../src/probe/io.js";
import { LogisticProbe } from "../../src/probe/logistic.js";
import { LinearRegressionProbe } from "../../src/probe/regression.js";
import { InputError } from "../../src/util/errors.js";
import { matrix } from "../../src/util/matrix.js";
import { Rng } from "../../src/util/rng.js";

async function smallProbes(): Promise<{ logistic: LogisticProbe; linear: LinearRegressionProbe }> {
  const rng = new Rng(5);
  const x = matrix(60, 4);
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.normal();
  const y = Array.from({ length: 60 }, (_, i) => (x.data[i * 4] + 0.3 * rng.normal() > 0 ? "POS" : "NEG"));
  const t = Array.from({ length: 60 }, (_, i) => 2 * x.data[i * 4 + 1] + 0.1 * rng.normal());
  const logistic = await new LogisticProbe({ lambda1: 1e-3, lambda2: 1e-3 }).fit(x, y);
  const linear = await new LinearRegressionProbe({ lambda1: 1e-3 }).fit(x, t);
  return { logistic, linear };
}

describe("saved probes", () => {
  it("save and load both kinds", async () => {
    const { logistic, linear } = await smallProbes();
    const dir = mkdtempSync(join(tmpdir(), "probe-io-"));
    await saveProbe(join(dir, "a.json"), logistic);
    await saveProbe(join(dir, "b.json"), linear);
    const a = await loadProbe(join(dir, "a.json"));
    const b = await loadProbe(join(dir, "b.json"));
    expect(a).toBeInstanceOf(LogisticProbe);
    expect(b).toBeInstanceOf(LinearRegressionProbe);
    expect((a as LogisticProbe).classes).toEqual(["NEG", "POS"]);
    expect(readFileSync(join(dir, "a.json"), "utf8")).toBe(`${JSON.stringify(logistic.toJSON(), null, 2)}\n`);
  });

  it("names the file and field of what is wrong", async () => {
    const { logistic } = await smallProbes();
    const good = logistic.toJSON();
    const bad = (patch: Record<string, unknown>) => JSON.stringify({ ...good, ...patch });
    expect(() => parseProbe("{", "p.json")).toThrow(/p\.json:1: not valid JSON/);
    expect(() => parseProbe(bad({ kind: "svm" }), "p.json")).toThrow(/p\.json \(field 'kind'\)/);
    expect(() => parseProbe(bad({ classes: ["A", "A"] }), "p.json")).toThrow(/field 'classes'/);
    expect(() => parseProbe(bad({ bias: [0] }), "p.json")).toThrow(/field 'bias'/);
    expect(() => parseProbe(bad({ weights: [[1, 2]] }), "p.json")).toThrow(/field 'weights'/);
    expect(() => parseProbe(bad({ version: 99 }), "p.json")).toThrow(/field 'version'/);
    expect(() => parseProbe(bad({ standardizer: { mean: [0], scale: [0] } }), "p.json")).toThrow(
      /standardizer/,
    );
  });

  it("fuzz: truncated or mutated files give an InputError or a valid probe, never a crash", async () => {
    const { logistic, linear } = await smallProbes();
    const rng = new Rng(11);
    const alphabet = '{}[]",:0123456789.-eE abcxyzNaInfity\\';
    for (const probe of [logistic, linear]) {
      const text = JSON.stringify(probe.toJSON());
      for (let trial = 0; trial < 400; trial++) {
        let t = text;
        if (trial % 2 === 0) t = t.slice(0, rng.int(t.length));
        else {
          const chars = t.split("");
          for (let m = 0; m < 1 + rng.int(4); m++)
            chars[rng.int(chars.length)] = alphabet[rng.int(alphabet.length)];
          t = chars.join("");
        }
        try {
          const p = parseProbe(t, "fuzz.json");
          expect(p.inputs).toBe(4);
        } catch (e) {
          expect(e).toBeInstanceOf(InputError);
          expect((e as Error).message).toMatch(/^fuzz\.json/);
        }
      }
    }
  });
});
