import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Progress for long work, always on stderr (stdout stays clean for `--json` output); quiet mode
 * prints nothing.
 *
 * - On a terminal: one line redrawn in place. Each redraw returns to the line's start and clears it
 *   (`\r` … `ESC[K`), and the line is fitted to the terminal's width, read at every redraw: a line
 *   longer than the terminal wraps, and `\r` then returns only to the last of its rows, so every
 *   redraw would leave a new row behind. When the width is short the rate and time go first, then
 *   the bar shrinks, then the label is cut. The final state has no estimate of time left.
 * - Elsewhere (CI logs, pipes): plain lines, one at the start, at most one per `lineEverySec`, one at
 *   the end.
 *
 * A bar's label can name what it works on without the code that makes the bar knowing it:
 * `withProgressLabel("train", fn)` adds "(train)" to the label of every bar started inside `fn`
 * (extraction runs once per split; its bars then say which).
 */
export interface ProgressOptions {
  quiet?: boolean;
  stream?: NodeJS.WriteStream;
  lineEverySec?: number;
  unit?: string;
}

const scope = new AsyncLocalStorage<string[]>();

/** Runs `fn` with `detail` added to the label of every progress bar started inside it. */
export function withProgressLabel<T>(detail: string, fn: () => T): T {
  return scope.run([...(scope.getStore() ?? []), detail], fn);
}

/** The label a bar started here gets: `label (detail, …)`. */
export function scopedLabel(label: string): string {
  const details = scope.getStore() ?? [];
  return details.length > 0 ? `${label} (${details.join(", ")})` : label;
}

/** The bar drawn on each terminal stream and not finished: a message line clears it first. */
const drawn = new Map<NodeJS.WriteStream, Progress>();

/** Clears a half-drawn bar line on `stream` so that what comes next starts on a clean line. */
function clearBarLine(stream: NodeJS.WriteStream): void {
  if (drawn.has(stream)) {
    stream.write(`\r${CLEAR_TO_END}`);
    drawn.delete(stream);
  }
}

const CLEAR_TO_END = "\u001b[K";
/** Terminal width when the stream does not say. */
const DEFAULT_COLUMNS = 80;

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
    this.label = scopedLabel(label);
    this.total = Math.max(0, total);
    this.stream = opts.stream ?? process.stderr;
    this.quiet = opts.quiet ?? process.env.CODENEURONS_QUIET === "1";
    this.tty = Boolean(this.stream.isTTY);
    this.lineEveryMs = (opts.lineEverySec ?? 5) * 1000;
    this.unit = opts.unit ?? "";
    if (this.quiet) return;
    // A bar left unfinished (an error, an early return) must not share its line with this one.
    if (this.tty) clearBarLine(this.stream);
    else {
      this.stream.write(`${this.label}: 0/${this.total}${this.unitSuffix()}\n`);
      // The start line counts as the first: the next one comes lineEverySec later.
      this.lastDraw = this.start;
    }
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
      this.stream.write(`\r${this.line(now, false)}${CLEAR_TO_END}`);
      drawn.set(this.stream, this);
    } else if (now - this.lastDraw >= this.lineEveryMs && this.done < this.total) {
      this.lastDraw = now;
      this.stream.write(`${this.plain(now, false)}\n`);
    }
  }

  /** The final state: all done, or `done` of the total when the work ended early on purpose. */
  finish(note = "", done = this.total): void {
    if (this.finished) return;
    this.done = Math.min(done, this.total);
    this.finished = true;
    if (this.quiet) return;
    const now = Date.now();
    if (this.tty) {
      this.stream.write(`\r${this.line(now, true, note)}${CLEAR_TO_END}\n`);
      if (drawn.get(this.stream) === this) drawn.delete(this.stream);
    } else this.stream.write(`${this.plain(now, true)}${note ? ` ${note}` : ""}\n`);
  }

  private unitSuffix(): string {
    return this.unit ? ` ${this.unit}` : "";
  }

  /** The terminal line, fitted to the stream's width. */
  private line(now: number, final: boolean, note = ""): string {
    return renderProgressLine(
      {
        label: this.label,
        done: this.done,
        total: this.total,
        unit: this.unit,
        seconds: (now - this.start) / 1000,
        final,
        note,
      },
      (this.stream.columns || DEFAULT_COLUMNS) - 1,
    );
  }

  private plain(now: number, final: boolean): string {
    const pct = this.total === 0 ? 100 : (100 * this.done) / this.total;
    const t = timing(this.done, this.total, (now - this.start) / 1000, this.unit, final);
    return `${this.label}: ${this.done}/${this.total}${this.unitSuffix()} (${pct.toFixed(0)}%)${t ? ` ${t}` : ""}`;
  }
}

export interface ProgressState {
  label: string;
  done: number;
  total: number;
  unit: string;
  seconds: number;
  /** The final state: elapsed time and rate, no estimate of time left. */
  final: boolean;
  note?: string;
}

/** "12.3 words/s, 4.0s elapsed, ~8.1s left" (no estimate once final or before the first unit). */
function timing(done: number, total: number, seconds: number, unit: string, final: boolean): string {
  if (seconds <= 0 || done === 0) return final ? formatSeconds(Math.max(seconds, 0)) : "";
  const rate = done / seconds;
  const parts = [
    `${formatRate(rate)}${unit ? ` ${unit}` : ""}/s`,
    `${formatSeconds(seconds)}${final ? "" : " elapsed"}`,
  ];
  if (!final && done < total) parts.push(`~${formatSeconds((total - done) / rate)} left`);
  return parts.join(", ");
}

/**
 * One bar line of at most `width` characters: `label ███░░ 42% 420/1000 12.3 words/s, 4.0s elapsed,
 * ~8.1s left`. What does not fit goes, least useful first: the timing, the counts, bar cells, the
 * label's end.
 */
export function renderProgressLine(s: ProgressState, width: number): string {
  const frac = s.total === 0 ? 1 : s.done / s.total;
  const pct = `${(frac * 100).toFixed(0).padStart(3)}%`;
  const counts = `${s.done}/${s.total}`;
  const time = timing(s.done, s.total, s.seconds, s.unit, s.final);
  const note = s.note ? ` ${s.note}` : "";
  const bar = (cells: number) => {
    const full = Math.round(frac * cells);
    return "█".repeat(full) + "░".repeat(cells - full);
  };
  const compose = (cells: number, withCounts: boolean, withTime: boolean, label = s.label) =>
    [
      label,
      ...(cells > 0 ? [bar(cells)] : []),
      pct,
      ...(withCounts ? [counts] : []),
      ...(withTime && time ? [time] : []),
    ].join(" ") + note;
  for (const [withCounts, withTime] of [
    [true, true],
    [true, false],
    [false, false],
  ] as const) {
    for (const cells of [28, 20, 12, 8]) {
      const text = compose(cells, withCounts, withTime);
      if (text.length <= width) return text;
    }
  }
  // Very narrow: no bar, the label cut to what is left.
  const rest = ` ${pct}${note}`;
  const room = Math.max(1, width - rest.length);
  const label = s.label.length <= room ? s.label : `${s.label.slice(0, Math.max(0, room - 1))}…`;
  return `${label}${rest}`.slice(0, Math.max(1, width));
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

/** A message line on stderr unless quiet; a bar drawn on the terminal is cleared first, not appended to. */
export function log(message: string): void {
  if (process.env.CODENEURONS_QUIET === "1") return;
  clearBarLine(process.stderr);
  process.stderr.write(`${message}\n`);
}
