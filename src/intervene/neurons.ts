import { existsSync } from "node:fs";
import type { ConceptsResult } from "../concepts/format.js";
import type { ProbeFile } from "../probe/format.js";
import { parseNeuronList, readNeuronList } from "../probe/neuron-list.js";
import { UserError } from "../util/errors.js";
import { checkSite, type NeuronSpace, neuronName } from "../util/neurons.js";

/**
 * Which neurons an experiment changes, from `--neurons`:
 * - `top:CLASS:K`: the K neurons with the largest |weight| for CLASS in the run's oracle probe (its
 *   LCA ranking of that class; neurons the elastic net set to 0 are not ranked);
 * - `concept:NAME`: the concept neurons the concepts stage found for NAME;
 * - a file holding a neuron list (JSON or text, as `probe --neurons` reads it);
 * - names or ids separated by commas (`L3:17,L4:2`, `L2.mlp:40`).
 */
export interface NeuronSelection {
  /** What the user asked for, for tables and figures. */
  readonly label: string;
  /** Ids within the space's site, in the order given (rankings: most important first). */
  readonly ids: readonly number[];
}

export interface SelectionContext {
  space: NeuronSpace;
  /** The site's layers the stores hold. */
  layers: readonly number[];
  probe: ProbeFile;
  probeFile: string;
  concepts: ConceptsResult | null;
  conceptsFile: string;
}

/** The class's ranking: neurons by decreasing |weight| in the oracle probe (ties by id); zero weights left out. */
export function classRanking(ctx: SelectionContext, cls: string): number[] {
  const { probe } = ctx;
  const c = probe.classes?.indexOf(cls) ?? -1;
  if (c < 0) {
    throw new UserError(
      `--neurons: class '${cls}' is not one of the probe's classes (${(probe.classes ?? []).join(", ")})`,
    );
  }
  checkSite(probe.site ?? "hidden", ctx.space.site, ctx.probeFile);
  const ids = probe.neurons ?? Array.from({ length: probe.inputs }, (_, i) => i);
  const weights = probe.weights[c];
  return ids
    .map((id, j) => ({ id, w: Math.abs(weights[j]) }))
    .filter((n) => n.w > 0)
    .sort((a, b) => b.w - a.w || a.id - b.id)
    .map((n) => n.id);
}

export async function selectNeurons(spec: string, ctx: SelectionContext): Promise<NeuronSelection> {
  const text = spec.trim();
  const top = /^top:([^:]+):(\d+)$/.exec(text);
  if (top) {
    const [, cls, kText] = top;
    const k = Number(kText);
    const ranking = classRanking(ctx, cls);
    if (k < 1 || k > ranking.length) {
      throw new UserError(
        `--neurons ${text}: K must be 1 … ${ranking.length} (the probe gives ${cls} ${ranking.length} neurons with a nonzero weight)`,
      );
    }
    return { label: text, ids: ranking.slice(0, k) };
  }
  const concept = /^concept:(.+)$/.exec(text);
  if (concept) {
    const name = concept[1];
    if (!ctx.concepts) throw new UserError(`--neurons ${text}: the results have no concepts/concepts.json`);
    checkSite(ctx.concepts.site, ctx.space.site, ctx.conceptsFile);
    const ids = ctx.concepts.conceptNeurons.filter((n) => n.concept === name).map((n) => n.neuron);
    if (ids.length === 0) {
      const known = [...new Set(ctx.concepts.conceptNeurons.map((n) => n.concept))];
      throw new UserError(
        `--neurons ${text}: no concept neurons for '${name}' in ${ctx.conceptsFile} (concepts with neurons: ${known.join(", ") || "none"})`,
      );
    }
    return { label: text, ids: [...new Set(ids)] };
  }
  const layers = [...ctx.layers];
  const ids = existsSync(text)
    ? await readNeuronList(text, ctx.space, layers)
    : parseNeuronList(text.replaceAll(",", " "), "--neurons", ctx.space, layers);
  if (ids.length === 0) throw new UserError("--neurons: no neurons given");
  const distinct = [...new Set(ids)];
  return {
    label: distinct.length <= 4 ? distinct.map((id) => neuronName(id, ctx.space)).join(",") : text,
    ids: distinct,
  };
}
