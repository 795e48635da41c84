import type { Config } from "vega-lite";

/** One look for every figure: quiet grid, readable type, a colour-blind-safe palette (Okabe–Ito). */
export const FONT = "'Helvetica Neue', Helvetica, Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif";
export const MONO = "'DejaVu Sans Mono', 'Liberation Mono', Menlo, Consolas, monospace";

export const PALETTE = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#D55E00",
  "#CC79A7",
  "#56B4E9",
  "#8C6D31",
  "#666666",
];

/** Fixed colours for the usual orderings, so that LCA is the same blue in every figure. */
export const ORDERING_COLOURS: Record<string, string> = {
  LCA: "#0072B2",
  Probeless: "#E69F00",
  Random: "#888888",
  Bottom: "#CC79A7",
};

export const THEME: Config = {
  font: FONT,
  background: "white",
  padding: 16,
  title: {
    fontSize: 15,
    fontWeight: 600,
    anchor: "start",
    color: "#111827",
    subtitleColor: "#6b7280",
    subtitleFontSize: 12,
    offset: 14,
  },
  axis: {
    labelFontSize: 11,
    titleFontSize: 12,
    titleFontWeight: 500,
    titleColor: "#374151",
    labelColor: "#4b5563",
    gridColor: "#eceff3",
    domainColor: "#9ca3af",
    tickColor: "#9ca3af",
    titlePadding: 10,
  },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 500, labelColor: "#374151" },
  view: { stroke: null },
  range: { category: PALETTE },
  line: { strokeWidth: 2.2 },
  point: { size: 46, filled: true },
  bar: { cornerRadiusEnd: 2 },
};
