import { describe, expect, it } from "vitest";
import type { Scores } from "../../src/intervene/format.js";
import { reportSectionFromIntervention } from "../../src/report/from-intervention.js";
import { layerRange } from "../../src/report/html.js";
import { inlineSvg, layoutCodeHeatmap, renderSvg } from "../../src/report/index.js";
import { ckaSpec, interventionSweepSpec, redundancySpec } from "../../src/report/specs.js";
import { syntheticIntervention } from "../fixtures/report/make-results.js";

describe("figure building blocks", () => {
  it("lays code out left to right, scales each neuron to its own largest |activation|, cuts long lines", () => {
    const long = Array.from({ length: 200 }, (_, i) => `tok${i}`);
    const layout = layoutCodeHeatmap({
      class: "NUMBER",
      neurons: [
        { id: 1, name: "L0:1" },
        { id: 2, name: "L0:2" },
      ],
      lines: [
        {
          sentence: 4,
          words: ["a", "bb", "ccc"],
          activations: [
            [1, -4, 2],
            [0.5, 0.25, -0.1],
          ],
        },
        { sentence: 9, words: long, activations: [long.map(() => 1), long.map(() => 2)] },
      ],
    });
    const first = layout.cells.filter((c) => c.neuron === "L0:1" && c.sentence === 4);
    // Exact in binary floating point: L0:1 peaks at |-4| on line 4, L0:2 at 2 on line 9.
    expect(first.map((c) => c.value)).toEqual([0.25, -1, 0.5]);
    const second = layout.cells.filter((c) => c.neuron === "L0:2" && c.sentence === 4);
    expect(second.map((c) => c.value)).toEqual([0.25, 0.125, -0.05]);
    // Boxes grow with the word and never overlap.
    expect(first[1].x2 - first[1].x).toBeGreaterThan(first[0].x2 - first[0].x);
    expect(first[1].x).toBeGreaterThan(first[0].x2);
    // The 200-word line is cut, and marked so.
    const cut = layout.cells.filter((c) => c.neuron === "L0:1" && c.sentence === 9);
    expect(cut.length).toBeLessThan(200);
    expect(layout.labels.some((l) => l.text === "…")).toBe(true);
    expect(Math.max(...layout.cells.map((c) => c.x2))).toBeLessThanOrEqual(layout.width);
  });

  it("prefixes ids inside an inline SVG and drops namespace URLs", () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><defs><clipPath id="clip1"/></defs><g clip-path="url(#clip1)"><use xlink:href="#clip1"/></g></svg>';
    expect(inlineSvg(svg, "cka")).toBe(
      '<svg><defs><clipPath id="cka-clip1"/></defs><g clip-path="url(#cka-clip1)"><use xlink:href="#cka-clip1"/></g></svg>',
    );
  });

  it("writes layer lists as ranges", () => {
    expect(layerRange([7, 0, 1, 2, 3, 9, 10])).toBe("0–3, 7, 9–10");
    expect(layerRange([5])).toBe("5");
  });

  it("renders specs headless to SVG with the data's labels", async () => {
    const svg = await renderSvg(
      ckaSpec({
        layers: [0, 4, 8],
        matrix: [
          [1, 0.5, 0.25],
          [0.5, 1, 0.75],
          [0.25, 0.75, 1],
        ],
      }),
    );
    for (const t of [">0.50<", ">0.75<", ">0.25<", ">8<", "Linear CKA"]) expect(svg).toContain(t);
    const red = await renderSvg(
      redundancySpec({
        totalNeurons: 100,
        steps: [
          { step: "Oracle", neurons: 100, accuracy: 0.9, reduction: 0 },
          { step: "LCA", neurons: 10, accuracy: 0.88, reduction: 90 },
        ],
      }),
    );
    expect(red).toContain("10 (−90.0%)");
    expect(red).toContain("100 (all)");
  });

  it("draws a sweep without loss (a probe's evaluation), controls or probe curve with what is there", () => {
    const iv = reportSectionFromIntervention(syntheticIntervention(), 3).intervention!;
    const noLoss = structuredClone(iv);
    noLoss.evaluation = "probe";
    const drop = (s: Scores) => {
      s.overall.loss = null;
      for (const c of Object.values(s.perClass)) c.loss = null;
    };
    drop(noLoss.baseline);
    for (const e of noLoss.experiments) drop(e.after);
    noLoss.controls = 0;
    const spec = interventionSweepSpec(noLoss) as unknown as {
      hconcat: { layer: { mark: { type: string } }[] }[];
    };
    // One panel, accuracy: no band, no random series, no loss, no probe curve.
    expect(spec.hconcat).toHaveLength(1);
    expect(spec.hconcat[0].layer.map((l) => l.mark.type)).toEqual(["rule", "line"]);
    const full = interventionSweepSpec(iv) as unknown as { hconcat: unknown[] };
    expect(full.hconcat).toHaveLength(2);
  });
});
