import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

/**
 * The browser code of the explorer (web/app.ts). An installed package runs from dist/, where tsc has
 * compiled it to web/app.js; a checkout run from source (tsx, vitest) has only app.ts and transpiles it
 * once with TypeScript, a development dependency that is present exactly in that case.
 */
export async function appScript(): Promise<string> {
  const js = fileURLToPath(new URL("./web/app.js", import.meta.url));
  if (existsSync(js)) return readFile(js, "utf8");
  const ts = fileURLToPath(new URL("./web/app.ts", import.meta.url));
  if (!existsSync(ts)) throw new Error(`explorer assets missing: neither ${js} nor ${ts}`);
  const typescript = await import("typescript");
  const out = typescript.default.transpileModule(await readFile(ts, "utf8"), {
    compilerOptions: {
      target: typescript.default.ScriptTarget.ES2022,
      module: typescript.default.ModuleKind.ES2022,
    },
    fileName: "app.ts",
  });
  return out.outputText;
}
