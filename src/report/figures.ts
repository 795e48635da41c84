import type { TopLevelSpec } from "vega-lite";
import {
  ckaSpec,
  codeHeatmapSpec,
  conceptNeuronsSpec,
  groupColours,
  interventionSweepSpec,
  latentAlignmentSpec,
  layerAccuracySpec,
  layerDistributionSpec,
  neuronCurvesSpec,
  redundancySpec,
} from "./specs.js";
import type { ReportData } from "./types.js";

/** What an intervention's accuracy and loss are of, per evaluation. */
const SCORED = {
  "masked-lm": "each word's first subword masked and predicted",
  "causal-lm": "each word's first subword predicted from the words before it",
  probe: "a probe's class from the recomputed last layer",
} as const;

/** The report's sections in page order; each figure belongs to one. */
export const SECTIONS = [
  { id: "accuracy", title: "Probe accuracy per layer", field: "layerAccuracy" },
  { id: "classes", title: "Accuracy per class", field: "classMetrics" },
  { id: "cka", title: "Layer similarity", field: "cka" },
  { id: "curves", title: "Accuracy against number of neurons", field: "neuronCurves" },
  { id: "redundancy", title: "Redundancy summary", field: "redundancy" },
  { id: "distribution", title: "Where the top neurons are", field: "layerDistribution" },
  { id: "concepts", title: "Concept neurons", field: "conceptNeurons" },
  { id: "heatmaps", title: "Top neurons over code", field: "heatmaps" },
  { id: "intervention", title: "Interventions inside the model", field: "intervention" },
  { id: "latent", title: "Latent concepts", field: "latent" },
] as const;

export type SectionId = (typeof SECTIONS)[number]["id"];

export interface Figure {
  /** File stem under figures/ and the HTML anchor: lower-case, [a-z0-9-]. */
  name: string;
  section: SectionId;
  caption: string;
  spec: TopLevelSpec;
}

/** Every figure the data allows, in page order. */
export function figuresOf(data: ReportData): Figure[] {
  const out: Figure[] = [];
  const site = data.site ?? "hidden";
  const colours = groupColours([
    ...(data.layerDistribution?.classes.map((c) => c.name) ?? []),
    ...(data.conceptNeurons?.concepts.map((c) => c.name) ?? []),
  ]);
  if (data.layerAccuracy) {
    out.push({
      name: "layer-accuracy",
      section: "accuracy",
      caption:
        "Test accuracy of a probe trained on each layer alone, and on all layers up to it. A flat curve means later layers add little for this task.",
      spec: layerAccuracySpec(data.layerAccuracy, site),
    });
  }
  if (data.cka) {
    out.push({
      name: "cka",
      section: "cka",
      caption:
        "Linear CKA between every pair of layers (unbiased HSIC, averaged over minibatches of tokens). Bright blocks are groups of redundant layers.",
      spec: ckaSpec(data.cka, site),
    });
  }
  if (data.neuronCurves) {
    out.push({
      name: "neuron-curves",
      section: "curves",
      caption:
        "Accuracy of probes retrained on the first n neurons of each ordering. The earlier a curve reaches the oracle line, the fewer neurons the task needs.",
      spec: neuronCurvesSpec(data.neuronCurves),
    });
  }
  if (data.redundancy) {
    out.push({
      name: "redundancy",
      section: "redundancy",
      caption: "Neurons kept by each step of the redundancy pipeline and the accuracy of the probe on them.",
      spec: redundancySpec(data.redundancy),
    });
  }
  if (data.layerDistribution) {
    out.push({
      name: "layer-distribution",
      section: "distribution",
      caption: "How the most important neurons of each class spread over the layers.",
      spec: layerDistributionSpec(data.layerDistribution, colours, site),
    });
  }
  if (data.conceptNeurons && data.conceptNeurons.concepts.length > 0) {
    out.push({
      name: "concept-neurons",
      section: "concepts",
      caption:
        "Neurons found (not hand-picked) to fire on one concept: most of their top-activating word types belong to it.",
      spec: conceptNeuronsSpec(data.conceptNeurons, colours, site),
    });
  }
  const used = new Set<string>();
  for (const h of data.heatmaps ?? []) {
    if (h.neurons.length === 0 || h.lines.length === 0) continue;
    out.push({
      name: uniqueName(`heatmap-${slug(h.class)}`, used),
      section: "heatmaps",
      caption: `${h.neurons.length === 1 ? "The top neuron" : `The top ${h.neurons.length} neurons`} of ${h.class} over ${h.lines.length} code line${h.lines.length > 1 ? "s" : ""} (# = line number in the corpus).`,
      spec: codeHeatmapSpec(h),
    });
  }
  const iv = data.intervention;
  if (iv?.sweep && iv.sweep.points.length > 0) {
    out.push({
      name: "intervention-sweep",
      section: "intervention",
      caption: `The model's own predictions of ${iv.sweep.class} words (${iv.split} split; ${SCORED[iv.evaluation]}) with the top-K ${iv.sweep.class} neurons of the probe's ranking changed inside the forward pass (${iv.mode}), beside K random neurons of the same layers. A line well below the grey band means the neurons matter to the model for that class; the probe's curve beside it is the correlational view of the same ranking.`,
      spec: interventionSweepSpec(iv, data.neuronCurves),
    });
  }
  if (data.latent && data.latent.layers.length > 0) {
    out.push({
      name: "latent-alignment",
      section: "latent",
      caption:
        "Latent concepts (ConceptX): each layer's token representations clustered with Ward's method. A cluster is aligned with a family of code categories when one of its categories covers at least θ of its tokens; clusters aligned with none are concepts of the model's own.",
      spec: latentAlignmentSpec(data.latent, site),
    });
  }
  return out;
}

export function slug(text: string): string {
  const s = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return s || "class";
}

function uniqueName(name: string, used: Set<string>): string {
  let candidate = name;
  for (let i = 2; used.has(candidate); i++) candidate = `${name}-${i}`;
  used.add(candidate);
  return candidate;
}
