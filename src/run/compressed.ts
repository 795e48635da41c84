import type { CompressedCard } from "../compress/format.js";
import type { SpeedComparison } from "../compress/speed.js";
import { percent } from "../util/format.js";
import type { Headline } from "./headline.js";

/**
 * The headline with the compressed model the run wrote (`compress` in the config): what it keeps and
 * how it scores. Its speed is a timing, so it is not part of the headline run.json keeps; speedLine
 * says it when the run prints.
 */
export function withCompressed(h: Headline, card: CompressedCard, dir: string): Headline {
  const m = card.accuracy.measured;
  const line =
    `Compressed ${card.set.row} model (${dir}): cut after block ${card.layers.blocks} of ${card.layers.of}, ` +
    `${card.neurons.ids.length} of ${card.neurons.of} neurons computed; ${percent(m.accuracy)} test accuracy ` +
    `(the run: ${percent(card.accuracy.run.test)}).`;
  return {
    ...h,
    text: `${h.text}\n${line}`,
    compressed: {
      dir,
      set: card.set.row,
      blocks: card.layers.blocks,
      of: card.layers.of,
      neurons: card.neurons.ids.length,
      neuronsOf: card.neurons.of,
      accuracy: m.accuracy,
      runAccuracy: card.accuracy.run.test,
    },
  };
}

/** "Speed-up over the full model + oracle probe: 1.78× (…)", for the printed headline. */
export function speedLine(s: SpeedComparison): string {
  return (
    `Speed-up of the compressed model over the full model + oracle probe: ${s.speedup.toFixed(2)}× ` +
    `(${s.median.compressed.toFixed(2)} s vs ${s.median.full.toFixed(2)} s to label the ${s.sentences} test sentences; ` +
    `medians of ${s.runs} alternating runs, this machine).`
  );
}
