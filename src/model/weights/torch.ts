import { closeSync, fstatSync, openSync } from "node:fs";
import { InputError } from "../../util/errors.js";
import { memoryBudget, overBudget } from "./budget.js";
import { type PickleContext, PyDict, PyObject, PyTuple, type PyValue, unpickle } from "./pickle.js";
import { bytesToFloat32, dtypeBytes } from "./safetensors.js";
import {
  type CheckpointDType,
  type CheckpointReader,
  elementCount,
  type LoadedTensor,
  type TensorInfo,
  type TensorMap,
} from "./tensor.js";
import { looksLikeZip, readExactly, ZipReader } from "./zip.js";

/**
 * PyTorch checkpoints (pytorch_model.bin): the zip format of torch >= 1.6 and the older single-stream
 * ("legacy") format. The pickle inside is decoded by the restricted unpickler with an allowlist that only
 * knows how tensors are rebuilt; anything else is refused, so loading never runs code.
 */

const STORAGE_DTYPES: Record<string, CheckpointDType> = {
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  DoubleStorage: "F64",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
  UntypedStorage: "U8",
};

/** Where a storage lives: `key` names it in the archive; legacy views start `base` elements into it. */
class StorageRef extends PyObject {
  readonly qualifiedName = "torch storage";
  constructor(
    readonly key: string,
    readonly dtype: CheckpointDType,
    readonly numel: number,
    readonly base: number,
  ) {
    super();
  }
}

class TensorRef extends PyObject {
  readonly qualifiedName = "torch.Tensor";
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {
    super();
  }
}

class StorageType extends PyObject {
  constructor(
    readonly qualifiedName: string,
    readonly dtype: CheckpointDType,
  ) {
    super();
  }
}

/** torch.Tensor / torch.nn.Parameter as the `new_type` argument of _rebuild_from_type_v2. */
class TensorType extends PyObject {
  constructor(readonly qualifiedName: string) {
    super();
  }
}

class Builtin extends PyObject {
  constructor(
    readonly qualifiedName: string,
    private readonly fn: (args: readonly PyValue[], ctx: PickleContext) => PyValue,
  ) {
    super();
  }
  override call(args: readonly PyValue[], ctx: PickleContext): PyValue {
    return this.fn(args, ctx);
  }
}

/** Elements a broadcast view may have beyond 16× its storage (64 MiB as float32). */
const MAX_BROADCAST = 1 << 24;

// ---- argument checks ----

function int(v: PyValue, what: string, ctx: PickleContext): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw ctx.error(`${what} must be an integer`);
  return v;
}

function intTuple(v: PyValue, what: string, ctx: PickleContext): number[] {
  if (!(v instanceof PyTuple)) throw ctx.error(`${what} must be a tuple of integers`);
  return v.items.map((x) => {
    const n = int(x, what, ctx);
    if (n < 0) throw ctx.error(`${what} has a negative entry`);
    return n;
  });
}

function arity(args: readonly PyValue[], min: number, max: number, name: string, ctx: PickleContext): void {
  if (args.length < min || args.length > max) {
    throw ctx.error(`${name} called with ${args.length} arguments (expected ${min}–${max})`);
  }
}

function rebuildTensor(name: string) {
  return (args: readonly PyValue[], ctx: PickleContext): PyValue => {
    // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
    arity(args, 4, 7, name, ctx);
    const storage = args[0];
    if (!(storage instanceof StorageRef)) throw ctx.error(`${name}: first argument is not a storage`);
    const offset = int(args[1], "storage_offset", ctx);
    const shape = intTuple(args[2], "size", ctx);
    const stride = intTuple(args[3], "stride", ctx);
    if (offset < 0) throw ctx.error("negative storage offset");
    if (shape.length !== stride.length) throw ctx.error("size and stride differ in length");
    checkSpan(storage, offset, shape, stride, ctx);
    return new TensorRef(storage, offset, shape, stride);
  };
}

