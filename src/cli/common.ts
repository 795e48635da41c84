import { type Command, Option } from "commander";
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
