import type { ProbeOnNeurons } from "../../src/compress/graph.js";
import type { Rng } from "../../src/util/rng.js";

/** A probe on `inputs` with random weights, bias and standardisation (drawn in that order). */
export function randomProbe(
  rng: Rng,
  on: Pick<ProbeOnNeurons, "site" | "width" | "sides" | "inputs" | "classes">,
): ProbeOnNeurons {
  const { inputs, classes } = on;
  return {
    ...on,
    weights: Float64Array.from({ length: inputs.length * classes }, () => rng.normal()),
    bias: Float64Array.from({ length: classes }, () => rng.normal()),
    mean: Float64Array.from(inputs, () => rng.normal()),
    scale: Float64Array.from(inputs, () => 0.5 + rng.next()),
  };
}
