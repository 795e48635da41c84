import type { Command } from "commander";
import type { Site } from "../store/format.js";
import { ActivationStore, exportNeuroxJson, importNeuroxJson, mergeStores } from "../store/index.js";
import { UserError } from "../util/errors.js";
import { log } from "../util/progress.js";
import { action, printJson, siteOption } from "./common.js";
import { parseIntList } from "./options.js";
import { parseDType } from "./store-options.js";

/** `import`, `export` and `merge`: moving activation stores in and out of codeneurons. */
export function registerStoreCommands(program: Command): void {
  program
    .command("import")
    .description("Import activations written by NeuroX (JSON, one object per sentence) into a store")
    .requiredOption("--format <format>", "input format (neurox-json)")
    .requiredOption(
      "--input <file...>",
      "NeuroX JSON file(s): all layers in one file, or one file per layer; FILE@L says the file holds layer L",
    )
    .requiredOption("--out <dir>", "store directory to write")
    .option("--labels <file>", "parallel label file (one line per sentence)")
    .option("--words <file>", "sentence file whose words replace the files' token texts")
    .option(
      "--token-format <f>",
      "raw | bytelevel | auto (decode GPT-2/RoBERTa 'Ġ' tokens when present)",
      "auto",
    )
    .option("--dtype <dtype>", "storage dtype: float32 | float16", "float32")
    .option("--model-type <type>", "model type to record (e.g. roberta)")
    .option("--overwrite", "replace an existing store at --out")
    .option("--json", "print the store index as JSON")
    .action(
      action(async (o: ImportCli) => {
        if (o.format !== "neurox-json")
          throw new UserError(`--format: only neurox-json is supported, got '${o.format}'`);
        if (!["raw", "bytelevel", "auto"].includes(o.tokenFormat))
          throw new UserError("--token-format: raw, bytelevel or auto");
        const index = await importNeuroxJson({
          inputs: o.input,
          labels: o.labels,
          words: o.words,
          tokenFormat: o.tokenFormat as "raw" | "bytelevel" | "auto",
          out: o.out,
          dtype: parseDType(o.dtype),
          modelType: o.modelType,
          overwrite: o.overwrite,
        });
        if (o.json) printJson(index);
        else
          log(
            `imported ${index.counts.sentences} sentences, ${index.counts.rows} words, layers ${index.settings.layers.join(",")} → ${o.out}`,
          );
      }),
    );

  program
    .command("export")
    .description(
      "Export a word-level store as NeuroX activation JSON, with the matching sentence and label files NeuroX's " +
        "load_data reads (OUT.json → OUT.in, OUT.label): the same sentences, line for line; each JSON line's " +
        '"line" is its line in the store\'s input',
    )
    .requiredOption("--store <dir>", "activation store")
    .requiredOption("--format <format>", "output format (neurox-json)")
    .requiredOption("--out <file>", "JSON lines file to write (the .in and .label files go beside it)")
    .addOption(siteOption())
    .option(
      "--layers <list>",
      "layers to export, e.g. 0,3-5 (default all of the site; MLP layers start at 1)",
      parseIntList("layers"),
    )
    .action(
      action(async (o: { store: string; format: string; out: string; site: Site; layers?: number[] }) => {
        if (o.format !== "neurox-json")
          throw new UserError(`--format: only neurox-json is supported, got '${o.format}'`);
        const store = await ActivationStore.open(o.store);
        try {
          const r = await exportNeuroxJson(store, o.out, { layers: o.layers, site: o.site });
          const files = [r.files.json, r.files.in, r.files.label].filter((f) => f !== null).join(", ");
          log(`wrote ${r.sentences} sentences${o.site === "hidden" ? "" : ` (${o.site} site)`} → ${files}`);
          if (r.leftOut.length > 0)
            log(
              `left out ${r.leftOut.length} input lines without words in the store (not extracted or empty; each JSON line's "line" names its input line)`,
            );
        } finally {
          store.close();
        }
      }),
    );

  program
    .command("merge")
    .description("Join the parts of a --shard K/N extraction into one store")
    .argument("<parts...>", "part directories (each written by extract --shard K/N)")
    .requiredOption("--out <dir>", "store directory to write")
    .option("--overwrite", "replace an existing directory at --out")
    .option("--json", "print the merged index as JSON")
    .action(
      action(async (parts: string[], o: { out: string; overwrite?: boolean; json?: boolean }) => {
        const index = await mergeStores(parts, o.out, { overwrite: o.overwrite });
        if (o.json) printJson(index);
        else
          log(
            `merged ${parts.length} parts: ${index.shards.length} shards, ${index.counts.rows} rows → ${o.out}`,
          );
      }),
    );
}

interface ImportCli {
  format: string;
  input: string[];
  out: string;
  labels?: string;
  words?: string;
  tokenFormat: string;
  dtype: string;
  modelType?: string;
  overwrite?: boolean;
  json?: boolean;
}
