import { ProtoMessage } from "./proto.js";

/**
 * Builds ONNX graphs in code. codeneurons writes its own graphs (transformer forward passes and small
 * linear-algebra kernels) rather than shipping exported .onnx files, so that any checkpoint can be run
 * without Python. Field numbers follow onnx/onnx.proto.
 */
export type DType = "float32" | "float16" | "bfloat16" | "float64" | "int64" | "int32" | "bool" | "uint8";

const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};

export type Dim = number | string;

export interface TensorValue {
  dtype: DType;
  dims: readonly number[];
  /** Little-endian element bytes (raw_data), or a typed array whose bytes are used as is. */
  data: ArrayBufferView;
}

export type AttrValue =
  | { kind: "int"; value: number }
  | { kind: "float"; value: number }
  | { kind: "ints"; value: readonly number[] }
  | { kind: "floats"; value: readonly number[] }
  | { kind: "string"; value: string }
  | { kind: "tensor"; value: TensorValue };

export const attr = {
  int: (value: number): AttrValue => ({ kind: "int", value }),
  float: (value: number): AttrValue => ({ kind: "float", value }),
  ints: (value: readonly number[]): AttrValue => ({ kind: "ints", value }),
  floats: (value: readonly number[]): AttrValue => ({ kind: "floats", value }),
  string: (value: string): AttrValue => ({ kind: "string", value }),
  tensor: (value: TensorValue): AttrValue => ({ kind: "tensor", value }),
};

/** Plain numbers are ints when integral, floats otherwise; arrays of integers are ints. */
export type AttrInput = AttrValue | number | string | readonly number[];

function toAttr(v: AttrInput): AttrValue {
  if (typeof v === "number") return Number.isInteger(v) ? attr.int(v) : attr.float(v);
  if (typeof v === "string") return attr.string(v);
  if (Array.isArray(v)) {
    const nums = v as readonly number[];
    return nums.every((x) => Number.isInteger(x)) ? attr.ints(nums) : attr.floats(nums);
  }
  return v as AttrValue;
}

interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  domain: string;
  name: string;
}

interface ValueSpec {
  name: string;
  dtype: DType;
  shape: readonly Dim[];
}

export class GraphBuilder {
  private readonly nodes: NodeSpec[] = [];
  private readonly inputs: ValueSpec[] = [];
  private readonly outputs: ValueSpec[] = [];
  private readonly initializers: { name: string; value: TensorValue }[] = [];
  private readonly names = new Set<string>();
  /** Names handed out by `fresh` that no node or input has produced yet (they may be claimed once). */
  private readonly unclaimed = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  /** A fresh value name with a readable prefix, for a node's `outputs` (usable once). */
  fresh(prefix: string): string {
    const n = this.unique(prefix);
    this.unclaimed.add(n);
    return n;
  }

  private unique(prefix: string): string {
    let n = `${prefix}_${this.counter++}`;
    while (this.names.has(n)) n = `${prefix}_${this.counter++}`;
    this.names.add(n);
    return n;
  }

  private claim(name: string): string {
    if (this.unclaimed.delete(name)) return name;
    if (this.names.has(name)) throw new Error(`GraphBuilder: duplicate value name '${name}'`);
    this.names.add(name);
    return name;
  }

  input(name: string, dtype: DType, shape: readonly Dim[]): string {
    this.inputs.push({ name: this.claim(name), dtype, shape });
    return name;
  }

  /** Marks an existing value as a graph output (shape may use symbolic dims). */
  output(value: string, dtype: DType, shape: readonly Dim[]): void {
    this.outputs.push({ name: value, dtype, shape });
  }

  initializer(name: string, value: TensorValue): string {
    this.initializers.push({ name: this.claim(name), value });
    return name;
  }

  /** A constant tensor as an initializer with a fresh name. */
  constant(prefix: string, value: TensorValue): string {
    const name = this.unique(prefix);
    this.initializers.push({ name, value });
    return name;
  }

  scalar(value: number, dtype: DType = "float32"): string {
    return this.constant("const", tensorOf(dtype, [], [value]));
  }

  int64s(values: readonly number[]): string {
    return this.constant("shape", tensorOf("int64", [values.length], values));
  }

  /** Adds a node; returns its output names (fresh unless `outputs` names them). */
  op(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, AttrInput> = {},
    opts: { outputs?: number | string[]; domain?: string; name?: string } = {},
  ): string[] {
    // An empty name leaves an optional output out (ONNX's convention).
    const outs =
      typeof opts.outputs === "object"
        ? opts.outputs.map((o) => (o === "" ? o : this.claim(o)))
        : Array.from({ length: opts.outputs ?? 1 }, () => this.unique(opType.toLowerCase()));
    const attrValues: Record<string, AttrValue> = {};
    for (const [k, v] of Object.entries(attrs)) attrValues[k] = toAttr(v);
    this.nodes.push({
      op: opType,
      inputs: [...inputs],
      outputs: outs,
      attrs: attrValues,
      domain: opts.domain ?? "",
      name: opts.name ?? this.unique(`n_${opType}`),
    });
    return outs;
  }

  /** Single-output convenience form of `op`. */
  op1(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, AttrInput> = {},
    name?: string,
  ): string {
    return this.op(opType, inputs, attrs, name ? { outputs: [name] } : {})[0];
  }

  /** Bytes of all initializers (a ModelProto, being one protobuf message, must stay under 2 GiB). */
  initializerBytes(): number {
    return this.initializers.reduce((s, i) => s + i.value.data.byteLength, 0);
  }

