import { InvalidArgumentError, Option } from "commander";
import { isSplitName, SPLITS, type SplitName } from "../data/splits.js";

/**
 * Parsers of option values shared by the commands. They throw commander's InvalidArgumentError (a
 * usage message and exit code 2) or a UserError naming the option.
 */

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

/** A number in (0, 1], or [0, 1] when zero makes sense. */
export function parseFraction(name: string, zeroOk: boolean): (value: string) => number {
  return (value: string) => {
    const x = Number(value);
    if (value.trim() === "" || !Number.isFinite(x) || x > 1 || x < 0 || (x === 0 && !zeroOk)) {
      throw new InvalidArgumentError(
        `--${name}: expected a number in ${zeroOk ? "[0" : "(0"}, 1], got '${value}'`,
      );
    }
    return x;
  };
}

/** "0.1,0.2" or "0.5%,1%" → fractions. */
export function parseFractionList(value: string): number[] {
  const out: number[] = [];
  for (const part of value.split(",").map((s) => s.trim())) {
    if (part === "") continue;
    const percent = part.endsWith("%");
    const n = Number(percent ? part.slice(0, -1) : part);
    if (part === "%" || !Number.isFinite(n)) throw new InvalidArgumentError(`'${part}' is not a number`);
    out.push(percent ? n / 100 : n);
  }
  if (out.length === 0) throw new InvalidArgumentError("expected a comma-separated list of numbers");
  return out;
}

/** Parses "0,3,5-7" into [0,3,5,6,7]. (The name is for readability at the call site; commander names the option.) */
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

/** "A,B, C" → ["A", "B", "C"]. */
export function parseList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `--splits train,valid`. */
export function parseSplits(value: string): SplitName[] {
  const splits = value.split(",").map((s) => s.trim());
  for (const s of splits) {
    if (!isSplitName(s)) throw new InvalidArgumentError(`--splits: '${s}' is not ${SPLITS.join(", ")}`);
  }
  return splits as SplitName[];
}

/** An option whose value is one of `choices` (commander refuses others with a usage message). */
export function choiceOption(
  flags: string,
  description: string,
  choices: readonly string[],
  fallback?: string,
): Option {
  const option = new Option(flags, description).choices([...choices]);
  return fallback === undefined ? option : option.default(fallback);
}
