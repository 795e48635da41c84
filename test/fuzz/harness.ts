import { UserError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";

/**
 * A small seeded fuzzer for codeneurons' input parsers (issue 17). Each target starts from valid
 * seed inputs, applies random mutations and runs its parser; the property is always the same: the
 * parser returns a result or throws a UserError (InputError included), which the CLI prints as a
 * clear message. Any other exception is a crash; a case slower than SLOW_MS counts as a hang.
 *
 * Everything is drawn from one Rng per target, so a (seed, case count) pair gives the same inputs on
 * every machine and every run. A parser stuck in a loop cannot be interrupted in-process: the round
 * then stops at the test's timeout, and FUZZ_TRACE=1 / FUZZ_SHOW=k (see fuzz()) find the input.
 * Memory is watched through the resident set size (MAX_RSS_MIB); the weight targets lower the memory
 * budget (src/model/weights/budget.ts) so that an unchecked size fails loudly.
 */

/** A case slower than this is reported as a (near) hang. */
export const SLOW_MS = 5_000;

/**
 * The resident memory a round may reach (sampled every 64 cases). The rounds run near 100–150 MiB;
 * a parser that allocates what a damaged size field asks for shows up far above this.
 */
export const MAX_RSS_MIB = 1536;

// ---- byte-level mutations ----

/** Integers that sit on the boundaries of length and offset fields. */
const INTERESTING_INTS = [
  0, 1, 2, 7, 8, 16, 64, 127, 128, 255, 256, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000,
  0xffffffff,
];
const INTERESTING_BIGINTS = [
  0n,
  1n,
  0x7fffffffn,
  0xffffffffn,
  0x100000000n,
  1n << 53n,
  (1n << 63n) - 1n,
  (1n << 64n) - 1n,
];

export class Mutator {
  constructor(readonly rng: Rng) {}

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.rng.int(items.length)];
  }

  chance(p: number): boolean {
    return this.rng.next() < p;
  }

  /** 1–4 stacked byte-level mutations; `others` are inputs to splice with. */
  bytes(input: Uint8Array, others: readonly Uint8Array[] = []): Uint8Array {
    let out = input;
    for (let k = 1 + this.rng.int(4); k > 0; k--) out = this.byteMutation(out, others);
    return out;
  }

  private byteMutation(input: Uint8Array, others: readonly Uint8Array[]): Uint8Array {
    const r = this.rng;
    const n = input.length;
    const at = (extra = 0) => r.int(Math.max(1, n - extra + 1));
    switch (r.int(9)) {
      case 0: {
        // Bit flip.
        if (n === 0) return input;
        const copy = Uint8Array.from(input);
        const i = r.int(n);
        copy[i] ^= 1 << r.int(8);
        return copy;
      }
      case 1: {
        // A byte set to a random or a boundary value.
        if (n === 0) return input;
        const copy = Uint8Array.from(input);
        copy[r.int(n)] = this.chance(0.5) ? r.int(256) : this.pick([0, 1, 0x7f, 0x80, 0xff]);
        return copy;
      }
      case 2: {
        // A 2-, 4- or 8-byte integer (either byte order) set to a boundary value: length fields.
        const width = this.pick([2, 4, 8]);
        if (n < width) return input;
        const copy = Uint8Array.from(input);
        const view = new DataView(copy.buffer);
        const i = r.int(n - width + 1);
        const little = this.chance(0.7);
        if (width === 8) {
          const big = this.chance(0.3) ? BigInt(n + r.int(64) - 32) : this.pick(INTERESTING_BIGINTS);
          view.setBigUint64(i, BigInt.asUintN(64, big), little);
        } else {
          const v = this.chance(0.3) ? n + r.int(64) - 32 : this.pick(INTERESTING_INTS);
          if (width === 4) view.setUint32(i, v >>> 0, little);
          else view.setUint16(i, v & 0xffff, little);
        }
        return copy;
      }
      case 3: {
        // Arithmetic on one byte.
        if (n === 0) return input;
        const copy = Uint8Array.from(input);
        const i = r.int(n);
        copy[i] = (copy[i] + r.int(71) - 35) & 0xff;
        return copy;
      }
      case 4: {
        // Insert random bytes, or a copy of a piece of the input.
        const i = at();
        const piece =
          this.chance(0.5) || n === 0
            ? Uint8Array.from({ length: 1 + r.int(16) }, () => r.int(256))
            : input.slice(r.int(n), r.int(n) + 1 + r.int(64));
        return concat([input.subarray(0, i), piece, input.subarray(i)]);
      }
      case 5: {
        // Delete a range.
        if (n === 0) return input;
        const i = r.int(n);
        const len = 1 + r.int(this.chance(0.8) ? 16 : n - i);
        return concat([input.subarray(0, i), input.subarray(i + len)]);
      }
      case 6:
        // Truncate.
        return input.slice(0, r.int(n + 1));
      case 7: {
        // Splice: a prefix of this input and a suffix of another (or of itself).
        const other = others.length > 0 && this.chance(0.5) ? this.pick(others) : input;
        return concat([input.subarray(0, at()), other.subarray(r.int(other.length + 1))]);
      }
      default: {
        // Overwrite a range with a copy of another range.
        if (n < 2) return input;
        const copy = Uint8Array.from(input);
        const from = r.int(n);
        const len = 1 + r.int(Math.min(64, n - from));
        copy.set(input.subarray(from, from + len), r.int(n - len + 1));
        return copy;
      }
    }
  }

  // ---- text-level mutations ----

  /** 1–3 stacked character-level mutations with characters that matter to the formats. */
  text(input: string, alphabet: readonly string[] = TEXT_ALPHABET): string {
    let out = input;
    for (let k = 1 + this.rng.int(3); k > 0; k--) out = this.textMutation(out, alphabet);
    return out;
  }

  private textMutation(input: string, alphabet: readonly string[]): string {
    const r = this.rng;
    const n = input.length;
    const i = r.int(n + 1);
    switch (r.int(6)) {
      case 0:
        return input.slice(0, i) + this.pick(alphabet) + input.slice(i + 1);
      case 1:
        return input.slice(0, i) + this.pick(alphabet) + input.slice(i);
      case 2:
        return input.slice(0, i) + input.slice(i + 1 + r.int(8));
      case 3:
        return input.slice(0, i);
      case 4: {
        // Duplicate a piece.
        const from = r.int(n + 1);
        return input.slice(0, i) + input.slice(from, from + 1 + r.int(40)) + input.slice(i);
      }
      default:
        return input.slice(0, i) + this.pick(STRANGE_STRINGS) + input.slice(i);
    }
  }

  /** Line-level mutations (drop, duplicate, swap, blank) and then maybe character-level ones. */
  lines(input: string, alphabet: readonly string[] = TEXT_ALPHABET): string {
    const lines = input.split("\n");
    const r = this.rng;
    const i = r.int(lines.length);
    switch (r.int(5)) {
      case 0:
        lines.splice(i, 1);
        break;
      case 1:
        lines.splice(i, 0, lines[r.int(lines.length)]);
        break;
      case 2: {
        const j = r.int(lines.length);
        [lines[i], lines[j]] = [lines[j], lines[i]];
        break;
      }
      case 3:
        lines.splice(i, 0, this.pick(["", " ", "\t", "\r", "\t\t\t", "\ufeff"]));
        break;
      default: {
        const cells = lines[i].split("\t");
        const c = r.int(cells.length);
        cells[c] = this.pick([...STRANGE_STRINGS, ...STRANGE_NUMBERS, ""]);
        lines[i] = cells.join("\t");
      }
    }
    const out = lines.join("\n");
    return this.chance(0.3) ? this.text(out, alphabet) : out;
  }

  // ---- JSON-aware mutations ----

  /** A JSON text mutated in its structure (1–3 edits), or now and then in its characters. */
  jsonText(text: string, pretty = false): string {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return this.text(text, JSON_ALPHABET);
    }
    if (this.chance(0.1)) return this.text(text, JSON_ALPHABET);
    for (let k = 1 + this.rng.int(3); k > 0; k--) value = this.json(value);
    return pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value);
  }

  /** One structural edit of a JSON value (a copy; the input is not changed). */
  json(value: unknown): unknown {
    const root = structuredClone(value);
    const slots = jsonSlots(root);
    if (slots.length === 0) return this.jsonValue();
    const slot = this.pick(slots);
    const current = slot.get();
    const r = this.rng;
    switch (r.int(6)) {
      case 0:
        slot.set(this.jsonValue());
        break;
      case 1:
        slot.remove();
        break;
      case 2:
        // Another part of the document moved here (a type that is valid elsewhere).
        slot.set(structuredClone(this.pick(slots).get()));
        break;
      case 3:
        if (Array.isArray(current) && current.length > 0) {
          if (this.chance(0.5)) current.push(structuredClone(this.pick(current)));
          else current.splice(r.int(current.length), 1 + r.int(current.length));
        } else if (isObject(current)) {
          current[this.pick([...Object.keys(current), ...STRANGE_KEYS])] = this.jsonValue();
        } else slot.set(this.jsonValue());
        break;
      case 4:
        if (slot.rename) slot.rename(this.pick(STRANGE_KEYS));
        else slot.set(this.jsonValue());
        break;
      default:
        slot.set(this.tweak(current));
    }
    return root;
  }

  /** A small change of a value keeping (mostly) its type. */
  private tweak(v: unknown): unknown {
    const r = this.rng;
    if (typeof v === "number") {
      return this.pick([v + 1, v - 1, -v, v * 2, v * 1000, v / 3, 0, v + 0.5, 2 ** 31, 2 ** 53 + 2, 1e308]);
    }
    if (typeof v === "string") {
      if (v.length === 0) return this.pick(STRANGE_STRINGS);
      return this.chance(0.5) ? v.slice(0, r.int(v.length)) : v + this.pick(STRANGE_STRINGS);
    }
    if (typeof v === "boolean") return !v;
    if (Array.isArray(v)) return this.chance(0.5) ? [...v].reverse() : v.slice(0, r.int(v.length + 1));
    return this.jsonValue();
  }

  /** A replacement value: boundary numbers, odd strings, empty containers, other types. */
  jsonValue(): unknown {
    return structuredClone(
      this.pick([
        null,
        true,
        false,
        0,
        -1,
        1,
        0.5,
        -1e9,
        1e300,
        2 ** 31,
        2 ** 32,
        2 ** 53 + 2,
        "",
        "x",
        "-1",
        "1e999",
        "a".repeat(300),
        [],
        [0],
        [-1, -1],
        [1, 2, 3],
        {},
        { "": null },
        [[]],
      ]),
    );
  }
}

