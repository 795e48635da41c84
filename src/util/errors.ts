/**
 * Errors a user can act on: bad input files, bad options, unsupported models. The CLI prints the
 * message alone (no stack) and exits with `exitCode`. Anything else is a bug and prints a stack.
 */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = "UserError";
    this.exitCode = exitCode;
  }
}

/** An input file is malformed; the message names the file and, where known, the line or field. */
export class InputError extends UserError {
  readonly file: string;
  readonly line?: number;
  readonly field?: string;
  constructor(file: string, detail: string, where: { line?: number; field?: string } = {}) {
    const at = where.line !== undefined ? `:${where.line}` : "";
    const field = where.field !== undefined ? ` (field '${where.field}')` : "";
    super(`${file}${at}${field}: ${detail}`);
    this.name = "InputError";
    this.file = file;
    this.line = where.line;
    this.field = where.field;
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