/** The highest element a view touches must lie inside its storage. */
function checkSpan(
  storage: StorageRef,
  offset: number,
  shape: number[],
  stride: number[],
  ctx: PickleContext,
) {
  const count = elementCount(shape);
  if (count === 0) return;
  // Stride-0 (broadcast) views may read more elements than stored, but not absurdly more: a damaged
  // size must not become a huge allocation.
  if (count > Math.max(16 * storage.numel, MAX_BROADCAST)) {
    throw ctx.error(
      `tensor view [${shape}] has ${count} elements, far more than its storage (${storage.numel})`,
    );
  }
  // Every view becomes a float32 array of its own.
  if (4 * count > memoryBudget()) throw ctx.error(`tensor view [${shape}] needs ${overBudget(4 * count)}`);
  let last = offset;
  for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * stride[d];
  if (!Number.isSafeInteger(last) || last >= storage.numel) {
    throw ctx.error(
      `tensor view [${shape}] (stride [${stride}], offset ${offset}) reaches past its storage of ${storage.numel} elements`,
    );
  }
}

function rebuildParameter(name: string) {
  return (args: readonly PyValue[], ctx: PickleContext): PyValue => {
    // (data, requires_grad, backward_hooks[, state])
    arity(args, 3, 4, name, ctx);
    if (!(args[0] instanceof TensorRef)) throw ctx.error(`${name}: data is not a tensor`);
    return args[0];
  };
}

function rebuildFromType(args: readonly PyValue[], ctx: PickleContext): PyValue {
  // (func, new_type, args, state): only plain tensors and parameters.
  arity(args, 4, 4, "_rebuild_from_type_v2", ctx);
  const [func, type, inner] = args;
  if (!(type instanceof TensorType))
    throw ctx.error("_rebuild_from_type_v2 with a type that is not a tensor");
  if (!(func instanceof Builtin) || !(inner instanceof PyTuple)) {
    throw ctx.error("_rebuild_from_type_v2 with unexpected arguments");
  }
  return func.call(inner.items, ctx);
}

function orderedDict(args: readonly PyValue[], ctx: PickleContext): PyValue {
  const d = new PyDict();
  if (args.length === 0) return d;
  const pairs = args[0];
  if (args.length > 1 || !Array.isArray(pairs)) throw ctx.error("OrderedDict with unexpected arguments");
  for (const p of pairs) {
    if (!(p instanceof PyTuple) || p.items.length !== 2 || typeof p.items[0] !== "string") {
      throw ctx.error("OrderedDict items must be (str, value) pairs");
    }
    d.map.set(p.items[0], p.items[1]);
  }
  return d;
}

/** Protocol 2 pickles bytes as _codecs.encode(text, "latin1"): a pure function, so it is allowed. */
function codecsEncode(args: readonly PyValue[], ctx: PickleContext): PyValue {
  const [text, encoding] = args;
  if (args.length !== 2 || typeof text !== "string" || encoding !== "latin1") {
    throw ctx.error("_codecs.encode is only allowed as (str, 'latin1')");
  }
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 255) throw ctx.error("_codecs.encode: character outside latin1");
    out[i] = c;
  }
  return out;
}

const ALLOWED = new Map<string, PyValue>([
  ["collections.OrderedDict", new Builtin("collections.OrderedDict", orderedDict)],
  [
    "torch._utils._rebuild_tensor",
    new Builtin("torch._utils._rebuild_tensor", rebuildTensor("_rebuild_tensor")),
  ],
  [
    "torch._utils._rebuild_tensor_v2",
    new Builtin("torch._utils._rebuild_tensor_v2", rebuildTensor("_rebuild_tensor_v2")),
  ],
  [
    "torch._utils._rebuild_parameter",
    new Builtin("torch._utils._rebuild_parameter", rebuildParameter("_rebuild_parameter")),
  ],
  [
    "torch._utils._rebuild_parameter_with_state",
    new Builtin(
      "torch._utils._rebuild_parameter_with_state",
      rebuildParameter("_rebuild_parameter_with_state"),
    ),
  ],
  [
    "torch._tensor._rebuild_from_type_v2",
    new Builtin("torch._tensor._rebuild_from_type_v2", rebuildFromType),
  ],
  ["torch.Tensor", new TensorType("torch.Tensor")],
  ["torch._tensor.Tensor", new TensorType("torch.Tensor")],
  ["torch.nn.parameter.Parameter", new TensorType("torch.nn.parameter.Parameter")],
  ["_codecs.encode", new Builtin("_codecs.encode", codecsEncode)],
  ...Object.entries(STORAGE_DTYPES).map(([name, dtype]): [string, PyValue] => [
    `torch.${name}`,
    new StorageType(`torch.${name}`, dtype),
  ]),
]);

