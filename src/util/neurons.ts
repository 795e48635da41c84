/**
 * Neuron numbering (DESIGN.md): layers 0..L, 0 = embedding output; neuron id = layer * hidden + unit
 * (NeuroX's layer-major order); for people, `L{layer}:{unit}`.
 */
export function neuronId(layer: number, unit: number, hidden: number): number {
  return layer * hidden + unit;
}

export function neuronLayer(id: number, hidden: number): number {
  return Math.floor(id / hidden);
}

export function neuronName(id: number, hidden: number): string {
  return `L${Math.floor(id / hidden)}:${id % hidden}`;
}

export function parseNeuronName(name: string, hidden: number): number {
  const m = /^L(\d+):(\d+)$/.exec(name.trim());
  if (!m) throw new Error(`not a neuron name (expected L{layer}:{unit}): '${name}'`);
  const unit = Number(m[2]);
  if (unit >= hidden) throw new Error(`neuron ${name}: unit ${unit} >= hidden size ${hidden}`);
  return neuronId(Number(m[1]), unit, hidden);
}

/**
 * Ids of all neurons of the given layers when the columns of a matrix hold those layers in order
 * (layer-major). `layers` are model layer numbers; returned ids are global neuron ids.
 */
export function neuronIdsOfLayers(layers: readonly number[], hidden: number): number[] {
  const ids: number[] = [];
  for (const l of layers) for (let u = 0; u < hidden; u++) ids.push(l * hidden + u);
  return ids;
}
