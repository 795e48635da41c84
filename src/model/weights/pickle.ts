import { InputError } from "../../util/errors.js";

/**
 * A restricted unpickler: it decodes every opcode of pickle protocols 0–5 into plain values, but it
 * never imports or calls anything by itself. Each GLOBAL / STACK_GLOBAL / INST is resolved through the
 * caller's allowlist (`resolveGlobal`); a name outside it stops the load with an InputError that names
 * the module and function the file asked for. So loading a checkpoint never runs code.
 */

export type PyKey = string | number | bigint | boolean | null;

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | PyTuple
  | PyDict
  | PySet
  | PyObject;

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
  /** Attributes set by BUILD (e.g. the `_metadata` of a Hugging Face state dict). */
  attrs: PyValue = null;
}

export class PySet {
  readonly items: PyValue[] = [];
  constructor(readonly frozen: boolean) {}
}

/**
 * Something an allowlisted global stands for: a function to call (REDUCE), a class to instantiate
 * (NEWOBJ / INST / OBJ), or an opaque marker (e.g. a storage type in a persistent id). Subclasses decide
 * which of these they allow; the defaults refuse.
 */
export abstract class PyObject {
  abstract readonly qualifiedName: string;
  call(_args: readonly PyValue[], _ctx: PickleContext): PyValue {
    throw _ctx.error(`'${this.qualifiedName}' cannot be called`);
  }
  construct(args: readonly PyValue[], ctx: PickleContext): PyValue {
    return this.call(args, ctx);
  }
  setState(_state: PyValue, ctx: PickleContext): void {
    throw ctx.error(`'${this.qualifiedName}' does not take a state (BUILD)`);
  }
}

export interface PickleContext {
  /** An InputError about the pickle at the current opcode. */
  error(detail: string): InputError;
}

export interface UnpickleOptions {
  /** File and entry names for error messages. */
  file: string;
  entry?: string;
  /** Start offset in `bytes` (for files that hold several pickles in a row). */
  start?: number;
  /** Maps module.name to what it stands for; undefined means "not allowed". */
  resolveGlobal(module: string, name: string): PyValue | undefined;
  /** Turns a persistent id into a value; absent: PERSID opcodes are refused. */
  persistentLoad?(pid: PyValue, ctx: PickleContext): PyValue;
}

export interface UnpickleResult {
  value: PyValue;
  /** Offset just past the STOP opcode. */
  end: number;
}

const MARK = Symbol("mark");
const MAX_INT_BYTES = 1024;
type StackItem = PyValue | typeof MARK;

export function refusalMessage(module: string, name: string): string {
  return (
    `checkpoint refused: its pickle asks to call \`${module}.${name}\`, which codeneurons never runs ` +
    "(a checkpoint may only rebuild tensors). If you trust the file, load it in PyTorch and save the " +
    "state_dict as safetensors."
  );
}