/** The allowlist: what each permitted global stands for; undefined for everything else. */
export function resolveTorchGlobal(module: string, name: string): PyValue | undefined {
  return ALLOWED.get(`${module}.${name}`);
}

// ---- persistent ids ----

/**
 * Checks the byte size a persistent id declares for storage `key` against where the data lives (the
 * zip entry, or what the file can hold); throws through `ctx`.
 */
type StorageCheck = (key: string, bytes: number, ctx: PickleContext) => void;

/**
 * ('storage', storage_type, key, location, numel[, view_metadata]) → a StorageRef. The declared size
 * is checked against the memory budget and against `check` here, while the pickle is decoded, so that
 * no storage is ever allocated from a size the file cannot back.
 */
function storageFromPid(pid: PyValue, check: StorageCheck, ctx: PickleContext): StorageRef {
  if (!(pid instanceof PyTuple) || pid.items.length < 5 || pid.items[0] !== "storage") {
    throw ctx.error("persistent id is not a ('storage', …) tuple");
  }
  const [, type, key, , numelValue, view] = pid.items;
  if (!(type instanceof StorageType)) throw ctx.error("persistent id without a storage type");
  if (typeof key !== "string") throw ctx.error("storage key is not a string");
  const numel = int(numelValue, "storage size", ctx);
  if (numel < 0) throw ctx.error(`storage '${key}' has a negative size ${numel}`);
  const bytes = numel * dtypeBytes(type.dtype);
  if (bytes > memoryBudget()) {
    throw ctx.error(
      `storage '${key}' declares ${numel} ${type.qualifiedName} elements: ${overBudget(bytes)}`,
    );
  }
  check(key, bytes, ctx);
  if (view === undefined || view === null) return new StorageRef(key, type.dtype, numel, 0);
  // Legacy views: (view_key, offset, view_size) inside the root storage.
  if (!(view instanceof PyTuple) || view.items.length !== 3) throw ctx.error("bad storage view metadata");
  const offset = int(view.items[1], "view offset", ctx);
  const size = int(view.items[2], "view size", ctx);
  if (offset < 0 || size < 0 || offset + size > numel) throw ctx.error("storage view outside its storage");
  return new StorageRef(key, type.dtype, size, offset);
}

// ---- the tensors of a state dict ----

/** Flattens nested dicts of tensors into dotted names; other values (epoch counters…) are skipped. */
function collectTensors(value: PyValue, file: string): Map<string, TensorRef> {
  const out = new Map<string, TensorRef>();
  const seen = new Set<PyDict>();
  const walk = (v: PyValue, prefix: string, depth: number) => {
    if (!(v instanceof PyDict) || seen.has(v) || depth > 8) return;
    seen.add(v);
    for (const [k, item] of v.map) {
      const name = prefix + String(k);
      if (item instanceof TensorRef) out.set(name, item);
      else walk(item, `${name}.`, depth + 1);
    }
  };
  if (value instanceof TensorRef) throw new InputError(file, "holds a single tensor, not a state dict");
  walk(value, "", 0);
  if (out.size === 0) throw new InputError(file, "holds no tensors (expected a state dict)");
  return out;
}

/** Converts the elements a view touches to float32, in row-major order. */
function materialize(
  t: TensorRef,
  storageBytes: Uint8Array,
  bigEndian: boolean,
  shared: boolean,
): Float32Array {
  const size = dtypeBytes(t.storage.dtype);
  const count = elementCount(t.shape);
  if (count === 0) return new Float32Array(0);
  let span = 1;
  for (let d = 0; d < t.shape.length; d++) span += (t.shape[d] - 1) * t.stride[d];
  const start = (t.storage.base + t.offset) * size;
  let bytes = storageBytes.subarray(start, start + span * size);
  if (bigEndian) bytes = byteSwapped(bytes, size);
  const flat = bytesToFloat32(bytes, t.storage.dtype);
  if (!isContiguous(t.shape, t.stride)) return gather(flat, t.shape, t.stride, count);
  // float32 comes back as a view of the storage: copy it unless this tensor is the storage's only user.
  return flat.buffer === storageBytes.buffer && shared ? flat.slice() : flat;
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

/** Strided read: the last dimension in an inner loop, the others as an odometer. */
function gather(src: Float32Array, shape: number[], stride: number[], count: number): Float32Array {
  const out = new Float32Array(count);
  const nd = shape.length;
  const index = new Array<number>(nd).fill(0);
  const innerSize = shape[nd - 1];
  const innerStride = stride[nd - 1];
  let base = 0;
  let o = 0;
  for (;;) {
    for (let j = 0; j < innerSize; j++) out[o++] = src[base + j * innerStride];
    let d = nd - 2;
    for (; d >= 0; d--) {
      index[d]++;
      base += stride[d];
      if (index[d] < shape[d]) break;
      base -= stride[d] * shape[d];
      index[d] = 0;
    }
    if (d < 0) return out;
  }
}

function byteSwapped(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = bytes[i + size - 1 - j];
  }
  return out;
}