const JSON_ALPHABET = ['"', "{", "}", "[", "]", ":", ",", " ", "\n", "0", "9", "-", "e", ".", "\\", "n", "t"];
const TEXT_ALPHABET = [
  "\t",
  "\n",
  "\r",
  " ",
  "0",
  "9",
  "-",
  ".",
  "x",
  "#",
  "\\",
  "\u2581",
  "\u27e6",
  "\u27e7",
];
/** Strings that break naive parsers: escapes of the .in format, surrogates, controls, BOM. */
const STRANGE_STRINGS = [
  "\u2581",
  "\u27e6",
  "\u27e79\u27e7",
  "\u27e620\u27e7",
  "\u27e6110000\u27e7",
  "\ud800",
  "\udfff",
  "\u0000",
  "\ufeff",
  "\u00a0",
  "😀",
  "é",
  "__proto__",
  " ",
  "\t",
];
const STRANGE_NUMBERS = [
  "-1",
  "01",
  "1.5",
  "1e3",
  "2147483648",
  "99999999999999999999",
  "+1",
  " 1",
  "0x10",
  "NaN",
];
const STRANGE_KEYS = ["__proto__", "constructor", "toString", "", "0", "hasOwnProperty"];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

interface Slot {
  get(): unknown;
  set(v: unknown): void;
  remove(): void;
  rename?(key: string): void;
}