/** Decodes one pickle starting at `opts.start`. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): UnpickleResult {
  return new Unpickler(bytes, opts).run();
}

class Unpickler implements PickleContext {
  private pos: number;
  private opStart = 0;
  private stack: StackItem[] = [];
  private readonly memo = new Map<number, PyValue>();
  private readonly view: DataView;
  private readonly utf8 = new TextDecoder("utf-8");

  constructor(
    private readonly bytes: Uint8Array,
    private readonly opts: UnpickleOptions,
  ) {
    this.pos = opts.start ?? 0;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  error(detail: string): InputError {
    const where = this.opts.entry ? `${this.opts.entry}, byte ${this.opStart}` : `byte ${this.opStart}`;
    return new InputError(this.opts.file, `${detail} (pickle ${where})`, { field: this.opts.entry });
  }

  run(): UnpickleResult {
    for (;;) {
      this.opStart = this.pos;
      const op = this.u8();
      if (op === 0x2e /* STOP */) {
        const value = this.pop();
        return { value, end: this.pos };
      }
      this.step(op);
    }
  }

  // ---- reading the byte stream ----

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.bytes.length)
      throw this.error("unexpected end of pickle data (truncated?)");
  }
  private u8(): number {
    this.need(1);
    return this.bytes[this.pos++];
  }
  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(this.bytes.length)) throw this.error(`length ${v} exceeds the data`);
    return Number(v);
  }
  private take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) throw this.error("unexpected end of pickle data (missing newline)");
    const text = latin1(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }

  // ---- the stack ----

  private push(v: StackItem): void {
    this.stack.push(v);
  }
  private pop(): PyValue {
    if (this.stack.length === 0) throw this.error("stack underflow");
    const v = this.stack.pop() as StackItem;
    if (v === MARK) throw this.error("unexpected MARK on the stack");
    return v;
  }
  private top(): PyValue {
    const v = this.stack[this.stack.length - 1];
    if (this.stack.length === 0 || v === MARK) throw this.error("stack underflow");
    return v as PyValue;
  }
  /** Pops everything above the last MARK, and the MARK. */
  private popMark(): PyValue[] {
    const k = this.stack.lastIndexOf(MARK);
    if (k < 0) throw this.error("no MARK on the stack");
    const items = this.stack.slice(k + 1) as PyValue[];
    this.stack.length = k;
    return items;
  }
  private popTuple(): readonly PyValue[] {
    const args = this.pop();
    if (!(args instanceof PyTuple)) throw this.error("expected a tuple of arguments");
    return args.items;
  }

  // ---- opcodes ----

  private step(op: number): void {
    if (this.stepData(op) || this.stepContainers(op) || this.stepMemo(op) || this.stepCalls(op)) return;
    throw this.error(`unknown or unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")}`);
  }

  /** Scalars, strings and bytes. */
  private stepData(op: number): boolean {
    switch (op) {
      case 0x80 /* PROTO */:
        {
          const proto = this.u8();
          if (proto > 5) throw this.error(`pickle protocol ${proto} is newer than 5`);
          return true;
        }
      case 0x95 /* FRAME */:
        this.u64();
        return true;
      case 0x4e /* NONE */:
        this.push(null);
        return true;
      case 0x88 /* NEWTRUE */:
        this.push(true);
        return true;
      case 0x89 /* NEWFALSE */:
        this.push(false);
        return true;
      case 0x4b /* BININT1 */:
        this.push(this.u8());
        return true;
      case 0x4d /* BININT2 */:
        this.push(this.u16());
        return true;
      case 0x4a /* BININT */:
        this.push(this.i32());
        return true;
      case 0x8a /* LONG1 */:
        this.push(this.long(this.u8()));
        return true;
      case 0x8b /* LONG4 */:
        {
          const n = this.i32();
          if (n < 0) throw this.error("negative LONG4 length");
          this.push(this.long(n));
          return true;
        }
      case 0x49 /* INT */:
        this.push(this.textInt(this.line()));
        return true;
      case 0x4c /* LONG */:
        this.push(this.textInt(this.line().replace(/L$/, "")));
        return true;
      case 0x47 /* BINFLOAT */:
        this.need(8);
        this.push(this.view.getFloat64(this.pos, false));
        this.pos += 8;
        return true;
      case 0x46 /* FLOAT */:
        {
          const text = this.line();
          const v = Number(text);
          if (text.trim() === "" || Number.isNaN(v)) throw this.error(`bad FLOAT '${text}'`);
          this.push(v);
          return true;
        }
      default:
        return this.stepStrings(op);
    }
  }

  private stepStrings(op: number): boolean {
    switch (op) {
      case 0x58 /* BINUNICODE */:
        this.push(this.utf8.decode(this.take(this.u32())));
        return true;
      case 0x8c /* SHORT_BINUNICODE */:
        this.push(this.utf8.decode(this.take(this.u8())));
        return true;
      case 0x8d /* BINUNICODE8 */:
        this.push(this.utf8.decode(this.take(this.u64())));
        return true;
      case 0x56 /* UNICODE */:
        this.push(rawUnicodeEscape(this.line()));
        return true;
      case 0x54 /* BINSTRING */:
        {
          const n = this.i32();
          if (n < 0) throw this.error("negative BINSTRING length");
          this.push(latin1(this.take(n)));
          return true;
        }
      case 0x55 /* SHORT_BINSTRING */:
        this.push(latin1(this.take(this.u8())));
        return true;
      case 0x53 /* STRING */:
        this.push(this.quotedString(this.line()));
        return true;
      case 0x42 /* BINBYTES */:
        this.push(this.take(this.u32()));
        return true;
      case 0x43 /* SHORT_BINBYTES */:
        this.push(this.take(this.u8()));
        return true;
      case 0x8e /* BINBYTES8 */:
      case 0x96 /* BYTEARRAY8 */:
        this.push(this.take(this.u64()));
        return true;
      default:
        return false;
    }
  }

  /** Tuples, lists, dicts, sets, and the stack-shuffling opcodes. */
  private stepContainers(op: number): boolean {
    switch (op) {
      case 0x28 /* MARK */:
        this.push(MARK);
        return true;
      case 0x30 /* POP */:
        if (this.stack.length === 0) throw this.error("stack underflow");
        this.stack.pop();
        return true;
      case 0x31 /* POP_MARK */:
        this.popMark();
        return true;
      case 0x32 /* DUP */:
        this.push(this.top());
        return true;
      case 0x29 /* EMPTY_TUPLE */:
        this.push(new PyTuple([]));
        return true;
      case 0x85 /* TUPLE1 */:
      case 0x86 /* TUPLE2 */:
      case 0x87 /* TUPLE3 */:
        {
          const n = op - 0x84;
          const items: PyValue[] = [];
          for (let i = 0; i < n; i++) items.unshift(this.pop());
          this.push(new PyTuple(items));
          return true;
        }
      case 0x74 /* TUPLE */:
        this.push(new PyTuple(this.popMark()));
        return true;
      case 0x5d /* EMPTY_LIST */:
        this.push([]);
        return true;
      case 0x6c /* LIST */:
        this.push(this.popMark());
        return true;
      case 0x61 /* APPEND */:
        {
          const v = this.pop();
          this.list(this.top()).push(v);
          return true;
        }
      case 0x65 /* APPENDS */:
        {
          const items = this.popMark();
          const list = this.list(this.top());
          for (const v of items) list.push(v);
          return true;
        }
      default:
        return this.stepDicts(op);
    }
  }

  private stepDicts(op: number): boolean {
    switch (op) {
      case 0x7d /* EMPTY_DICT */:
        this.push(new PyDict());
        return true;
      case 0x64 /* DICT */:
        {
          const d = new PyDict();
          this.setItems(d, this.popMark());
          this.push(d);
          return true;
        }
      case 0x73 /* SETITEM */:
        {
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.dict(this.top()), [k, v]);
          return true;
        }
      case 0x75 /* SETITEMS */:
        {
          const items = this.popMark();
          this.setItems(this.dict(this.top()), items);
          return true;
        }
      case 0x8f /* EMPTY_SET */:
        this.push(new PySet(false));
        return true;
      case 0x90 /* ADDITEMS */:
        {
          const items = this.popMark();
          const s = this.top();
          if (!(s instanceof PySet) || s.frozen) throw this.error("ADDITEMS on something that is not a set");
          for (const v of items) s.items.push(v);
          return true;
        }
      case 0x91 /* FROZENSET */:
        {
          const s = new PySet(true);
          for (const v of this.popMark()) s.items.push(v);
          this.push(s);
          return true;
        }
      default:
        return false;
    }
  }

  private stepMemo(op: number): boolean {
    switch (op) {
      case 0x71 /* BINPUT */:
        this.memo.set(this.u8(), this.top());
        return true;
      case 0x72 /* LONG_BINPUT */:
        this.memo.set(this.u32(), this.top());
        return true;
      case 0x70 /* PUT */:
        this.memo.set(this.memoIndex(this.line()), this.top());
        return true;
      case 0x94 /* MEMOIZE */:
        this.memo.set(this.memo.size, this.top());
        return true;
      case 0x68 /* BINGET */:
        this.push(this.memoGet(this.u8()));
        return true;
      case 0x6a /* LONG_BINGET */:
        this.push(this.memoGet(this.u32()));
        return true;
      case 0x67 /* GET */:
        this.push(this.memoGet(this.memoIndex(this.line())));
        return true;
      default:
        return false;
    }
  }

  /** Everything that would import or call: resolved only through the allowlist. */
  private stepCalls(op: number): boolean {
    switch (op) {
      case 0x63 /* GLOBAL */:
        {
          const module = this.line();
          const name = this.line();
          this.push(this.global(module, name));
          return true;
        }
      case 0x93 /* STACK_GLOBAL */:
        {
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== "string" || typeof name !== "string") {
            throw this.error("STACK_GLOBAL needs two strings");
          }
          this.push(this.global(module, name));
          return true;
        }
      case 0x52 /* REDUCE */:
        {
          const args = this.popTuple();
          this.push(this.callable(this.pop()).call(args, this));
          return true;
        }
      case 0x81 /* NEWOBJ */:
        {
          const args = this.popTuple();
          this.push(this.callable(this.pop()).construct(args, this));
          return true;
        }
      case 0x92 /* NEWOBJ_EX */:
        {
          const kwargs = this.pop();
          const args = this.popTuple();
          const cls = this.callable(this.pop());
          if (!(kwargs instanceof PyDict) || kwargs.map.size > 0) {
            throw this.error(`keyword arguments for '${cls.qualifiedName}' are not supported`);
          }
          this.push(cls.construct(args, this));
          return true;
        }
      case 0x69 /* INST */:
        {
          const module = this.line();
          const name = this.line();
          const cls = this.callable(this.global(module, name));
          this.push(cls.construct(this.popMark(), this));
          return true;
        }
      case 0x6f /* OBJ */:
        {
          const items = this.popMark();
          if (items.length === 0) throw this.error("OBJ without a class");
          this.push(this.callable(items[0]).construct(items.slice(1), this));
          return true;
        }
      case 0x62 /* BUILD */:
        {
          const state = this.pop();
          const target = this.top();
          if (target instanceof PyDict) target.attrs = state;
          else if (target instanceof PyObject) target.setState(state, this);
          else throw this.error("BUILD on a value that takes no state");
          return true;
        }
      case 0x51 /* BINPERSID */:
        this.push(this.persistent(this.pop()));
        return true;
      case 0x50 /* PERSID */:
        this.push(this.persistent(this.line()));
        return true;
      case 0x82 /* EXT1 */:
      case 0x83 /* EXT2 */:
      case 0x84 /* EXT4 */:
        throw this.error("checkpoint refused: its pickle uses the copyreg extension registry (EXT opcodes)");
      case 0x97 /* NEXT_BUFFER */:
      case 0x98 /* READONLY_BUFFER */:
        throw this.error("checkpoint refused: its pickle uses out-of-band buffers (protocol 5)");
      default:
        return false;
    }
  }

  // ---- helpers ----

  private global(module: string, name: string): PyValue {
    const v = this.opts.resolveGlobal(module, name);
    if (v === undefined) throw this.error(refusalMessage(module, name));
    return v;
  }

  private callable(v: PyValue): PyObject {
    if (v instanceof PyObject) return v;
    throw this.error("checkpoint refused: its pickle calls something that is not an allowed function");
  }

  private persistent(pid: PyValue): PyValue {
    if (!this.opts.persistentLoad) throw this.error("unexpected persistent id");
    return this.opts.persistentLoad(pid, this);
  }

  private list(v: PyValue): PyValue[] {
    if (!Array.isArray(v)) throw this.error("APPEND to something that is not a list");
    return v;
  }

  private dict(v: PyValue): PyDict {
    if (!(v instanceof PyDict)) throw this.error("SETITEM on something that is not a dict");
    return v;
  }

  private setItems(d: PyDict, items: PyValue[]): void {
    if (items.length % 2 !== 0) throw this.error("odd number of items for a dict");
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i];
      const isKey = k === null || ["string", "number", "bigint", "boolean"].includes(typeof k);
      if (!isKey) throw this.error("unsupported dict key (only strings and numbers)");
      d.map.set(k as PyKey, items[i + 1]);
    }
  }

  private memoGet(i: number): PyValue {
    if (!this.memo.has(i)) throw this.error(`memo entry ${i} is missing`);
    return this.memo.get(i) as PyValue;
  }

  private memoIndex(text: string): number {
    const i = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(i)) throw this.error(`bad memo index '${text}'`);
    return i;
  }

  /** Little-endian two's-complement integer of n bytes; a number when it fits exactly. */
  private long(n: number): number | bigint {
    // Building a bigint byte by byte is quadratic; checkpoints only hold small integers.
    if (n > MAX_INT_BYTES) throw this.error(`integer of ${n} bytes is too large`);
    const b = this.take(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (n > 0 && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return narrow(v);
  }

  private textInt(text: string): number | bigint | boolean {
    // Protocol 0 writes booleans as INT "01" / "00".
    if (text === "01") return true;
    if (text === "00") return false;
    if (!/^[-+]?\d+$/.test(text.trim()) || text.length > 3 * MAX_INT_BYTES) {
      throw this.error(`bad integer '${text.slice(0, 40)}'`);
    }
    return narrow(BigInt(text.trim()));
  }

  private quotedString(text: string): string {
    const q = text[0];
    if ((q !== "'" && q !== '"') || text.length < 2 || text[text.length - 1] !== q) {
      throw this.error("STRING without matching quotes");
    }
    return pythonEscapes(text.slice(1, -1));
  }
}

function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

/** Python's raw-unicode-escape: only \uXXXX and \UXXXXXXXX are escapes. */
function rawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, u4: string, u8: string) => {
    const cp = Number.parseInt(u4 ?? u8, 16);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : "\ufffd";
  });
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  n: "\n",
  t: "\t",
  r: "\r",
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
};

/** The escapes of a Python 2 str repr (protocol 0 STRING). */
function pythonEscapes(body: string): string {
  return body.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
    if (e[0] === "x") return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(Number.parseInt(e, 8) & 0xff);
    return SIMPLE_ESCAPES[e] ?? `\\${e}`;
  });
}
