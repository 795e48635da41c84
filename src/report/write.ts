import { readFileSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempNameFor } from "../util/atomic.js";
import { Progress } from "../util/progress.js";
import { figuresOf } from "./figures.js";
import { type RenderedFigure, reportHtml } from "./html.js";
import { readReportData } from "./read.js";
import { renderSvg, svgToPng } from "./render.js";
import type { ReportData } from "./types.js";

export interface ReportOptions {
  /** PNG scale relative to the SVG size. */
  pngScale?: number;
  /** Skip PNGs (faster; SVG and HTML only). */
  png?: boolean;
  quiet?: boolean;
}

export interface WrittenReport {
  dir: string;
  html: string;
  figures: { name: string; svg: string; png: string | null }[];
}

/** `codeneurons report <results-dir>`: reads report-data.json, writes report/ beside it. */
export async function writeReportForResults(
  resultsDir: string,
  opts: ReportOptions = {},
): Promise<WrittenReport> {
  const data = await readReportData(join(resultsDir, "report-data.json"));
  return writeReport(data, join(resultsDir, "report"), opts);
}

/**
 * Renders every figure and writes `outDir`/index.html and `outDir`/figures/*.{svg,png}. The whole folder
 * is built under a temporary name and swapped in by rename, so a reader never sees half a report.
 */
export async function writeReport(
  data: ReportData,
  outDir: string,
  opts: ReportOptions = {},
): Promise<WrittenReport> {
  const figures = figuresOf(data);
  const progress = new Progress("report", figures.length, { quiet: opts.quiet, unit: "figures" });
  const tmp = tempNameFor(outDir);
  await mkdir(join(tmp, "figures"), { recursive: true });
  try {
    const rendered: RenderedFigure[] = [];
    const written: WrittenReport["figures"] = [];
    for (const f of figures) {
      const svg = await renderSvg(f.spec);
      rendered.push({ ...f, svg });
      await writeFile(join(tmp, "figures", `${f.name}.svg`), svg);
      await writeFile(join(tmp, "figures", `${f.name}.vl.json`), `${JSON.stringify(f.spec, null, 1)}\n`);
      const wantPng = opts.png ?? true;
      if (wantPng) await writeFile(join(tmp, "figures", `${f.name}.png`), svgToPng(svg, opts.pngScale ?? 2));
      written.push({
        name: f.name,
        svg: join(outDir, "figures", `${f.name}.svg`),
        png: wantPng ? join(outDir, "figures", `${f.name}.png`) : null,
      });
      progress.tick();
    }
    await writeFile(join(tmp, "index.html"), reportHtml(data, rendered, packageVersion()));
    await swapInto(tmp, outDir);
    progress.finish();
    return { dir: outDir, html: join(outDir, "index.html"), figures: written };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Replaces `target` by `fresh`: the old folder moves aside first (rename cannot replace a non-empty folder). */
async function swapInto(fresh: string, target: string): Promise<void> {
  const old = tempNameFor(target);
  let moved = false;
  try {
    await rename(target, old);
    moved = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  await mkdir(dirname(target), { recursive: true });
  await rename(fresh, target);
  if (moved) await rm(old, { recursive: true, force: true });
}

function packageVersion(): string {
  try {
    const pkg = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "package.json");
    return (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version;
  } catch {
    return "dev";
  }
}
