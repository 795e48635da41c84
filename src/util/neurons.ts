import { InputError } from "./errors.js";

/** Where a neuron lives: the residual stream after a block (`L12:17`) or a block's MLP (`L12.mlp:3071`). */
export type Site = "hidden" | "mlp";
export const SITES: readonly Site[] = ["hidden", "mlp"];

/**
 * Neuron numbering (docs/DESIGN.md). A neuron lives at a site: `hidden`, the residual stream after layer l
 * (0 = embeddings … L), or `mlp`, the MLP neurons of block l (1 … L). Within a site, neuron id =
 * layer × width + unit (NeuroX's layer-major order), width being the site's neurons per layer (the
 * hidden size, or the intermediate size for mlp); so the hidden site's numbering is NeuroX's and did
 * not change when sites came. For people: `L{layer}:{unit}` (hidden) and `L{layer}.mlp:{unit}` (mlp).
 *
 * Ids of two sites overlap, so every id travels with its space, and results files record the site.
 */
export interface NeuronSpace {
  readonly site: Site;
  /** Neurons per layer of the site. */
  readonly width: number;
}

/**
 * A space, or a bare width: the hidden site of that width (how the helpers were called before sites;
 * kept so that library callers' `neuronName(id, 768)` still means what it did).
 */
export type SpaceLike = NeuronSpace | number;

export function neuronSpace(site: Site, width: number): NeuronSpace {
  if (!SITES.includes(site)) throw new Error(`unknown neuron site '${String(site)}' (${SITES.join(", ")})`);
  if (!Number.isInteger(width) || width < 1) throw new Error(`neurons per layer must be >= 1, got ${width}`);
  return { site, width };
}

export function spaceOf(space: SpaceLike): NeuronSpace {
  return typeof space === "number" ? neuronSpace("hidden", space) : space;
}

export function neuronId(layer: number, unit: number, space: SpaceLike): number {
  return layer * spaceOf(space).width + unit;
}

export function neuronLayer(id: number, space: SpaceLike): number {
  return Math.floor(id / spaceOf(space).width);
}

export function neuronUnit(id: number, space: SpaceLike): number {
  return id % spaceOf(space).width;
}

/** `L3` for the residual stream after layer 3, `L3.mlp` for block 3's MLP. */
export function layerName(layer: number, site: Site): string {
  return site === "hidden" ? `L${layer}` : `L${layer}.${site}`;
}

export function neuronName(id: number, space: SpaceLike): string {
  const s = spaceOf(space);
  return `${layerName(Math.floor(id / s.width), s.site)}:${id % s.width}`;
}

/** How a site's names are written: `L{layer}:{unit}` or `L{layer}.mlp:{unit}`. */
export function namePattern(site: Site): string {
  return site === "hidden" ? "L{layer}:{unit}" : `L{layer}.${site}:{unit}`;
}

/** How people say a site, for messages and page labels. */
export function siteTitle(site: Site): string {
  return site === "hidden" ? "residual stream" : "MLP neurons";
}

/**
 * The layers of a site among a store's layers: the MLP site has no layer 0 (the embeddings have no
 * MLP), so a store of layers 0 … L holds MLP layers 1 … L.
 */
export function siteLayers(site: Site, storedLayers: readonly number[]): number[] {
  return storedLayers.filter((l) => site === "hidden" || l >= 1);
}

const NAME = /^L(\d+)(?:\.([A-Za-z]+))?:(\d+)$/;

/** The site a neuron name is of: `L3:17` the residual stream, `L3.mlp:17` the MLP neurons. */
export function siteOfName(name: string): Site {
  const text = name.trim();
  const m = NAME.exec(text);
  if (!m)
    throw new Error(
      `not a neuron name (expected ${namePattern("hidden")}, or ${namePattern("mlp")} for MLP neurons): '${name}'`,
    );
  if (m[2] === undefined) return "hidden";
  if (m[2] === "hidden" || !(SITES as readonly string[]).includes(m[2])) {
    throw new Error(
      `neuron ${text}: unknown site '${m[2]}' (${namePattern("hidden")} is the residual stream, ${namePattern("mlp")} an MLP neuron)`,
    );
  }
  return m[2] as Site;
}