// ---- readers ----

/** Reads storages by key; caches the last one so that tied weights are read once when adjacent. */
export abstract class TorchCheckpoint implements CheckpointReader {
  private cachedKey: string | null = null;
  private cachedBytes: Uint8Array | null = null;

  /** How many tensors use each storage: a storage with several users is never handed out as a view. */
  private readonly users = new Map<string, number>();

  constructor(
    readonly path: string,
    protected readonly tensors: Map<string, TensorRef>,
    protected readonly bigEndian: boolean,
  ) {
    for (const t of tensors.values()) this.users.set(t.storage.key, (this.users.get(t.storage.key) ?? 0) + 1);
  }

  protected abstract readStorage(storage: StorageRef): Uint8Array;
  abstract close(): void;

  names(): string[] {
    return [...this.tensors.keys()];
  }

  info(name: string): TensorInfo {
    const t = this.tensor(name);
    return { shape: t.shape, dtype: t.storage.dtype };
  }

  read(name: string): LoadedTensor {
    const t = this.tensor(name);
    if (this.cachedKey !== t.storage.key) {
      this.cachedBytes = null;
      this.cachedBytes = this.readStorage(t.storage);
      this.cachedKey = t.storage.key;
    }
    return {
      shape: t.shape,
      data: materialize(
        t,
        this.cachedBytes as Uint8Array,
        this.bigEndian,
        (this.users.get(t.storage.key) ?? 0) > 1,
      ),
      sourceDType: t.storage.dtype,
    };
  }

  /**
   * A pickled tensor may be a strided view of a shared storage, so the range is taken from the
   * materialised tensor (the storage stays cached while consecutive reads hit it).
   */
  readRange(name: string, begin: number, end: number, dest: Float32Array): void {
    dest.set(this.read(name).data.subarray(begin, end));
  }

