import { type Command, Option } from "commander";
import { runPredict } from "../compress/predict.js";
import { action } from "./common.js";
import { parseIntOption } from "./options.js";

interface PredictCli {
  model: string;
  input: string;
  inputB?: string;
  out?: string;
  format: "tsv" | "json";
  batchTokens: number;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command("predict")
    .description(
      "Labels from a compressed model (`codeneurons compress`): a label per word for token tagging, one per line (or pair of lines) for sentence-level tasks, with class probabilities",
    )
    .requiredOption("--model <dir>", "the compressed model: its directory, card.json or model.onnx")
    .requiredOption("--input <file>", "sentences, one a line, words separated by spaces (as .in files)")
    .option("--input-b <file>", "pair models: the second sentence of each pair, parallel to --input")
    .option("--out <file>", "write here instead of stdout")
    .addOption(new Option("--format <format>", "output format").choices(["tsv", "json"]).default("tsv"))
    .option("--batch-tokens <n>", "padded tokens per forward batch", parseIntOption("batch-tokens", 1), 1024)
    .option("--quiet", "no progress output")
    .action(
      action(async (o: PredictCli) => {
        const r = await runPredict({ ...o, quiet: o.quiet || !o.out });
        if (!o.out) process.stdout.write(r.text);
        else
          process.stderr.write(
            `predict: ${r.predictions} ${r.level === "word" ? "words" : "sentences"} labelled${r.unlabelledLines ? ` (${r.unlabelledLines} empty lines without a label)` : ""}; wrote ${o.out}\n`,
          );
      }),
    );
}
