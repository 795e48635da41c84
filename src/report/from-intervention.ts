import { experimentClass, type InterventionResults, sweepExperimentAt } from "../intervene/format.js";
import type { InterventionSection, ReportData } from "./types.js";

/**
 * The report's intervention section from `codeneurons intervene` output (intervention.json): every
 * experiment's per-class scores beside the unchanged model and the random controls, without the neuron
 * ids. `featured` is the experiment the per-class table details: the sweep's point of K = k (the run's
 * headline experiment), else the first.
 */
export function reportSectionFromIntervention(
  r: InterventionResults,
  k = 10,
): Pick<ReportData, "intervention"> {
  const intervention: InterventionSection = {
    evaluation: r.evaluation,
    mode: r.mode,
    split: r.split,
    controls: r.controls.count,
    classes: r.classes,
    baseline: r.baseline,
    experiments: r.experiments.map((e) => ({
      label: e.label,
      class: experimentClass(e.label),
      neurons: e.ids.length,
      after: e.after,
      controls: { overall: e.controls.overall, perClass: e.controls.perClass },
    })),
    featured: sweepExperimentAt(r, k) ?? 0,
    sweep: r.sweep,
  };
  return r.experiments.length > 0 ? { intervention } : {};
}
