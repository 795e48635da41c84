import { type Command, InvalidArgumentError, Option } from "commander";
import { SITES } from "../store/format.js";
import { UserError } from "../util/errors.js";

/**
 * Shared CLI plumbing. Exit codes: 0 ok, 1 internal error (a bug: stack printed), 2 bad input or
 * usage (message only), 130 interrupted.
 */
export const EXIT_OK = 0;
export const EXIT_BUG = 1;
export const EXIT_USAGE = 2;

/** Wraps a command action so that user errors print one clear line and set the exit code. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void> | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof UserError) {
        process.stderr.write(`codeneurons: error: ${e.message}\n`);
        process.exitCode = e.exitCode;
      } else {
        process.stderr.write(
          `codeneurons: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
        );
        process.exitCode = EXIT_BUG;
      }
    }
  };
}

/** Writes data as JSON on stdout (for `--json`). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function parseIntOption(_name: string, min = 0): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };
}

export function parseFloatOption(_name: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new InvalidArgumentError("expected a number");
    return n;
  };
}

/** Parses "0,3,5-7" into [0,3,5,6,7]. (Option parsers take the option name for readability at the call site; commander names the option in its message.) */
export function parseIntList(_name: string): (value: string) => number[] {
  return (value: string) => {
    const out: number[] = [];
    for (const part of value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(part);
      if (!m) throw new InvalidArgumentError("expected a list like 0,3,5-7");
      const a = Number(m[1]);
      const b = m[2] !== undefined ? Number(m[2]) : a;
      if (b < a) throw new InvalidArgumentError(`range ${part} is empty`);
      for (let i = a; i <= b; i++) out.push(i);
    }
    return out;
  };
}

/**
 * `--site hidden|mlp`: which neurons a command reads, takes and names (`L3:17` in the residual
 * stream, `L3.mlp:17` among block 3's MLP neurons). Every command that takes or prints neurons has it,
 * with the same default, so that the stages of one analysis agree.
 */
export function siteOption(): Option {
  return new Option(
    "--site <site>",
    "neuron site: hidden (the residual stream after each layer, L12:17) or mlp (each block's MLP neurons, L12.mlp:3071; the store needs extract --sites hidden,mlp)",
  )
    .choices([...SITES])
    .default("hidden");
}

/** A registrar adds one command (with its own --help) to the program. */
export type Register = (program: Command) => void;