/** Every place in a JSON value that can be edited (not the root). */
function jsonSlots(root: unknown): Slot[] {
  const out: Slot[] = [];
  const visit = (v: unknown, depth: number) => {
    if (depth > 64) return;
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        out.push({
          get: () => v[i],
          set: (x) => {
            v[i] = x;
          },
          remove: () => {
            v.splice(i, 1);
          },
        });
        visit(item, depth + 1);
      });
    } else if (isObject(v)) {
      for (const key of Object.keys(v)) {
        out.push({
          get: () => v[key],
          set: (x) => {
            v[key] = x;
          },
          remove: () => {
            delete v[key];
          },
          rename: (k) => {
            // defineProperty: a key named "__proto__" must become an own property, as JSON.parse makes it.
            Object.defineProperty(v, k, {
              value: v[key],
              enumerable: true,
              writable: true,
              configurable: true,
            });
            if (k !== key) delete v[key];
          },
        });
        visit(v[key], depth + 1);
      }
    }
  };
  visit(root, 0);
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---- running a target ----

/** A parser under test. `I` is one input (bytes, text, or a file set). */
export interface FuzzTarget<I> {
  name: string;
  /** Valid inputs to start from (each must pass `run`). */
  seeds(): Promise<I[]> | I[];
  /** One mutated input from a seed; `seeds` for splicing. */
  mutate(seed: I, m: Mutator, seeds: readonly I[]): I;
  /** Parses (and uses) the input: returns, or throws. */
  run(input: I): unknown;
  /** The input as a string a test can hold (text as is, bytes as base64). */
  show(input: I): string;
  /** Crashes of parsers this work must not change, reported rather than fixed. */
  known?: readonly KnownCrash[];
  /** Called once before the first case / after the last (temp directories, budgets). */
  setup?(): Promise<void> | void;
  teardown?(): Promise<void> | void;
}

