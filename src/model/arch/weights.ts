import { InputError, UserError } from "../../util/errors.js";
import { elementCount, type LoadedTensor, type TensorMap } from "../weights/tensor.js";

/**
 * Looks up a checkpoint's parameters by their Hugging Face names, whatever prefix the saving class
 * added (`bert.`, `roberta.`, `transformer.`, or none), and checks every shape. Checkpoints converted
 * from TensorFlow name layer-norm parameters `gamma`/`beta` instead of `weight`/`bias`; both are found.
 * Tensors nobody asks for (LM heads, poolers, position_ids and attn.bias buffers) are simply not used.
 */
/**
 * Random access to a checkpoint's tensors without holding them all (the weights module's
 * CheckpointReader fits): each parameter is read when the graph needs it and can be dropped after.
 */
export interface TensorSource {
  names(): string[];
  read(name: string): LoadedTensor;
}

export class CheckpointParams {
  private readonly prefix: string;
  private readonly used = new Set<string>();
  private readonly names: ReadonlySet<string>;
  private readonly read: (name: string) => LoadedTensor | undefined;

  /**
   * @param probe a parameter every checkpoint of the architecture has (e.g. `wte.weight`); the prefix is
   *   the one under which it is found.
   */
  constructor(
    tensors: TensorMap | TensorSource,
    readonly source: string,
    prefixes: readonly string[],
    probe: string,
  ) {
    if (tensors instanceof Map) {
      this.names = new Set(tensors.keys());
      this.read = (name) => tensors.get(name);
    } else {
      this.names = new Set(tensors.names());
      this.read = (name) => (this.names.has(name) ? tensors.read(name) : undefined);
    }
    const found = prefixes.find((p) => this.names.has(p + probe));
    if (found === undefined) {
      const tried = prefixes.map((p) => `'${p}${probe}'`).join(", ");
      throw new UserError(
        `${source}: no tensor ${tried}; is this checkpoint of the model type its config.json says? ` +
          `(it holds ${describeNames([...this.names])})`,
      );
    }
    this.prefix = found;
  }

  /** The parameter `name` (without prefix) as float32, after checking its shape. */
  get(name: string, shape: readonly number[]): Float32Array {
    const t = this.lookup(name);
    if (!t) {
      throw new UserError(`${this.source}: missing tensor '${this.prefix}${name}'`);
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new UserError(
        `${this.source}: tensor '${this.prefix}${name}' has shape [${t.shape.join(", ")}], ` +
          `expected [${shape.join(", ")}] from config.json`,
      );
    }
    if (t.data.length !== elementCount(shape)) {
      throw new UserError(`${this.source}: tensor '${this.prefix}${name}' holds ${t.data.length} values`);
    }
    return t.data;
  }

  has(name: string): boolean {
    return aliases(this.prefix + name).some((n) => this.names.has(n));
  }

  /**
   * Refuses a checkpoint holding a block at or beyond `numLayers` (a tensor `<prefix><blocks><i>.…`
   * with i >= numLayers, e.g. `encoder.layer.12.` or `h.12.`): a config.json that says fewer layers
   * than the weights have would otherwise run a truncated model without a word. The error names the
   * config field and the tensor, as the block-streamed families do (block-weights.ts).
   *
   * @param configFile the config.json, @param field its layer-count field
   */
  refuseBlocksBeyond(blocks: string, numLayers: number, configFile: string, field: string): void {
    const start = this.prefix + blocks;
    let beyond: { name: string; layer: number } | null = null;
    for (const name of this.names) {
      if (!name.startsWith(start)) continue;
      const m = /^(\d+)\./.exec(name.slice(start.length));
      const layer = m ? Number(m[1]) : -1;
      if (layer >= numLayers && (beyond === null || layer < beyond.layer)) beyond = { name, layer };
    }
    if (beyond) {
      throw new InputError(
        configFile,
        `says ${numLayers} layers but the checkpoint has more (it holds '${beyond.name}')`,
        { field },
      );
    }
  }

  /** Names of the checkpoint's tensors that no `get` asked for (for logging; never an error). */
  unused(): string[] {
    return [...this.names].filter((k) => !this.used.has(k));
  }

  private lookup(name: string): LoadedTensor | undefined {
    const candidate = aliases(this.prefix + name).find((n) => this.names.has(n));
    if (candidate === undefined) return undefined;
    this.used.add(candidate);
    return this.read(candidate);
  }
}

function aliases(full: string): string[] {
  if (full.endsWith(".weight")) return [full, `${full.slice(0, -".weight".length)}.gamma`];
  if (full.endsWith(".bias")) return [full, `${full.slice(0, -".bias".length)}.beta`];
  return [full];
}

function describeNames(names: string[]): string {
  if (names.length === 0) return "no tensors";
  const shown = names.slice(0, 5).map((n) => `'${n}'`);
  return `${names.length} tensors: ${shown.join(", ")}${names.length > 5 ? ", …" : ""}`;
}

/** out[i][j] = w[j][i] for a row-major [rows, cols] matrix: nn.Linear's [out, in] → MatMul's [in, out]. */
export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = w[base + c];
  }
  return out;
}

/** Columns side by side: [rows, a] ++ [rows, b] ++ … → [rows, a + b + …] (packing Q, K, V). */
export function concatColumns(parts: readonly Float32Array[], rows: number): Float32Array {
  const widths = parts.map((p) => p.length / rows);
  const total = widths.reduce((s, w) => s + w, 0);
  const out = new Float32Array(rows * total);
  for (let r = 0; r < rows; r++) {
    let off = r * total;
    parts.forEach((p, i) => {
      out.set(p.subarray(r * widths[i], (r + 1) * widths[i]), off);
      off += widths[i];
    });
  }
  return out;
}

export function scaled(v: Float32Array, factor: number): Float32Array {
  if (factor === 1) return v;
  return Float32Array.from(v, (x) => x * factor);
}
