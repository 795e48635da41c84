import { UserError } from "../util/errors.js";
import type { Site } from "../util/neurons.js";

/**
 * Interventions inside the forward pass: chosen units of one site and layer are zeroed, set to values
 * (a constant, or each neuron's mean), or scaled, and every later layer computes from the changed
 * values. Where they act, matching transformers with PyTorch hooks (../shared/data/hf-llm README):
 * - `hidden` layer l ≥ 1: the residual stream that block l + 1 receives (a forward pre-hook on it); the
 *   stored hidden state of layer l is the block's output as transformers' output_hidden_states records
 *   it, i.e. before the change. Layer 0 (the embedding output, after Gemma's √hidden scaling) is
 *   recorded as block 1 receives it, i.e. with the change.
 * - `mlp` layer l: block l's MLP neurons (the input of its down projection), inside the block's graph.
 */
export interface InterventionSpec {
  site: Site;
  layer: number;
  units: readonly number[];
  /** zero: 0; set: `value` (one number, or one per unit, e.g. the neurons' means); scale: × `value`. */
  mode: "zero" | "set" | "scale";
  value?: number | readonly number[];
}

/** One site and layer's change as per-unit vectors: out = replace ? value : x × scale. */
export interface UnitEdit {
  readonly site: Site;
  readonly layer: number;
  readonly scale: Float32Array;
  readonly value: Float32Array;
  /** 1 where the unit is replaced by `value`. */
  readonly replace: Uint8Array;
  /** Units the edit touches (ascending), for applying it without a pass over every unit. */
  readonly units: Int32Array;
}

/**
 * Merges interventions into one edit per (site, layer), checking units against the widths. Later
 * interventions on the same unit compose: a scale after a set scales the set value.
 */
export function compileInterventions(
  specs: readonly InterventionSpec[],
  widths: { hidden: number; mlp: number; layers: number },
): UnitEdit[] {
  const edits = new Map<string, UnitEdit & { touched: Set<number> }>();
  for (const spec of specs) {
    const width = spec.site === "hidden" ? widths.hidden : widths.mlp;
    const minLayer = spec.site === "hidden" ? 0 : 1;
    if (!Number.isInteger(spec.layer) || spec.layer < minLayer || spec.layer > widths.layers) {
      throw new UserError(
        `intervention on ${spec.site} layer ${spec.layer}: the model has ${spec.site} layers ${minLayer} … ${widths.layers}`,
      );
    }
    const key = `${spec.site}.${spec.layer}`;
    let edit = edits.get(key);
    if (!edit) {
      edit = {
        site: spec.site,
        layer: spec.layer,
        scale: new Float32Array(width).fill(1),
        value: new Float32Array(width),
        replace: new Uint8Array(width),
        units: new Int32Array(0),
        touched: new Set(),
      };
      edits.set(key, edit);
    }
    spec.units.forEach((unit, i) => {
      if (!Number.isInteger(unit) || unit < 0 || unit >= width) {
        throw new UserError(`intervention on ${key}: unit ${unit} is outside 0 … ${width - 1}`);
      }
      const v = Array.isArray(spec.value) ? spec.value[i] : (spec.value as number | undefined);
      if (spec.mode !== "zero" && (v === undefined || !Number.isFinite(v))) {
        throw new UserError(
          `intervention on ${key}: mode ${spec.mode} needs a finite value for unit ${unit}`,
        );
      }
      const e = edit as UnitEdit;
      if (spec.mode === "scale") {
        if (e.replace[unit]) e.value[unit] = Math.fround(e.value[unit] * (v as number));
        else e.scale[unit] = Math.fround(e.scale[unit] * (v as number));
      } else {
        e.replace[unit] = 1;
        e.value[unit] = spec.mode === "zero" ? 0 : (v as number);
      }
      edit?.touched.add(unit);
    });
  }
  return [...edits.values()].map(({ touched, ...e }) => ({
    ...e,
    units: Int32Array.from([...touched].sort((a, b) => a - b)),
  }));
}

/** Applies a hidden-site edit to every token of x [tokens, width]; returns a changed copy. */
export function applyEdit(edit: UnitEdit, x: Float32Array): Float32Array {
  const width = edit.scale.length;
  const out = x.slice();
  for (let t = 0; t < out.length; t += width) {
    for (const u of edit.units) {
      out[t + u] = edit.replace[u] ? edit.value[u] : Math.fround(out[t + u] * edit.scale[u]);
    }
  }
  return out;
}
