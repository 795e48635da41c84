import type { TopLevelSpec } from "vega-lite";
import type { Site } from "../store/format.js";
import { MONO, ORDERING_COLOURS, PALETTE, THEME } from "./theme.js";
import type {
  CkaMatrix,
  ConceptNeuronCounts,
  InterventionSection,
  LatentSection,
  LayerAccuracy,
  LayerDistribution,
  NeuronCurves,
  NeuronHeatmap,
  RedundancySummary,
} from "./types.js";

/**
 * Vega-Lite specs, one per figure. Each takes one ReportData section and returns a complete spec with
 * inline data, so that a figure can be re-rendered or edited on its own.
 */
const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const pct = (x: number): number => Math.round(x * 10000) / 100;

/** A legend of line samples under the plot, wide enough for full series names. */
const LINE_LEGEND = {
  orient: "bottom" as const,
  direction: "horizontal" as const,
  symbolType: "stroke",
  symbolStrokeWidth: 2.5,
  symbolSize: 260,
  labelLimit: 320,
  columnPadding: 24,
};

function base(title: string, subtitle?: string): Pick<TopLevelSpec, "$schema" | "config" | "title"> {
  return { $schema: SCHEMA, config: THEME, title: subtitle ? { text: title, subtitle } : title };
}

/** What a layer number means at a site: a state of the residual stream, or a block's MLP. */
function layerAxisTitle(site: Site): string {
  return site === "hidden" ? "Layer (0 = embeddings)" : "Block (its MLP neurons)";
}

/** Lower edge of an accuracy axis in %: a round number a little below the lowest value. */
function accuracyFloor(values: number[]): number {
  const lo = Math.min(...values.map(pct));
  return Math.max(0, Math.floor((lo - 2) / 10) * 10);
}

export function layerAccuracySpec(data: LayerAccuracy, site: Site = "hidden"): TopLevelSpec {
  const series: { layer: number; series: string; accuracy: number }[] = [];
  const add = (name: string, values: (number | null)[] | undefined) => {
    values?.forEach((v, i) => {
      if (v !== null) series.push({ layer: data.layers[i], series: name, accuracy: pct(v) });
    });
  };
  // MLP layers start at block 1.
  const incremental = `Layers ${site === "hidden" ? 0 : Math.min(...data.layers)} … i (incremental)`;
  const names = ["Single layer", incremental, "Control task (single layer)"];
  add(names[0], data.independent);
  add(names[1], data.incremental);
  add(names[2], data.control);
  const all = [...data.independent, ...(data.incremental ?? []), ...(data.control ?? []), data.oracle ?? 1];
  const y = {
    field: "accuracy",
    type: "quantitative" as const,
    title: "Test accuracy (%)",
    scale: { domain: [accuracyFloor(all.filter((v): v is number => v !== null)), 100] },
  };
  const lines = {
    data: { values: series },
    mark: { type: "line" as const, point: true },
    encoding: {
      x: {
        field: "layer",
        type: "quantitative" as const,
        title: layerAxisTitle(site),
        axis: { values: data.layers, format: "d" },
        scale: { domain: [Math.min(...data.layers), Math.max(...data.layers)] },
      },
      y,
      color: {
        field: "series",
        type: "nominal" as const,
        title: null,
        sort: names,
        legend: LINE_LEGEND,
      },
      strokeDash: {
        field: "series",
        type: "nominal" as const,
        title: null,
        legend: LINE_LEGEND,
        scale: {
          domain: names,
          range: [
            [1, 0],
            [1, 0],
            [5, 3],
          ],
        },
      },
      tooltip: [
        { field: "series", type: "nominal" as const },
        { field: "layer", type: "quantitative" as const },
        { field: "accuracy", type: "quantitative" as const, format: ".2f" },
      ],
    },
  };
  return {
    ...base("Probe accuracy per layer", "Word-level probes on each layer alone and on all layers up to it"),
    width: 520,
    height: 300,
    layer: data.oracle === undefined ? [lines] : [lines, ...oracleRule(data.oracle)],
  } as TopLevelSpec;
}

