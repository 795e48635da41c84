import { createHash } from "node:crypto";
import { copyFileSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { forgetVerifiedFiles } from "../../src/store/verify.js";
import { UserError } from "../../src/util/errors.js";
import type { Rng } from "../../src/util/rng.js";

/**
 * Issue 17's fault injection: files the tool wrote are damaged the ways disks, copies and people damage
 * them, and the command that reads them is run again. Each case must end in one of:
 *   error      a clear error (a UserError / InputError: the CLI prints it and exits 2)
 *   identical  a result identical to the clean run's (e.g. a damaged shard or cache entry recomputed)
 *   edit       only for files a person may write or edit (task files, probe.json, results JSON): the
 *              damaged file is still a valid file of its kind, and the command follows what it says,
 *              as after a hand edit. Tool-private state (stores, caches) has no such outcome.
 *   other      anything else: an internal error, or rc 0 with different numbers where that is not an
 *              edit. The suite fails on any.
 */
export type FaultKind = "flip" | "truncate" | "delete" | "replace";
export const FAULT_KINDS: readonly FaultKind[] = ["flip", "truncate", "delete", "replace"];

export type Outcome = "error" | "identical" | "edit" | "other";

export interface CaseResult {
  group: string;
  name: string;
  outcome: Outcome;
  /** The error message, or what differed. */
  detail: string;
}

/** Damages `file` in one way; returns what was done, for the case's name. */
export function injectFault(file: string, kind: FaultKind, rng: Rng, replacement?: string): string {
  switch (kind) {
    case "flip": {
      const bytes = readFileSync(file);
      if (bytes.length === 0) return "flip (empty file)";
      const at = rng.int(bytes.length);
      const bit = rng.int(8);
      bytes[at] ^= 1 << bit;
      writeFileSync(file, bytes);
      return `flip bit ${bit} of byte ${at}`;
    }
    case "truncate": {
      const size = statSync(file).size;
      truncateSync(file, size >> 1);
      return `truncate ${size} → ${size >> 1} bytes`;
    }
    case "delete":
      rmSync(file);
      return "delete";
    case "replace":
      if (replacement === undefined) {
        writeFileSync(file, "");
        return "replace with an empty file";
      }
      copyFileSync(replacement, file);
      return `replace with ${replacement.split("/").slice(-2).join("/")}`;
  }
}

export function sha256(...parts: (string | Uint8Array)[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/**
 * Runs one case: `run` returns a fingerprint of what the command produced. Output the tool writes on
 * stderr while it runs (warnings of damaged files it repairs) is kept for the detail, not printed.
 */
export async function runCase(
  run: () => Promise<string>,
  clean: string,
  editable: boolean,
): Promise<{ outcome: Outcome; detail: string }> {
  forgetVerifiedFiles();
  const messages: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    messages.push(String(chunk).trim());
    return true;
  }) as typeof process.stderr.write;
  const quiet = process.env.CODENEURONS_QUIET;
  process.env.CODENEURONS_QUIET = "1";
  try {
    const got = await run();
    if (got === clean) return { outcome: "identical", detail: messages.filter(Boolean).join(" | ") };
    return { outcome: editable ? "edit" : "other", detail: "the result differs from the clean run's" };
  } catch (e) {
    if (e instanceof UserError && e.message.length > 0) return { outcome: "error", detail: e.message };
    return {
      outcome: "other",
      detail: `internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
    };
  } finally {
    process.stderr.write = write;
    if (quiet === undefined) delete process.env.CODENEURONS_QUIET;
    else process.env.CODENEURONS_QUIET = quiet;
  }
}

export interface Counts {
  tried: number;
  error: number;
  identical: number;
  edit: number;
  other: number;
}

/** Every case's result, counted per group and in all. */
export class Tally {
  readonly results: CaseResult[] = [];

  add(r: CaseResult): void {
    this.results.push(r);
  }

  counts(group?: string): Counts {
    const c: Counts = { tried: 0, error: 0, identical: 0, edit: 0, other: 0 };
    for (const r of this.results) {
      if (group !== undefined && r.group !== group) continue;
      c.tried++;
      c[r.outcome]++;
    }
    return c;
  }

  groups(): string[] {
    return [...new Set(this.results.map((r) => r.group))];
  }

  others(): CaseResult[] {
    return this.results.filter((r) => r.outcome === "other");
  }

  /** One line per group and a total, in a form to grep: `FAULT <group> tried=… errors=… …`. */
  format(): string {
    const line = (name: string, c: Counts) =>
      `FAULT ${name} tried=${c.tried} errors=${c.error} identical=${c.identical} edits=${c.edit} other=${c.other}`;
    const lines = this.groups().map((g) => line(g, this.counts(g)));
    lines.push(line("total", this.counts()));
    for (const r of this.results.filter((x) => x.outcome === "edit"))
      lines.push(`  edit ${r.group}: ${r.name}`);
    for (const r of this.others()) lines.push(`  OTHER ${r.group}: ${r.name}: ${r.detail.slice(0, 400)}`);
    return lines.join("\n");
  }
}