/**
 * Parses `L{layer}:{unit}` (hidden) or `L{layer}.{site}:{unit}` into an id of `space`. Refuses, saying
 * why, a malformed name, a site other than the space's (ids of two sites overlap, so a name of the
 * other site must not be read as a number of this one) and a unit past the site's width.
 */
export function parseNeuronName(name: string, space: SpaceLike): number {
  const s = spaceOf(space);
  const text = name.trim();
  const site = siteOfName(text);
  if (site !== s.site) {
    throw new Error(
      `neuron ${text} is on the ${site} site (${siteTitle(site)}), but this analysis is on the ${s.site} site; use --site ${site} for it`,
    );
  }
  const m = NAME.exec(text)!;
  const layer = Number(m[1]);
  const unit = Number(m[3]);
  if (unit >= s.width) {
    throw new Error(
      `neuron ${text}: unit ${unit} is out of range: the ${s.site} site has ${s.width} neurons per layer (units 0..${s.width - 1})`,
    );
  }
  return neuronId(layer, unit, s);
}

/** Why a neuron reference was refused: not a reference at all, or a neuron that does not exist. */
export class NeuronRefError extends Error {
  constructor(
    message: string,
    readonly reason: "malformed" | "out-of-range",
  ) {
    super(message);
    this.name = "NeuronRefError";
  }
}

/**
 * A neuron reference as people and files give one, the one parser of them (neuron lists, the
 * explorer's URLs): a bare id (`17`, or the number 17) of `site`, or a name that says its site
 * (`L3:17`, `L3.mlp:17`), read in `spaceOfSite(site)`. A name of another site than the reader
 * allows is refused by the space it reads in (parseNeuronName).
 */
export function parseNeuronRef(
  ref: string | number,
  site: Site,
  spaceOfSite: (site: Site) => NeuronSpace,
): { site: Site; id: number } {
  const text = String(ref).trim();
  if (/^\d+$/.test(text)) {
    const id = Number(text);
    if (!Number.isSafeInteger(id)) throw new NeuronRefError(`neuron id ${text} is too large`, "out-of-range");
    return { site, id };
  }
  let named: Site;
  try {
    named = siteOfName(text);
  } catch (e) {
    throw new NeuronRefError((e as Error).message, "malformed");
  }
  try {
    return { site: named, id: parseNeuronName(text, spaceOfSite(named)) };
  } catch (e) {
    throw new NeuronRefError((e as Error).message, "out-of-range");
  }
}

/**
 * Ids of all neurons of the given layers when the columns of a matrix hold those layers in order
 * (layer-major). `layers` are model layer numbers; returned ids are ids of `space`.
 */
export function neuronIdsOfLayers(layers: readonly number[], space: SpaceLike): number[] {
  const { width } = spaceOf(space);
  const ids: number[] = [];
  for (const l of layers) for (let u = 0; u < width; u++) ids.push(l * width + u);
  return ids;
}

/**
 * The site a results file records in `field`. Files written before sites existed have none and hold
 * hidden-site neurons, so an absent field reads as "hidden".
 */
export function recordedSite(value: unknown, file: string, field = "site"): Site {
  if (value === undefined) return "hidden";
  if (typeof value !== "string" || !(SITES as readonly string[]).includes(value))
    throw new InputError(file, `expected one of ${SITES.join(", ")}, got ${JSON.stringify(value)}`, {
      field,
    });
  return value as Site;
}

/**
 * Refuses a file whose neurons are of another site than the analysis reads: their ids would name
 * other neurons (both sites number from 0).
 */
export function checkSite(recorded: Site, wanted: Site, file: string, field = "site"): void {
  if (recorded === wanted) return;
  throw new InputError(
    file,
    `holds ${recorded}-site neurons (${siteTitle(recorded)}, ${namePattern(recorded)}), but this analysis is on the ${wanted} site; give --site ${recorded}, or a file made on the ${wanted} site`,
    { field },
  );
}