function oracleRule(oracle: number) {
  const datum = { y: pct(oracle), label: `Oracle (all neurons): ${pct(oracle).toFixed(1)}%` };
  return [
    {
      data: { values: [datum] },
      mark: { type: "rule" as const, strokeDash: [4, 4], color: "#374151", strokeWidth: 1.2 },
      encoding: { y: { field: "y", type: "quantitative" as const } },
    },
    {
      data: { values: [datum] },
      // Top left: curves start low on the left, so the label rarely collides with them.
      mark: {
        type: "text" as const,
        align: "left" as const,
        dy: -7,
        x: 6,
        fontSize: 11,
        color: "#374151",
      },
      encoding: { y: { field: "y", type: "quantitative" as const }, text: { field: "label" } },
    },
  ];
}

export function ckaSpec(data: CkaMatrix, site: Site = "hidden"): TopLevelSpec {
  const n = data.layers.length;
  const cell = Math.max(18, Math.min(40, Math.floor(440 / n)));
  const values = data.layers.flatMap((a, i) => data.layers.map((b, j) => ({ a, b, cka: data.matrix[i][j] })));
  const axis = { title: site === "hidden" ? "Layer" : "Block (MLP)", labelAngle: 0 };
  const layers = [
    {
      mark: { type: "rect" as const, stroke: "white", strokeWidth: 1 },
      encoding: {
        color: {
          field: "cka",
          type: "quantitative" as const,
          title: "Linear CKA",
          scale: { scheme: "viridis", domain: [0, 1] },
          legend: { gradientLength: Math.max(120, cell * n - 20) },
        },
        tooltip: [
          { field: "a", type: "ordinal" as const, title: "layer" },
          { field: "b", type: "ordinal" as const, title: "layer" },
          { field: "cka", type: "quantitative" as const, format: ".3f" },
        ],
      },
    },
    ...(n <= 16
      ? [
          {
            mark: { type: "text" as const, fontSize: cell >= 30 ? 10 : 8 },
            encoding: {
              text: { field: "cka", type: "quantitative" as const, format: ".2f" },
              color: { condition: { test: "datum.cka < 0.55", value: "white" }, value: "#111827" },
            },
          },
        ]
      : []),
  ];
  return {
    ...base(
      "Layer similarity (linear CKA)",
      "1 = the two layers represent the tokens identically (up to rotation and scale)",
    ),
    data: { values },
    width: cell * n,
    height: cell * n,
    encoding: {
      x: { field: "a", type: "ordinal" as const, sort: data.layers, axis: { ...axis, orient: "bottom" } },
      y: { field: "b", type: "ordinal" as const, sort: data.layers, axis },
    },
    layer: layers,
  } as TopLevelSpec;
}

export function neuronCurvesSpec(data: NeuronCurves): TopLevelSpec {
  const values = data.orderings.flatMap((o) =>
    o.points.map((p) => ({ ordering: o.name, neurons: p.neurons, accuracy: pct(p.accuracy) })),
  );
  const names = data.orderings.map((o) => o.name);
  const colours = names.map((name, i) => ORDERING_COLOURS[name] ?? PALETTE[(i + 3) % PALETTE.length]);
  const all = [...data.orderings.flatMap((o) => o.points.map((p) => p.accuracy)), data.oracle ?? 1];
  const lines = {
    data: { values },
    mark: { type: "line" as const, point: true },
    encoding: {
      x: {
        field: "neurons",
        type: "quantitative" as const,
        title: `Neurons kept (log scale, of ${data.totalNeurons.toLocaleString("en-US")})`,
        scale: { type: "log" as const, domain: [1, data.totalNeurons], nice: false },
        axis: { format: "~s" },
      },
      y: {
        field: "accuracy",
        type: "quantitative" as const,
        title: "Test accuracy (%)",
        scale: { domain: [accuracyFloor(all), 100] },
      },
      color: {
        field: "ordering",
        type: "nominal" as const,
        title: "Neuron ordering",
        scale: { domain: names, range: colours },
        legend: { ...LINE_LEGEND, title: "Neuron ordering" },
      },
      tooltip: [
        { field: "ordering", type: "nominal" as const },
        { field: "neurons", type: "quantitative" as const },
        { field: "accuracy", type: "quantitative" as const, format: ".2f" },
      ],
    },
  };
  return {
    ...base("Accuracy against number of neurons", "Probes retrained on the top-n neurons of each ordering"),
    width: 520,
    height: 300,
    layer: data.oracle === undefined ? [lines] : [lines, ...oracleRule(data.oracle)],
  } as TopLevelSpec;
}

