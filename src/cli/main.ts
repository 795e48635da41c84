#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import type { Register } from "./common.js";
import { register as registerCompress } from "./compress.js";
import { register as registerConcepts } from "./concepts.js";
import { registerExtract } from "./extract.js";
import { register as registerIntervene } from "./intervene.js";
import { register as registerLabel } from "./label.js";
import { register as registerLatent } from "./latent.js";
import { register as registerPredict } from "./predict.js";
import { register as registerProbe } from "./probe.js";
import { register as registerRedundancy } from "./redundancy.js";
import { register as registerReport } from "./report.js";
import { registerRun } from "./run.js";
import { register as registerServe } from "./serve.js";
import { registerStoreCommands } from "./store-commands.js";
import { register as registerTask } from "./task.js";

// Each command lives in its own file and registers itself here (one line per command).
const registrars: Register[] = [
  registerRun,
  registerLabel,
  registerTask,
  registerExtract,
  registerStoreCommands,
  registerProbe,
  registerRedundancy,
  registerConcepts,
  registerLatent,
  registerIntervene,
  registerCompress,
  registerPredict,
  registerReport,
  registerServe,
];

function version(): string {
  const pkg = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "package.json");
  return (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("codeneurons")
    .description(
      "Which neurons of a code language model matter, which are redundant, and which code concepts they encode.",
    )
    .version(version())
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .exitOverride((err) => {
      // commander's own usage errors (unknown option, missing argument) exit with 2, help/version with 0.
      process.exit(err.exitCode === 0 ? 0 : 2);
    });
  for (const register of registrars) register(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
