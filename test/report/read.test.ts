import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseReportData, type ReportData } from "../../src/report/index.js";
import { InputError } from "../../src/util/errors.js";
import { parseJsonText } from "../../src/util/json.js";
import { makeResultsDir } from "../fixtures/report/make-results.js";
import { mangledJsonTexts } from "../fuzz/json-mutations.js";

let text: string;
let valid: ReportData;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), "cn-report-read-"));
  await makeResultsDir(dir);
  text = readFileSync(join(dir, "report-data.json"), "utf8");
  valid = JSON.parse(text) as ReportData;
});

const clone = (): ReportData => structuredClone(valid);

function errorOf(value: unknown): InputError {
  try {
    parseReportData(value, "results/report-data.json");
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error("expected an InputError");
}

describe("report-data.json reader", () => {
  it("reads the fixture with every section", () => {
    const data = parseReportData(JSON.parse(text), "report-data.json");
    for (const key of [
      "layerAccuracy",
      "cka",
      "neuronCurves",
      "redundancy",
      "layerDistribution",
      "conceptNeurons",
      "heatmaps",
      "intervention",
    ]) {
      expect(data).toHaveProperty(key);
    }
    expect(data.cka?.matrix.length).toBe(13);
  });

  it("names the file and the field of every problem", () => {
    const cases: [(d: ReportData) => void, string, RegExp][] = [
      [(d) => Object.assign(d, { format: "other" }), "format", /codeneurons-report-data/],
      [(d) => Object.assign(d, { version: 9 }), "version", /version 1/],
      [(d) => d.layerAccuracy!.independent.pop(), "layerAccuracy.independent", /expected 13 entries/],
      [(d) => (d.layerAccuracy!.independent[4] = 1.5), "layerAccuracy.independent[4]", /above 1/],
      [(d) => (d.cka!.matrix[2][5] = Number.NaN), "cka.matrix[2][5]", /finite number/],
      [(d) => d.cka!.matrix[3].push(0.1), "cka.matrix[3]", /13 entries/],
      [(d) => (d.cka!.layers[1] = 0), "cka.layers", /repeat/],
      [(d) => (d.redundancy!.steps[1].reduction = 120), "redundancy.steps[1].reduction", /above 100/],
      [
        (d) => ((d.neuronCurves!.orderings[0].points[2] as { neurons: unknown }).neurons = "5"),
        "neuronCurves.orderings[0].points[2].neurons",
        /string/,
      ],
      [
        (d) => (d.heatmaps![0].lines[0].activations[0] = [1]),
        "heatmaps[0].lines[0].activations[0]",
        /entries/,
      ],
      [(d) => Object.assign(d, { model: 3 }), "model", /string/],
      [(d) => (d.intervention!.featured = 3), "intervention.featured", /below 3, got 3/],
      [
        (d) => (d.intervention!.sweep!.points[1].experiment = 7),
        "intervention.sweep.points[1].experiment",
        /below 3, got 7/,
      ],
      [
        (d) => delete d.intervention!.experiments[2].after.perClass.NUMBER,
        "intervention.experiments[2].after.perClass",
        /no score for class 'NUMBER'/,
      ],
      [(d) => (d.intervention!.experiments = []), "intervention.experiments", /at least one/],
    ];
    for (const [mutate, field, detail] of cases) {
      const d = clone();
      mutate(d);
      const e = errorOf(d);
      expect(e.file).toBe("results/report-data.json");
      expect(e.field).toBe(field);
      expect(e.message).toMatch(detail);
    }
  });

  it("reports the line of a JSON syntax error", () => {
    const broken = text.replace('"cka"', '"cka" oops');
    const line = broken.slice(0, broken.indexOf("oops")).split("\n").length;
    try {
      parseJsonText(broken, "f.json");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).line).toBe(line);
    }
  });

  it("fuzz: truncated and mutated files give an InputError or a valid result, never a crash", () => {
    const alphabet = ['"', "{", "}", "[", "]", ",", ":", "0", "-1e9", "null", "true", " ", "\n", "x"];
    for (const t of mangledJsonTexts(text, 2024, 400, alphabet)) {
      try {
        parseReportData(parseJsonText(t, "fuzz.json"), "fuzz.json");
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        expect((e as Error).message.startsWith("fuzz.json")).toBe(true);
      }
    }
  });
});