export function redundancySpec(data: RedundancySummary): TopLevelSpec {
  const values = data.steps.map((s, i) => ({
    order: i,
    step: s.step,
    neurons: Math.max(1, s.neurons),
    accuracy: pct(s.accuracy),
    reduction: s.reduction,
    label:
      s.reduction > 0
        ? `${s.neurons.toLocaleString("en-US")} (−${s.reduction.toFixed(1)}%)`
        : `${s.neurons.toLocaleString("en-US")} (all)`,
  }));
  const order = data.steps.map((s) => s.step);
  const y = {
    field: "step",
    type: "nominal" as const,
    sort: order,
    title: null,
    axis: { labelFontSize: 12 },
  };
  const height = Math.max(120, 30 * values.length);
  const accuracies = data.steps.map((s) => s.accuracy);
  return {
    ...base(
      "Redundancy: neurons kept per step",
      `Out of ${data.totalNeurons.toLocaleString("en-US")} neurons`,
    ),
    data: { values },
    hconcat: [
      {
        width: 380,
        height,
        layer: [
          {
            mark: { type: "bar" as const, color: "#0072B2", height: { band: 0.7 } },
            encoding: {
              y,
              x: {
                field: "neurons",
                type: "quantitative" as const,
                title: "Neurons kept (log scale)",
                scale: { type: "log" as const, domain: [1, data.totalNeurons * 3], nice: false },
                axis: { format: "~s" },
              },
              // Bars on a log scale need an explicit base: 1 neuron.
              x2: { datum: 1 },
            },
          },
          {
            mark: { type: "text" as const, align: "left" as const, dx: 4, fontSize: 11, color: "#374151" },
            encoding: { y, x: { field: "neurons", type: "quantitative" as const }, text: { field: "label" } },
          },
        ],
      },
      {
        width: 200,
        height,
        mark: { type: "point" as const, filled: true, size: 70, color: "#D55E00" },
        encoding: {
          y: { ...y, axis: null },
          x: {
            field: "accuracy",
            type: "quantitative" as const,
            title: "Test accuracy (%)",
            scale: { domain: [accuracyFloor(accuracies), 100] },
          },
          tooltip: [
            { field: "step", type: "nominal" as const },
            { field: "accuracy", type: "quantitative" as const, format: ".2f" },
          ],
        },
      },
    ],
  } as TopLevelSpec;
}

/** Stacked bars of counts per layer, one colour per group (class or concept). */
function countsPerLayerSpec(
  title: string,
  subtitle: string,
  site: Site,
  layers: number[],
  groups: { name: string; counts: number[] }[],
  groupTitle: string,
  yTitle: string,
  colours?: Map<string, string>,
): TopLevelSpec {
  const values = groups.flatMap((g) =>
    g.counts.map((count, i) => ({ layer: layers[i], group: g.name, count })),
  );
  return {
    ...base(title, subtitle),
    data: { values },
    width: Math.max(300, Math.min(560, 40 * layers.length)),
    height: 260,
    mark: { type: "bar", width: { band: 0.8 } },
    encoding: {
      x: {
        field: "layer",
        type: "ordinal",
        sort: layers,
        title: layerAxisTitle(site),
        axis: { labelAngle: 0 },
      },
      y: {
        field: "count",
        type: "quantitative",
        title: yTitle,
        stack: "zero",
        axis: { format: "d", tickMinStep: 1 },
      },
      color: {
        field: "group",
        type: "nominal",
        title: groupTitle,
        sort: groups.map((g) => g.name),
        scale: colours
          ? { domain: groups.map((g) => g.name), range: groups.map((g) => colours.get(g.name) ?? "#666666") }
          : undefined,
      },
      order: { field: "group" },
      tooltip: [
        { field: "group", type: "nominal", title: groupTitle },
        { field: "layer", type: "ordinal" },
        { field: "count", type: "quantitative" },
      ],
    },
  } as TopLevelSpec;
}