/**
 * Thrown by a target, instead of running the parser, for an input known to abort the whole process
 * (V8 heap out of memory): no test can catch an abort, so such inputs are screened and counted as
 * their known bug.
 */
export class WouldAbort extends Error {}

/** A crash already reported: matched by its exception, counted but not failing the run. */
export interface KnownCrash {
  /** What is wrong and where, for the report and the it.fails test. */
  bug: string;
  matches(e: Error): boolean;
}

export interface Crash {
  case: number;
  input: string;
  error: string;
  /** What makes two crashes the same bug: exception type, message shape and top frame. */
  signature: string;
}

export interface FuzzReport {
  target: string;
  cases: number;
  ok: number;
  /** Cases that threw a UserError / InputError. */
  clear: number;
  /** Known crashes: bug → count and the first input. */
  known: Map<string, { count: number; input: string }>;
  /** New crashes and hangs, one per signature (the first input found). */
  crashes: Crash[];
  crashCount: number;
  slowestMs: number;
  /** Largest resident set size seen after a case, in MiB. */
  peakRssMiB: number;
  seconds: number;
}

/**
 * The signature of an exception, what makes two crashes the same bug: its type and the first frame
 * in src/ (file and function); the message's shape (numbers and quoted parts blanked) only when no
 * frame in src/ is known (the targets' own checks of a result).
 */
