/**
 * Writes docs/schemas/<format>.schema.json (JSON Schema, draft 2020-12) for every JSON file codeneurons
 * writes, from the zod schemas the code reads them with, so that Python (jsonschema) and other tools can
 * validate our files:  npx tsx scripts/json-schemas.ts
 * test/schemas.test.ts fails when a committed schema differs from what this script would write.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type ZodType, z } from "zod";
import { FILE_FORMATS } from "../src/index.js";
import { RUN_CONFIG_FILE_SCHEMA } from "../src/run/config.js";
import { RUN_FILE_SCHEMA, RUN_FORMAT, RUN_VERSION } from "../src/run/format.js";

export const SCHEMA_DIR = resolve(import.meta.dirname, "..", "docs", "schemas");

export interface PublishedSchema {
  /** The file name's stem: docs/schemas/<name>.schema.json. */
  name: string;
  /** What the file is and where codeneurons writes (or reads) it. */
  title: string;
  schema: ZodType;
}

/** Every published schema: the library's file formats, `codeneurons run`'s run.json and its config. */
export function publishedSchemas(): PublishedSchema[] {
  return [
    ...FILE_FORMATS.map((f) => ({ name: f.name, title: `${f.format} version ${f.version} (${f.file})`, schema: f.schema })),
    { name: RUN_FORMAT, title: `${RUN_FORMAT} version ${RUN_VERSION} (run.json)`, schema: RUN_FILE_SCHEMA },
    {
      name: "codeneurons-run-config",
      title: "codeneurons run --config FILE (every field optional)",
      schema: RUN_CONFIG_FILE_SCHEMA,
    },
  ];
}

/** The JSON Schema text of one published schema (what the file holds; readers accept extra fields). */
export function jsonSchemaText(p: PublishedSchema): string {
  const json = { title: p.title, ...z.toJSONSchema(p.schema, { io: "input", unrepresentable: "any" }) };
  return `${JSON.stringify(json, null, 2)}\n`;
}

function main(): void {
  mkdirSync(SCHEMA_DIR, { recursive: true });
  for (const p of publishedSchemas()) writeFileSync(join(SCHEMA_DIR, `${p.name}.schema.json`), jsonSchemaText(p));
  process.stdout.write(`wrote ${publishedSchemas().length} schemas to ${SCHEMA_DIR}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main();