/**
 * One colour per class or concept name across figures, so that NUMBER is the same colour in the layer
 * distribution and in the concept-neuron plot. `lex:NUMBER` shares NUMBER's colour family by name order.
 */
export function groupColours(names: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of names) if (!out.has(name)) out.set(name, PALETTE[out.size % PALETTE.length]);
  return out;
}

export function layerDistributionSpec(
  data: LayerDistribution,
  colours?: Map<string, string>,
  site: Site = "hidden",
): TopLevelSpec {
  return countsPerLayerSpec(
    "Where the top neurons are",
    data.description ?? "Top neurons of each class per layer",
    site,
    data.layers,
    data.classes,
    "Class",
    "Top neurons (count)",
    colours,
  );
}

export function conceptNeuronsSpec(
  data: ConceptNeuronCounts,
  colours?: Map<string, string>,
  site: Site = "hidden",
): TopLevelSpec {
  return countsPerLayerSpec(
    "Concept neurons per layer",
    "Neurons whose top words belong mostly to one concept",
    site,
    data.layers,
    data.concepts.map((c) => ({ name: c.name, counts: c.byLayer })),
    "Concept",
    "Concept neurons (count)",
    colours,
  );
}

/** Layout constants of the code heatmap, in pixels. */
const CODE = {
  font: 12,
  char: 7.23,
  pad: 4,
  gap: 2,
  row: 22,
  blockGap: 12,
  label: 86,
  sentence: 52,
  maxX: 940,
};

/** "fires high" / "fires low": what the sign of a neuron's probe weight for a class means. */
export function firesText(weight: number): string {
  return weight >= 0 ? "fires high" : "fires low";
}

export interface TokenCell {
  neuron: string;
  sentence: number;
  word: string;
  raw: number;
  value: number;
  x: number;
  x2: number;
  y: number;
  y2: number;
}

/**
 * Lays a heatmap's words out like code: one row per (neuron, line), words left to right in a monospace
 * font, each in a box coloured by its activation scaled to the neuron's largest |activation| on the
 * shown lines. Long lines end in "…".
 */
export function layoutCodeHeatmap(data: NeuronHeatmap): {
  cells: TokenCell[];
  labels: { text: string; x: number; y: number; kind: "neuron" | "line" }[];
  width: number;
  height: number;
} {
  const cells: TokenCell[] = [];
  const labels: { text: string; x: number; y: number; kind: "neuron" | "line" }[] = [];
  let y = 0;
  let width = 0;
  data.neurons.forEach((neuron, n) => {
    const maxAbs = Math.max(1e-12, ...data.lines.flatMap((l) => l.activations[n].map(Math.abs)));
    data.lines.forEach((line, li) => {
      if (li === 0) {
        const mark =
          neuron.weight === undefined || data.lines.length > 1 ? "" : neuron.weight >= 0 ? " ↑" : " ↓";
        labels.push({ text: `${neuron.name}${mark}`, x: 0, y: y + CODE.row / 2, kind: "neuron" });
      }
      // Under the name: the sign of the probe weight, i.e. whether the class shows as high or low values.
      if (li === 1 && neuron.weight !== undefined)
        labels.push({ text: firesText(neuron.weight), x: 0, y: y + CODE.row / 2, kind: "line" });
      labels.push({ text: `#${line.sentence}`, x: CODE.label, y: y + CODE.row / 2, kind: "line" });
      let x = CODE.label + CODE.sentence;
      for (let w = 0; w < line.words.length; w++) {
        const text = line.words[w];
        const boxW = Math.max(1, text.length) * CODE.char + 2 * CODE.pad;
        if (x + boxW > CODE.maxX) {
          labels.push({ text: "…", x: x + 2, y: y + CODE.row / 2, kind: "line" });
          x += 14;
          break;
        }
        const raw = line.activations[n][w];
        cells.push({
          neuron:
            neuron.weight === undefined
              ? neuron.name
              : `${neuron.name} (weight ${neuron.weight.toFixed(3)}: ${firesText(neuron.weight)} on ${data.class})`,
          sentence: line.sentence,
          word: text,
          raw,
          value: raw / maxAbs,
          x,
          x2: x + boxW,
          y: y + 2,
          y2: y + CODE.row - 2,
        });
        x += boxW + CODE.gap;
      }
      width = Math.max(width, x);
      y += CODE.row;
    });
    y += CODE.blockGap;
  });
  return { cells, labels, width: Math.ceil(width), height: Math.max(CODE.row, y - CODE.blockGap) };
}