  /** Serialises to ModelProto bytes. */
  toModel(opts: ModelOptions = {}): Uint8Array {
    return this.encode(opts, () => null);
  }

  /**
   * Serialises with every initializer of at least `minBytes` stored outside the model, in one data
   * file that the model names as `location` (relative to the model file, as ONNX external data is).
   * Returns the model bytes and the data file's contents as chunks (tensors at 4 KiB-aligned offsets,
   * which lets onnxruntime map them from disk). Lifts the 2 GiB protobuf limit for large checkpoints.
   */
  toModelWithExternalData(
    location: string,
    opts: ModelOptions & { minBytes?: number } = {},
  ): { model: Uint8Array; data: Uint8Array[] } {
    const data: Uint8Array[] = [];
    let offset = 0;
    const model = this.encode(opts, (value) => {
      const bytes = new Uint8Array(value.data.buffer, value.data.byteOffset, value.data.byteLength);
      if (bytes.length < (opts.minBytes ?? 1024)) return null;
      const pad = (4096 - (offset % 4096)) % 4096;
      if (pad > 0) data.push(new Uint8Array(pad));
      offset += pad;
      data.push(bytes);
      const ref = { location, offset, length: bytes.length };
      offset += bytes.length;
      return ref;
    });
    return { model, data };
  }

  private encode(opts: ModelOptions, external: (value: TensorValue) => ExternalRef | null): Uint8Array {
    const graph = new ProtoMessage();
    for (const n of this.nodes) graph.message(1, encodeNode(n));
    graph.string(2, this.name);
    for (const init of this.initializers) {
      graph.message(5, encodeTensor(init.name, init.value, external(init.value)));
    }
    for (const i of this.inputs) graph.message(11, encodeValueInfo(i));
    for (const o of this.outputs) graph.message(12, encodeValueInfo(o));

    const model = new ProtoMessage();
    model.varint(1, 8); // ir_version 8 (ONNX 1.10+), understood by onnxruntime >= 1.10
    model.string(2, opts.producer ?? "codeneurons");
    model.string(3, "0.1");
    model.message(7, graph);
    model.message(8, new ProtoMessage().string(1, "").varint(2, opts.opset ?? 17));
    for (const [domain, version] of Object.entries(opts.extraOpsets ?? {})) {
      model.message(8, new ProtoMessage().string(1, domain).varint(2, version));
    }
    return model.toBytes();
  }
}

export interface ModelOptions {
  opset?: number;
  extraOpsets?: Record<string, number>;
  producer?: string;
}

interface ExternalRef {
  location: string;
  offset: number;
  length: number;
}

export function tensorOf(dtype: DType, dims: readonly number[], values: readonly number[]): TensorValue {
  switch (dtype) {
    case "float32":
      return { dtype, dims, data: Float32Array.from(values) };
    case "float64":
      return { dtype, dims, data: Float64Array.from(values) };
    case "int64":
      return { dtype, dims, data: BigInt64Array.from(values.map((v) => BigInt(v))) };
    case "int32":
      return { dtype, dims, data: Int32Array.from(values) };
    case "bool":
    case "uint8":
      return { dtype, dims, data: Uint8Array.from(values) };
    default:
      throw new Error(`tensorOf: unsupported dtype ${dtype}`);
  }
}

function encodeTensor(name: string, t: TensorValue, external: ExternalRef | null = null): ProtoMessage {
  const m = new ProtoMessage();
  for (const d of t.dims) m.varint(1, d);
  m.varint(2, ONNX_DTYPE[t.dtype]);
  m.string(8, name);
  if (external) {
    // external_data (13): key/value entries; data_location (14) = EXTERNAL.
    for (const [k, v] of Object.entries(external)) {
      m.message(13, new ProtoMessage().string(1, k).string(2, String(v)));
    }
    m.varint(14, 1);
  } else {
    m.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return m;
}

function encodeAttr(name: string, a: AttrValue): ProtoMessage {
  const m = new ProtoMessage().string(1, name);
  switch (a.kind) {
    case "float":
      m.float(2, a.value).varint(20, 1);
      break;
    case "int":
      m.varint(3, a.value).varint(20, 2);
      break;
    case "string":
      m.string(4, a.value).varint(20, 3);
      break;
    case "tensor":
      m.message(5, encodeTensor("", a.value)).varint(20, 4);
      break;
    case "floats":
      for (const f of a.value) m.float(7, f);
      m.varint(20, 6);
      break;
    case "ints":
      for (const i of a.value) m.varint(8, i);
      m.varint(20, 7);
      break;
  }
  return m;
}

function encodeNode(n: NodeSpec): ProtoMessage {
  const m = new ProtoMessage();
  for (const i of n.inputs) m.string(1, i);
  for (const o of n.outputs) m.string(2, o);
  m.string(3, n.name);
  m.string(4, n.op);
  for (const [k, v] of Object.entries(n.attrs)) m.message(5, encodeAttr(k, v));
  if (n.domain) m.string(7, n.domain);
  return m;
}

function encodeValueInfo(v: ValueSpec): ProtoMessage {
  const shape = new ProtoMessage();
  for (const d of v.shape) {
    const dim = new ProtoMessage();
    if (typeof d === "number") dim.varint(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoMessage().varint(1, ONNX_DTYPE[v.dtype]).message(2, shape);
  const type = new ProtoMessage().message(1, tensorType);
  return new ProtoMessage().string(1, v.name).message(2, type);
}
