export { type Figure, figuresOf, SECTIONS } from "./figures.js";
export { reportSectionsFromConcepts } from "./from-concepts.js";
export { reportSectionsFromRedundancy } from "./from-redundancy.js";
export { escapeHtml, inlineSvg, reportHtml } from "./html.js";
export { parseReportData, readReportData } from "./read.js";
export { renderSvg, svgToPng } from "./render.js";
export * from "./specs.js";
export * from "./types.js";
export { type ReportOptions, type WrittenReport, writeReport, writeReportForResults } from "./write.js";