export function codeHeatmapSpec(data: NeuronHeatmap): TopLevelSpec {
  const { cells, labels, width, height } = layoutCodeHeatmap(data);
  const px = (field: string) => ({ field, type: "quantitative" as const, scale: null, axis: null });
  return {
    ...base(
      `${data.class}: top neurons over code`,
      "One row per neuron and code line · red = positive, blue = negative",
    ),
    width,
    height,
    layer: [
      {
        data: { values: cells },
        mark: { type: "rect", cornerRadius: 3 },
        encoding: {
          x: px("x"),
          x2: { field: "x2" },
          y: px("y"),
          y2: { field: "y2" },
          color: {
            field: "value",
            type: "quantitative",
            title: "Activation ÷ the neuron's largest |activation| on these lines",
            scale: { scheme: "redblue", reverse: true, domain: [-1, 1] },
            legend: { orient: "bottom", direction: "horizontal", gradientLength: 220, titleLimit: 600 },
          },
          tooltip: [
            { field: "neuron", type: "nominal" },
            { field: "word", type: "nominal" },
            { field: "raw", type: "quantitative", title: "activation", format: ".3f" },
          ],
        },
      },
      {
        data: { values: cells.map((c) => ({ ...c, cx: (c.x + c.x2) / 2, cy: (c.y + c.y2) / 2 })) },
        mark: { type: "text", font: MONO, fontSize: CODE.font, baseline: "middle", align: "center" },
        encoding: {
          x: px("cx"),
          y: px("cy"),
          text: { field: "word" },
          color: { condition: { test: "abs(datum.value) > 0.62", value: "white" }, value: "#111827" },
        },
      },
      labelLayer(
        labels.filter((l) => l.kind === "neuron"),
        { fontWeight: "bold", color: "#111827" },
      ),
      labelLayer(
        labels.filter((l) => l.kind === "line"),
        { fontWeight: "normal", color: "#9ca3af" },
      ),
    ],
  } as TopLevelSpec;
}

function labelLayer(
  values: { text: string; x: number; y: number }[],
  style: { fontWeight: string; color: string },
) {
  const px = (field: string) => ({ field, type: "quantitative" as const, scale: null, axis: null });
  return {
    data: { values },
    mark: {
      type: "text" as const,
      baseline: "middle" as const,
      align: "left" as const,
      fontSize: 11,
      font: MONO,
      ...style,
    },
    encoding: { x: px("x"), y: px("y"), text: { field: "text" } },
  };
}

export const EVALUATION_TITLES: Record<InterventionSection["evaluation"], string> = {
  "masked-lm": "masked-LM",
  "causal-lm": "next-token",
  probe: "last-layer probe",
};

/**
 * The sweep of an intervention: the model's own accuracy (and loss) on the sweep class's words with the
 * class's top-K neurons changed, against K, beside K random neurons of the same layers (mean ± sd band)
 * and the unchanged model (dashed); and, when the redundancy analysis ran, the probe's curve (accuracy
 * of a probe retrained on the top-n LCA neurons) beside it: correlation and cause on one page.
 */
