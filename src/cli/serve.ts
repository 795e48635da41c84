import { type Command, Option } from "commander";
import { startExplorer } from "../serve/server.js";
import { SITES, type Site } from "../store/format.js";
import { UserError } from "../util/errors.js";
import { action } from "./common.js";
import { parseIntOption } from "./options.js";

export function register(program: Command): void {
  program
    .command("serve")
    .description(
      "Start the neuron explorer on <results-dir> (activations/, concepts/concepts.json, report/): browse layers and classes, a neuron's top words and activations over code, token search, neuron comparison. Reads only files inside <results-dir>.",
    )
    .argument("<results-dir>", "results directory")
    .option("--port <n>", "port (default: a free one)", parseIntOption("port", 0), 0)
    .option("--host <address>", "address to listen on (another than loopback exposes your data)", "127.0.0.1")
    .option(
      "--max-rows <n>",
      "word rows the explorer computes statistics over",
      parseIntOption("max-rows", 1),
      50000,
    )
    .addOption(
      new Option(
        "--site <site>",
        "neuron site shown first: hidden (residual stream, L12:17) or mlp (MLP neurons, L12.mlp:3071); default concepts.json's, else hidden (the page switches between the sites a store holds)",
      ).choices([...SITES]),
    )
    .option("--verbose", "log every request")
    .action(
      action(
        async (
          dir: string,
          opts: { port: number; host: string; maxRows: number; site?: Site; verbose?: boolean },
        ) => {
          if (opts.port > 65535) throw new UserError(`--port: ${opts.port} is not a port`);
          const running = await startExplorer({
            resultsDir: dir,
            port: opts.port,
            host: opts.host,
            maxRows: opts.maxRows,
            site: opts.site,
            verbose: opts.verbose,
          }).catch((e: NodeJS.ErrnoException) => {
            if (e.code === "EADDRINUSE")
              throw new UserError(`port ${opts.port} is in use; pick another or leave --port out`);
            if (e.code === "ENOENT") throw new UserError(`${dir}: no such results directory`);
            throw e;
          });
          process.stdout.write(`codeneurons explorer: ${running.url}  (Ctrl-C to stop)\n`);
          const stop = () => {
            void running.close().then(() => process.exit(130));
          };
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        },
      ),
    );
}