  /** Every tensor, each storage read once (tensors are visited grouped by storage). */
  readAll(): TensorMap {
    const byStorage = this.names().sort((a, b) => {
      const ka = this.tensor(a).storage.key;
      const kb = this.tensor(b).storage.key;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    const loaded = new Map(byStorage.map((n) => [n, this.read(n)]));
    this.cachedBytes = null;
    this.cachedKey = null;
    return new Map(this.names().map((n) => [n, loaded.get(n) as LoadedTensor]));
  }

  private tensor(name: string): TensorRef {
    const t = this.tensors.get(name);
    if (!t) throw new InputError(this.path, `no tensor named '${name}'`, { field: name });
    return t;
  }
}

class TorchZipCheckpoint extends TorchCheckpoint {
  constructor(
    path: string,
    private readonly zip: ZipReader,
    private readonly prefix: string,
    tensors: Map<string, TensorRef>,
    bigEndian: boolean,
  ) {
    super(path, tensors, bigEndian);
  }

  protected readStorage(s: StorageRef): Uint8Array {
    const name = `${this.prefix}data/${s.key}`;
    const need = (s.base + s.numel) * dtypeBytes(s.dtype);
    const entry = this.zip.entries.get(name);
    if (!entry)
      throw new InputError(this.path, `storage '${s.key}' is missing from the archive`, { field: name });
    if (entry.size < need) {
      throw new InputError(
        this.path,
        `storage '${s.key}' has ${entry.size} bytes, needs ${need} (truncated?)`,
        {
          field: name,
        },
      );
    }
    return this.zip.read(name);
  }

  close(): void {
    this.zip.close();
  }
}

/** The data.pkl of a torch.save archive: "<folder>/data.pkl", the folder name varies with the file name. */
function findPickle(path: string, zip: ZipReader): string {
  const pickles = zip.names().filter((n) => /^([^/]+\/)?data\.pkl$/.test(n));
  if (zip.names().some((n) => /^([^/]+\/)?constants\.pkl$/.test(n))) {
    throw new InputError(
      path,
      "is a TorchScript archive (torch.jit.save); expected a state dict saved with torch.save",
    );
  }
  if (pickles.length !== 1) {
    throw new InputError(
      path,
      `zip archive is not a torch.save checkpoint (found ${pickles.length} data.pkl entries)`,
    );
  }
  return pickles[0];
}

function openTorchZip(path: string): TorchZipCheckpoint {
  const zip = ZipReader.open(path);
  try {
    const pkl = findPickle(path, zip);
    const prefix = pkl.slice(0, pkl.length - "data.pkl".length);
    const order = zip.entries.has(`${prefix}byteorder`)
      ? new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim()
      : "little";
    if (order !== "little" && order !== "big") {
      throw new InputError(path, `unknown byte order '${order}'`, { field: `${prefix}byteorder` });
    }
    // torch.save writes each storage as the entry data/<key> of exactly its byte size.
    const check: StorageCheck = (key, bytes, ctx) => {
      const entry = zip.entries.get(`${prefix}data/${key}`);
      if (!entry)
        throw ctx.error(`storage '${key}' is missing from the archive (no entry '${prefix}data/${key}')`);
      if (entry.size !== bytes) {
        throw ctx.error(
          `storage '${key}' declares ${bytes} bytes but its entry '${entry.name}' holds ${entry.size}`,
        );
      }
    };
    const { value } = unpickle(zip.read(pkl), {
      file: path,
      entry: pkl,
      resolveGlobal: resolveTorchGlobal,
      persistentLoad: (pid, ctx) => storageFromPid(pid, check, ctx),
    });
    return new TorchZipCheckpoint(path, zip, prefix, collectTensors(value, path), order === "big");
  } catch (e) {
    zip.close();
    throw e;
  }
}

// ---- the legacy (torch < 1.6) format: magic, version, sys_info, the state dict, storage keys, storages ----

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;
const LEGACY_HEAD_START = 1 << 20;

class TorchLegacyCheckpoint extends TorchCheckpoint {
  constructor(
    path: string,
    private fd: number,
    private readonly offsets: Map<string, { position: number; bytes: number }>,
    tensors: Map<string, TensorRef>,
    bigEndian: boolean,
  ) {
    super(path, tensors, bigEndian);
  }

  protected readStorage(s: StorageRef): Uint8Array {
    const at = this.offsets.get(s.key);
    if (!at) throw new InputError(this.path, `storage '${s.key}' is missing from the file`);
    return readExactly(this.path, this.fd, at.position, at.bytes, `storage '${s.key}'`);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

interface LegacyHead {
  state: PyValue;
  keys: PyValue;
  littleEndian: boolean;
  storages: Map<string, StorageRef>;
  end: number;
}

function parseLegacyHead(path: string, head: Uint8Array, fileSize: number): LegacyHead {
  const storages = new Map<string, StorageRef>();
  // The storages follow the pickles in the file; legacyOffsets checks each one's exact place.
  const fileCheck: StorageCheck = (key, bytes, ctx) => {
    if (bytes > fileSize)
      throw ctx.error(`storage '${key}' declares ${bytes} bytes, more than the file holds`);
  };
  const none = { file: path, resolveGlobal: () => undefined };
  const magic = unpickle(head, none);
  if (magic.value !== LEGACY_MAGIC) {
    throw new InputError(path, "not a PyTorch checkpoint (a pickle, but without torch's magic number)");
  }
  const version = unpickle(head, { ...none, start: magic.end });
  if (version.value !== LEGACY_PROTOCOL) {
    throw new InputError(path, `unsupported legacy torch protocol version ${String(version.value)}`);
  }
  const sysInfo = unpickle(head, { ...none, start: version.end });
  const littleEndian = !(sysInfo.value instanceof PyDict && sysInfo.value.map.get("little_endian") === false);
  const state = unpickle(head, {
    file: path,
    entry: "state dict",
    start: sysInfo.end,
    resolveGlobal: resolveTorchGlobal,
    persistentLoad: (pid, ctx) => {
      const s = storageFromPid(pid, fileCheck, ctx);
      const known = storages.get(s.key);
      // A view's pid also names its root storage's full size; the root is what the file stores.
      const root = new StorageRef(s.key, s.dtype, int((pid as PyTuple).items[4], "storage size", ctx), 0);
      if (known && (known.dtype !== root.dtype || known.numel !== root.numel)) {
        throw ctx.error(`storage '${s.key}' is described twice, differently`);
      }
      storages.set(s.key, root);
      return s;
    },
  });
  const keys = unpickle(head, { ...none, start: state.end });
  return { state: state.value, keys: keys.value, littleEndian, storages, end: keys.end };
}

/** Walks the storage records after the pickles: u64 element count, then the elements. */
function legacyOffsets(
  path: string,
  fd: number,
  head: LegacyHead,
  fileSize: number,
): Map<string, { position: number; bytes: number }> {
  if (!Array.isArray(head.keys) || !head.keys.every((k) => typeof k === "string")) {
    throw new InputError(path, "legacy checkpoint: the storage key list is not a list of strings");
  }
  const offsets = new Map<string, { position: number; bytes: number }>();
  let position = head.end;
  for (const key of head.keys as string[]) {
    const s = head.storages.get(key);
    if (!s) throw new InputError(path, `legacy checkpoint: storage '${key}' is stored but never used`);
    const countBytes = readExactly(path, fd, position, 8, `storage '${key}' header`);
    const view = new DataView(countBytes.buffer);
    const count = Number(view.getBigUint64(0, head.littleEndian));
    const bytes = count * dtypeBytes(s.dtype);
    if (count !== s.numel || position + 8 + bytes > fileSize) {
      throw new InputError(path, `legacy checkpoint: storage '${key}' is truncated or has the wrong size`);
    }
    offsets.set(key, { position: position + 8, bytes });
    position += 8 + bytes;
  }
  return offsets;
}

function openTorchLegacy(path: string, fd: number, fileSize: number): TorchLegacyCheckpoint {
  // The pickles sit at the start of the file and are small; read a growing window until they parse.
  // The window never exceeds the memory budget: pickles that do not end within it are no checkpoint.
  const limit = Math.min(fileSize, memoryBudget());
  for (let window = Math.min(limit, LEGACY_HEAD_START); ; window = Math.min(limit, window * 8)) {
    const head = readExactly(path, fd, 0, window, "legacy checkpoint header");
    try {
      const parsed = parseLegacyHead(path, head, fileSize);
      const offsets = legacyOffsets(path, fd, parsed, fileSize);
      const tensors = collectTensors(parsed.state, path);
      return new TorchLegacyCheckpoint(path, fd, offsets, tensors, !parsed.littleEndian);
    } catch (e) {
      const truncated = e instanceof InputError && /unexpected end of pickle data/.test(e.message);
      if (!truncated || window >= fileSize) throw e;
      if (window >= limit) {
        throw new InputError(path, `legacy checkpoint: its pickles run past the first ${overBudget(window)}`);
      }
    }
  }
}

/** Opens pytorch_model.bin in either format. */
export function openTorchCheckpoint(path: string): TorchCheckpoint {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new InputError(path, `cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let keepOpen = false;
  try {
    const size = fstatSync(fd).size;
    const head = readExactly(path, fd, 0, Math.min(size, 512), "file header");
    if (looksLikeZip(head)) return openTorchZip(path);
    if (head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === "ustar") {
      throw new InputError(path, "is a tar-format PyTorch checkpoint (torch < 0.4), which is not supported");
    }
    if (head[0] !== 0x80) {
      throw new InputError(path, "not a PyTorch checkpoint (neither a zip archive nor a pickle stream)");
    }
    const checkpoint = openTorchLegacy(path, fd, size);
    keepOpen = true;
    return checkpoint;
  } finally {
    if (!keepOpen) closeSync(fd);
  }
}

export function loadTorchCheckpoint(path: string): TensorMap {
  const c = openTorchCheckpoint(path);
  try {
    return c.readAll();
  } finally {
    c.close();
  }
}