export function interventionSweepSpec(iv: InterventionSection, curves?: NeuronCurves): TopLevelSpec {
  const sweep = iv.sweep!;
  const cls = sweep.class;
  const changed = `Top-K ${cls} neurons (${iv.mode})`;
  const random = `K random neurons of the same layers (mean ± sd, ${iv.controls} sets)`;
  const names = iv.controls > 0 ? [changed, random] : [changed];
  const before = iv.baseline.perClass[cls];
  const rows = sweep.points.flatMap((p) => {
    const e = iv.experiments[p.experiment];
    const a = e.after.perClass[cls];
    const c = e.controls.perClass[cls];
    const out = [{ k: p.k, series: changed, accuracy: pct(a.accuracy), loss: a.loss }];
    if (iv.controls > 0)
      out.push({ k: p.k, series: random, accuracy: pct(c.accuracy.mean), loss: c.loss?.mean ?? null });
    return out;
  });
  const bands = sweep.points.map((p) => {
    const c = iv.experiments[p.experiment].controls.perClass[cls];
    return {
      k: p.k,
      accLo: pct(Math.max(0, c.accuracy.mean - c.accuracy.sd)),
      accHi: pct(Math.min(1, c.accuracy.mean + c.accuracy.sd)),
      lossLo: c.loss ? c.loss.mean - c.loss.sd : null,
      lossHi: c.loss ? c.loss.mean + c.loss.sd : null,
    };
  });
  const maxK = Math.max(...sweep.points.map((p) => p.k));
  const x = {
    field: "k",
    type: "quantitative" as const,
    title: "K neurons changed (log scale)",
    scale: { type: "log" as const, domain: [1, Math.max(2, maxK)], nice: false },
    axis: { values: sweep.points.map((p) => p.k), format: "~s" },
  };
  const colour = {
    field: "series",
    type: "nominal" as const,
    title: null,
    scale: { domain: names, range: ["#D55E00", "#888888"].slice(0, names.length) },
    // The random series' name is long: room for all of it.
    legend: { ...LINE_LEGEND, labelLimit: 520 },
  };
  const evaluation = EVALUATION_TITLES[iv.evaluation];
  const panel = (metric: "accuracy" | "loss", title: string, baseline: number, lo: string, hi: string) => ({
    width: 250,
    height: 220,
    title: { text: title, fontSize: 12, fontWeight: 500 },
    layer: [
      ...(iv.controls > 0
        ? [
            {
              data: { values: bands },
              mark: { type: "area" as const, color: "#888888", opacity: 0.18 },
              encoding: { x, y: { field: lo, type: "quantitative" as const }, y2: { field: hi } },
            },
          ]
        : []),
      {
        data: { values: [{ y: baseline }] },
        mark: { type: "rule" as const, strokeDash: [4, 4], color: "#374151", strokeWidth: 1.2 },
        encoding: { y: { field: "y", type: "quantitative" as const } },
      },
      {
        data: { values: rows.filter((r) => r[metric] !== null) },
        mark: { type: "line" as const, point: true },
        encoding: {
          x,
          y: {
            field: metric,
            type: "quantitative" as const,
            title: metric === "accuracy" ? `${cls} accuracy (%)` : `${cls} loss (nats)`,
            scale: { zero: false },
          },
          color: colour,
          tooltip: [
            { field: "series", type: "nominal" as const },
            { field: "k", type: "quantitative" as const, title: "K" },
            { field: metric, type: "quantitative" as const, format: metric === "accuracy" ? ".1f" : ".3f" },
          ],
        },
      },
    ],
  });
  const panels: unknown[] = [
    panel(
      "accuracy",
      `Model's ${evaluation} accuracy on ${cls} words`,
      pct(before.accuracy),
      "accLo",
      "accHi",
    ),
  ];
  if (before.loss !== null)
    panels.push(panel("loss", `Model's ${evaluation} loss on ${cls} words`, before.loss, "lossLo", "lossHi"));
  const lca = curves?.orderings.find((o) => o.name === "LCA");
  if (lca) {
    const values = lca.points.map((p) => ({ neurons: p.neurons, accuracy: pct(p.accuracy) }));
    const all = [...lca.points.map((p) => p.accuracy), curves?.oracle ?? 1];
    panels.push({
      width: 250,
      height: 220,
      title: { text: "Probe on the top-n LCA neurons (all classes)", fontSize: 12, fontWeight: 500 },
      layer: [
        ...(curves?.oracle === undefined
          ? []
          : [
              {
                data: { values: [{ y: pct(curves.oracle) }] },
                mark: { type: "rule" as const, strokeDash: [4, 4], color: "#374151", strokeWidth: 1.2 },
                encoding: { y: { field: "y", type: "quantitative" as const } },
              },
            ]),
        {
          data: { values },
          mark: { type: "line" as const, point: true, color: ORDERING_COLOURS.LCA },
          encoding: {
            x: {
              field: "neurons",
              type: "quantitative" as const,
              title: "n neurons kept (log scale)",
              scale: { type: "log" as const, domain: [1, curves!.totalNeurons], nice: false },
              axis: { format: "~s" },
            },
            y: {
              field: "accuracy",
              type: "quantitative" as const,
              title: "Probe test accuracy (%)",
              scale: { domain: [accuracyFloor(all), 100] },
            },
            tooltip: [
              { field: "neurons", type: "quantitative" as const },
              { field: "accuracy", type: "quantitative" as const, format: ".2f" },
            ],
          },
        },
      ],
    });
  }
  return {
    ...base(
      `Intervention sweep: the top-K ${cls} neurons inside the model`,
      `Dashed: the unchanged model${lca ? " (right: the probe on all neurons)" : ""} · ${iv.split} split`,
    ),
    hconcat: panels,
    resolve: { scale: { y: "independent", x: "independent" } },
  } as TopLevelSpec;
}

