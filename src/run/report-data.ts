import type { ConceptsResult } from "../concepts/index.js";
import type { InterventionResults } from "../intervene/format.js";
import type { ProbeMetricsFile } from "../probe/format.js";
import type { RedundancyResults } from "../redundancy/pipeline/results.js";
import { classMetricsOfProbe } from "../report/baseline.js";
import { reportSectionsFromConcepts } from "../report/from-concepts.js";
import { reportSectionFromIntervention } from "../report/from-intervention.js";
import { reportSectionsFromRedundancy } from "../report/from-redundancy.js";
import { type LatentSection, REPORT_FORMAT, REPORT_VERSION, type ReportData } from "../report/types.js";
import { checkSite } from "../util/neurons.js";

/**
 * The report's input (ReportData) from the redundancy results and the concept analysis: the report
 * draws pictures from this one declarative file and knows nothing of the stages. Both must be of one
 * neuron site (one figure shows layers of both); `files` names them in the error when they are not.
 * `metrics`, the oracle probe's metrics.json, gives the per-class accuracies and the confusion matrix.
 * `intervention`: the run's intervention and the K its headline quotes.
 * `latent`, the latent-concept section, when the run made one.
 */
export function reportDataOf(
  redundancy: RedundancyResults | null,
  concepts: ConceptsResult | null,
  meta: { model: string; task: string; notes?: string[] },
  files: { concepts: string } = { concepts: "concepts.json" },
  metrics: ProbeMetricsFile | null = null,
  intervention: { results: InterventionResults; k: number } | null = null,
  latent: LatentSection | null = null,
): ReportData {
  const site = redundancy?.input.site ?? concepts?.site ?? "hidden";
  if (concepts) checkSite(concepts.site, site, files.concepts, "site");
  return {
    format: REPORT_FORMAT,
    version: REPORT_VERSION,
    site,
    model: meta.model,
    task: meta.task,
    createdAt: new Date().toISOString(),
    notes: meta.notes,
    ...(redundancy ? reportSectionsFromRedundancy(redundancy) : {}),
    ...(concepts ? reportSectionsFromConcepts(concepts) : {}),
    ...(metrics ? { classMetrics: classMetricsOfProbe(metrics) } : {}),
    ...(intervention ? reportSectionFromIntervention(intervention.results, intervention.k) : {}),
    ...(latent ? { latent } : {}),
  };
}
