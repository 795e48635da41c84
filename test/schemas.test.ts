import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { jsonSchemaText, publishedSchemas, SCHEMA_DIR } from "../scripts/json-schemas.js";

describe("published JSON Schemas (docs/schemas/)", () => {
  it("are what scripts/json-schemas.ts writes from the schemas the code reads with", () => {
    const schemas = publishedSchemas();
    for (const p of schemas) {
      const committed = readFileSync(join(SCHEMA_DIR, `${p.name}.schema.json`), "utf8");
      expect(committed, `docs/schemas/${p.name}.schema.json: run npx tsx scripts/json-schemas.ts`).toBe(
        jsonSchemaText(p),
      );
    }
    expect(readdirSync(SCHEMA_DIR).sort()).toEqual(schemas.map((p) => `${p.name}.schema.json`).sort());
  });
});
