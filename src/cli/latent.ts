import { join } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { LABEL_LANGUAGES } from "../data/label.js";
import { CATEGORY_FAMILIES, type CategoryFamily, isCategoryFamily } from "../latent/categories.js";
import { LATENT_DEFAULTS, type LatentStageOptions, runLatent } from "../latent/stage.js";
import { formatLatentSummary, latentSummary } from "../latent/summary.js";
import { action, printJson, siteOption } from "./common.js";
import { parseFraction, parseIntList, parseIntOption, parseList } from "./options.js";

function parseFamilies(value: string): CategoryFamily[] {
  const out = parseList(value);
  for (const f of out) {
    if (!isCategoryFamily(f))
      throw new InvalidArgumentError(`'${f}' is not a category family (${CATEGORY_FAMILIES.join(", ")})`);
  }
  if (out.length === 0) throw new InvalidArgumentError("expected a comma-separated list of families");
  return out as CategoryFamily[];
}

export function register(program: Command): void {
  program
    .command("latent")
    .description(
      "Latent concepts (ConceptX): Ward clustering of each layer's token representations (scikit-learn's merges), aligned with code categories (token labels, tree-sitter parent node, identifier casing, position in the line); clusters aligned with none are the layer's novel concepts.",
    )
    .requiredOption(
      "--store <dir>",
      "word-level activation store (from `codeneurons extract`, with --labels)",
    )
    .addOption(siteOption())
    .option(
      "--layers <list>",
      "layers to cluster, e.g. 0,6,12 or 1-4 (default: every stored layer)",
      parseIntList("layers"),
    )
    .option(
      "--clusters <k>",
      "clusters per layer (the cut of the Ward tree)",
      parseIntOption("clusters", 1),
      LATENT_DEFAULTS.clusters,
    )
    .option(
      "--tokens <n>",
      "tokens sampled from the store",
      parseIntOption("tokens", 1),
      LATENT_DEFAULTS.maxTokens,
    )
    .option(
      "--per-type <n>",
      "occurrences kept per word type",
      parseIntOption("per-type", 1),
      LATENT_DEFAULTS.maxPerType,
    )
    .option("--seed <n>", "seed of the token sample", parseIntOption("seed", 0), LATENT_DEFAULTS.seed)
    .option(
      "--theta <t>",
      "a cluster is aligned with a category when at least this share of its tokens has it",
      parseFraction("theta", false),
      LATENT_DEFAULTS.theta,
    )
    .addOption(
      new Option(
        "--lang <language>",
        "the code's language: its tree-sitter grammar gives the parent categories",
      ).choices([...LABEL_LANGUAGES]),
    )
    .option(
      "--categories <list>",
      `category families to align with (${CATEGORY_FAMILIES.join(", ")}; default: all, parent only with --lang)`,
      parseFamilies,
    )
    .option(
      "--top-neurons <n>",
      "neurons listed per cluster (most active on its tokens)",
      parseIntOption("top-neurons", 0),
      LATENT_DEFAULTS.topNeurons,
    )
    .requiredOption("--out <dir>", "output directory (writes latent.json)")
    .option("--json", "print a summary as JSON on stdout")
    .option("--quiet", "no progress output")
    .action(
      action(
        async (
          opts: Omit<LatentStageOptions, "maxTokens" | "maxPerType" | "families" | "language"> & {
            tokens: number;
            perType: number;
            categories?: CategoryFamily[];
            lang?: string;
            json?: boolean;
          },
        ) => {
          const { result } = await runLatent({
            ...opts,
            maxTokens: opts.tokens,
            maxPerType: opts.perType,
            families: opts.categories,
            language: opts.lang,
          });
          const summary = latentSummary(result, join(opts.out, "latent.json"));
          if (opts.json) printJson(summary);
          else process.stdout.write(`${formatLatentSummary(summary)}\n`);
        },
      ),
    );
}
