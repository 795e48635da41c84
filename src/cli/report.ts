import type { Command } from "commander";
import { writeReportForResults } from "../report/write.js";
import { action, printJson } from "./common.js";
import { parseIntOption } from "./options.js";

export function register(program: Command): void {
  program
    .command("report")
    .description(
      "Write the report: <results-dir>/report/index.html (one self-contained page, opens offline) and report/figures/*.svg|png|vl.json, from <results-dir>/report-data.json.",
    )
    .argument("<results-dir>", "directory holding report-data.json")
    .option(
      "--png-scale <n>",
      "PNG size relative to the SVG (2 = crisp in papers)",
      parseIntOption("png-scale", 1),
      2,
    )
    .option("--no-png", "write SVG and HTML only")
    .option("--json", "print the written files as JSON")
    .option("--quiet", "no progress output")
    .action(
      action(
        async (dir: string, opts: { pngScale: number; png: boolean; json?: boolean; quiet?: boolean }) => {
          const written = await writeReportForResults(dir, {
            pngScale: opts.pngScale,
            png: opts.png,
            quiet: opts.quiet,
          });
          if (opts.json) printJson(written);
          else
            process.stdout.write(
              `wrote ${written.html} and ${written.figures.length} figures in ${written.dir}/figures\n`,
            );
        },
      ),
    );
}