export function signature(e: Error): string {
  const frame = (e.stack ?? "")
    .split("\n")
    .find((l) => l.includes("/src/"))
    ?.trim()
    .replace(/:\d+:\d+\)?$/, "")
    .replace(/\(?\/.*\/src\//, "src/");
  if (frame) return `${e.constructor.name} ${frame}`;
  const message = e.message
    .split("\n")[0]
    .replace(/'[^']*'|"[^"]*"/g, "'…'")
    .replace(/\/tmp\/\S+/g, "TMP")
    .replace(/\d+/g, "N")
    .slice(0, 160);
  return `${e.constructor.name}: ${message}`;
}

/**
 * Runs `cases` mutated inputs of `target` from `seed`. The seeds themselves run first and must all
 * pass (else the target is broken, not the parser).
 */
export async function fuzz<I>(target: FuzzTarget<I>, cases: number, seed: number): Promise<FuzzReport> {
  const started = Date.now();
  await target.setup?.();
  const report: FuzzReport = {
    target: target.name,
    cases,
    ok: 0,
    clear: 0,
    known: new Map(),
    crashes: [],
    crashCount: 0,
    slowestMs: 0,
    peakRssMiB: 0,
    seconds: 0,
  };
  try {
    const seeds = await target.seeds();
    for (const [i, s] of seeds.entries()) {
      try {
        await target.run(s);
      } catch (e) {
        throw new Error(`fuzz target ${target.name}: seed ${i} does not pass: ${(e as Error).stack}`);
      }
    }
    const m = new Mutator(new Rng(seed));
    const seen = new Set<string>();
    for (let k = 0; k < cases; k++) {
      const input = target.mutate(seeds[k % seeds.length], m, seeds);
      // FUZZ_TRACE=1 names each case before it runs: the last line printed is the one that hangs.
      if (process.env.FUZZ_TRACE) process.stderr.write(`${target.name} case ${k}\n`);
      // FUZZ_SHOW=k prints case k's input instead of running the round (inputs do not depend on runs).
      if (process.env.FUZZ_SHOW !== undefined) {
        if (k === Number(process.env.FUZZ_SHOW)) {
          process.stdout.write(`${target.show(input)}\n`);
          break;
        }
        continue;
      }
      const t0 = performance.now();
      let failure: Error | null = null;
      try {
        await target.run(input);
        report.ok++;
      } catch (e) {
        if (e instanceof UserError) report.clear++;
        else failure = e instanceof Error ? e : new Error(String(e));
      }
      const ms = performance.now() - t0;
      report.slowestMs = Math.max(report.slowestMs, ms);
      if (!failure && ms > SLOW_MS) failure = new Error(`hang: the case took ${ms.toFixed(0)} ms`);
      if (failure) {
        const known = target.known?.find((c) => c.matches(failure));
        if (known) {
          const entry = report.known.get(known.bug) ?? { count: 0, input: target.show(input) };
          entry.count++;
          report.known.set(known.bug, entry);
        } else {
          report.crashCount++;
          const sig = signature(failure);
          if (!seen.has(sig)) {
            seen.add(sig);
            report.crashes.push({
              case: k,
              input: target.show(input),
              error: failure.stack ?? failure.message,
              signature: sig,
            });
          }
        }
      }
      if (k % 64 === 0) report.peakRssMiB = Math.max(report.peakRssMiB, process.memoryUsage().rss / 2 ** 20);
    }
  } finally {
    await target.teardown?.();
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

/** One line per target for the log, and the details of every new crash. */
export function formatReport(r: FuzzReport): string {
  const known = [...r.known].map(([bug, k]) => `\n  ${k.count}× known bug: ${bug}`);
  const lines = [
    `${r.target}: ${r.cases} cases in ${r.seconds.toFixed(1)} s: ${r.ok} parsed, ${r.clear} clear errors, ` +
      `${r.crashCount} new crashes (slowest ${r.slowestMs.toFixed(0)} ms, peak RSS ${r.peakRssMiB.toFixed(0)} MiB)` +
      known.join(""),
  ];
  for (const c of r.crashes) {
    lines.push(
      `  crash at case ${c.case}: ${c.signature}`,
      `    input: ${JSON.stringify(c.input).slice(0, 2000)}`,
    );
    lines.push(`    ${c.error.split("\n").slice(0, 6).join("\n    ")}`);
  }
  return lines.join("\n");
}

/** Case counts: FUZZ_CASES (npm run fuzz) or the target's CI size; FUZZ_SEED changes the seed. */
export function caseCount(ciSize: number): number {
  return envInt("FUZZ_CASES") ?? ciSize;
}

export function fuzzSeed(): number {
  return envInt("FUZZ_SEED") ?? 17;
}

function envInt(name: string): number | null {
  const text = process.env[name];
  if (text === undefined || text === "") return null;
  if (!/^\d+$/.test(text)) throw new Error(`${name} must be a non-negative integer, got '${text}'`);
  return Number(text);
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64");
}