/** People's names of the latent-concept category families (src/latent/categories.ts). */
export const LATENT_FAMILY_TITLES: Record<string, string> = {
  label: "Token label",
  parent: "Parent node (tree-sitter)",
  casing: "Identifier casing",
  position: "Line start / end",
};
const NOVEL = "None (novel)";

/**
 * Per layer, the share of latent clusters aligned with each family of code categories and with none:
 * grouped bars (a cluster can be aligned with several families, so the bars do not add up to 100%).
 */
export function latentAlignmentSpec(data: LatentSection, site: Site = "hidden"): TopLevelSpec {
  const title = (family: string) => LATENT_FAMILY_TITLES[family] ?? family;
  const order = [...data.families.map(title), NOVEL];
  const rows: { layer: number; category: string; share: number }[] = [];
  for (const l of data.layers) {
    for (const a of l.aligned) rows.push({ layer: l.layer, category: title(a.family), share: pct(a.share) });
    rows.push({ layer: l.layer, category: NOVEL, share: pct(l.novel) });
  }
  const colours = [...data.families.map((_, i) => PALETTE[i % (PALETTE.length - 1)]), "#9ca3af"];
  return {
    ...base(
      "Latent concepts aligned with code categories",
      `${data.clusters} Ward clusters of ${data.tokens} tokens per layer; aligned: at least ${pct(data.theta)}% of a cluster's tokens share the category`,
    ),
    width: Math.max(300, Math.min(760, 20 * order.length * data.layers.length)),
    height: 260,
    data: { values: rows },
    mark: { type: "bar" },
    encoding: {
      x: { field: "layer", type: "ordinal", title: layerAxisTitle(site), axis: { labelAngle: 0 } },
      xOffset: { field: "category", type: "nominal", sort: order },
      y: {
        field: "share",
        type: "quantitative",
        title: "Clusters of the layer (%)",
        scale: { domain: [0, 100] },
      },
      color: {
        field: "category",
        type: "nominal",
        title: null,
        sort: order,
        scale: { domain: order, range: colours },
        legend: { orient: "right", labelLimit: 260 },
      },
      tooltip: [
        { field: "layer", type: "ordinal" },
        { field: "category", type: "nominal" },
        { field: "share", type: "quantitative", format: ".1f", title: "clusters (%)" },
      ],
    },
  } as TopLevelSpec;
}
