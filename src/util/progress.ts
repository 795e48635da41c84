/**
 * Progress for long work: a redrawn bar on a TTY, plain lines (at most one per `lineEverySec`) when
 * stderr is not a TTY (CI logs, pipes). Quiet mode prints nothing. Always writes to stderr so that
 * stdout stays clean for `--json` output.
 */
export interface ProgressOptions {
  quiet?: boolean;
  stream?: NodeJS.WriteStream;
  lineEverySec?: number;
  unit?: string;
}

export class Progress {
  private readonly label: string;
  private readonly total: number;
  private readonly stream: NodeJS.WriteStream;
  private readonly quiet: boolean;
  private readonly tty: boolean;
  private readonly lineEveryMs: number;
  private readonly unit: string;
  private readonly start = Date.now();
  private done = 0;
  private lastDraw = 0;
  private finished = false;

  constructor(label: string, total: number, opts: ProgressOptions = {}) {
    this.label = label;
    this.total = Math.max(0, total);
    this.stream = opts.stream ?? process.stderr;
    this.quiet = opts.quiet ?? process.env.CODENEURONS_QUIET === "1";
    this.tty = Boolean(this.stream.isTTY);
    this.lineEveryMs = (opts.lineEverySec ?? 5) * 1000;
    this.unit = opts.unit ?? "";
    if (!this.quiet && !this.tty) this.stream.write(`${label}: 0/${this.total}${this.unitSuffix()}\n`);
  }

  /** Units done so far. */
  get completed(): number {
    return this.done;
  }

  tick(n = 1): void {
    this.update(this.done + n);
  }

  update(done: number): void {
    this.done = Math.min(done, this.total);
    if (this.quiet || this.finished) return;
    const now = Date.now();
    if (this.tty) {
      if (now - this.lastDraw < 100 && this.done < this.total) return;
      this.lastDraw = now;
      this.stream.write(`\r${this.render(now)}`);
    } else if (now - this.lastDraw >= this.lineEveryMs && this.done < this.total) {
      this.lastDraw = now;
      this.stream.write(`${this.plain(now)}\n`);
    }
  }

  finish(note = ""): void {
    if (this.finished) return;
    this.done = this.total;
    this.finished = true;
    if (this.quiet) return;
    const now = Date.now();
    const suffix = note ? ` ${note}` : "";
    if (this.tty) this.stream.write(`\r${this.render(now)}${suffix}\n`);
    else this.stream.write(`${this.plain(now)}${suffix}\n`);
  }

  private unitSuffix(): string {
    return this.unit ? ` ${this.unit}` : "";
  }

  private rate(now: number): string {
    const sec = (now - this.start) / 1000;
    if (sec <= 0 || this.done === 0) return "";
    const r = this.done / sec;
    const eta = r > 0 ? (this.total - this.done) / r : 0;
    return ` ${formatRate(r)}${this.unit ? ` ${this.unit}` : ""}/s, ${formatSeconds(sec)} elapsed${
      this.done < this.total ? `, ~${formatSeconds(eta)} left` : ""
    }`;
  }

  private render(now: number): string {
    const width = 28;
    const frac = this.total === 0 ? 1 : this.done / this.total;
    const full = Math.round(frac * width);
    const bar = "█".repeat(full) + "░".repeat(width - full);
    return `${this.label} ${bar} ${(frac * 100).toFixed(0).padStart(3)}% ${this.done}/${this.total}${this.rate(now)}`;
  }

  private plain(now: number): string {
    const pct = this.total === 0 ? 100 : (100 * this.done) / this.total;
    return `${this.label}: ${this.done}/${this.total}${this.unitSuffix()} (${pct.toFixed(0)}%)${this.rate(now)}`;
  }
}

export function formatSeconds(sec: number): string {
  if (sec < 60) return `${sec.toFixed(1)}s`;
  const m = Math.floor(sec / 60);
  const s = Math.round(sec - m * 60);
  return m < 60
    ? `${m}m${String(s).padStart(2, "0")}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

function formatRate(r: number): string {
  if (r >= 100) return r.toFixed(0);
  if (r >= 10) return r.toFixed(1);
  return r.toFixed(2);
}

/** A message line on stderr unless quiet. */
export function log(message: string): void {
  if (process.env.CODENEURONS_QUIET === "1") return;
  process.stderr.write(`${message}\n`);
}
