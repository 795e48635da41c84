import { emptyForwardTimes, type ForwardTimes } from "../model/runner.js";

/**
 * Where an extraction's time went (`extract --profile`, bench:extract): wall-clock seconds of the
 * main thread by part, and how much of the computed tokens were padding. Parts do not overlap; `other`
 * is what no part claims (progress, planning shards, the event loop).
 */
export interface ExtractProfile {
  seconds: {
    /** Reading the input, tokenizing words, planning windows, building the padded batches. */
    tokenize: number;
    /** The model's inputs built from the batches (ForwardTimes.feeds). */
    feeds: number;
    /** onnxruntime's run. */
    run: number;
    /** Outputs read back from the runtime's results. */
    readback: number;
    /** Waiting for streamed block weights. */
    weights: number;
    /** Subword vectors → word (or sentence) rows of the store. */
    aggregate: number;
    /** Shard encoding, hashing and writing, words files, index (as long as the main thread waited for it). */
    store: number;
    other: number;
    total: number;
  };
  /**
   * CPU seconds of the whole process over the same interval (every thread: onnxruntime's, libuv's,
   * workers'). Divided by `seconds.total` it is how many cores were busy on average: the thread count
   * when the run kept every core working, less when cores waited on serial parts or other processes
   * had them.
   */
  cpuSeconds: number;
  /** Tokens the batches held: real ones and real + padding. */
  tokens: { real: number; padded: number };
  batches: number;
}

type Part = Exclude<keyof ExtractProfile["seconds"], "other" | "total">;

/** Accumulates an ExtractProfile: `lap(part)` charges the time since the previous lap to `part`. */
export class ProfileClock {
  readonly forward: ForwardTimes = emptyForwardTimes();
  private readonly own = { tokenize: 0, aggregate: 0, store: 0 };
  private readonly started = performance.now();
  private readonly cpuStarted = process.cpuUsage();
  private last = this.started;
  tokensReal = 0;
  tokensPadded = 0;
  batches = 0;

  lap(part: "tokenize" | "aggregate" | "store"): void {
    const now = performance.now();
    this.own[part] += (now - this.last) / 1000;
    this.last = now;
  }

  /** Charges `seconds` measured elsewhere (inside the model's sink) to `part`. */
  charge(part: "aggregate", seconds: number): void {
    this.own[part] += seconds;
  }

  /** Starts a new interval without charging the last one (the model charges its own parts). */
  skip(): void {
    this.last = performance.now();
  }

  result(): ExtractProfile {
    const total = (performance.now() - this.started) / 1000;
    const cpu = process.cpuUsage(this.cpuStarted);
    const parts: Record<Part, number> = { ...this.own, ...this.forward };
    const claimed = Object.values(parts).reduce((a, b) => a + b, 0);
    return {
      seconds: { ...parts, other: Math.max(0, total - claimed), total },
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      tokens: { real: this.tokensReal, padded: this.tokensPadded },
      batches: this.batches,
    };
  }
}

/** Share of the batches' tokens that were padding. */
export function paddingFraction(p: ExtractProfile): number {
  return p.tokens.padded === 0 ? 0 : 1 - p.tokens.real / p.tokens.padded;
}

/** Cores busy on average over the run (CPU seconds of the process per wall-clock second). */
export function busyCores(p: ExtractProfile): number {
  return p.seconds.total > 0 ? p.cpuSeconds / p.seconds.total : 0;
}

/** The profile as text, one part a line with its share of the total, and the padding. */
export function formatProfile(p: ExtractProfile): string {
  const s = p.seconds;
  const rows: [string, number][] = [
    ["tokenize / windows", s.tokenize],
    ["model inputs", s.feeds],
    ["onnxruntime run", s.run],
    ["reading outputs back", s.readback],
    ["waiting for weights", s.weights],
    ["subword → word aggregation", s.aggregate],
    ["store writes / hashing", s.store],
    ["other / idle", s.other],
  ];
  const share = (v: number) => (s.total > 0 ? (100 * v) / s.total : 0);
  const lines = rows
    .filter(([name, v]) => v > 0 || name !== "waiting for weights")
    .map(
      ([name, v]) => `  ${name.padEnd(28)}${v.toFixed(2).padStart(9)} s ${share(v).toFixed(1).padStart(5)}%`,
    );
  const outside = s.total - s.run;
  return [
    "profile:",
    ...lines,
    `  ${"total".padEnd(28)}${s.total.toFixed(2).padStart(9)} s`,
    `  CPU time ${p.cpuSeconds.toFixed(2)} s: ${busyCores(p).toFixed(2)} cores busy on average`,
    `  outside onnxruntime's run: ${share(outside).toFixed(1)}%; ${p.batches} batches, ` +
      `${p.tokens.real} tokens + ${p.tokens.padded - p.tokens.real} padding ` +
      `(padding ${(100 * paddingFraction(p)).toFixed(1)}%)`,
  ].join("\n");
}
