/**
 * Writes test/fixtures/neurox-export/acts.{json,in,label}: our export of the fixture store. Then
 * `python3 scripts/reference/neurox_load_reference.py test/fixtures/neurox-export/acts.{json,in,label}
 * test/fixtures/neurox-export/loaded.json` records what NeuroX's loaders make of them.
 * Usage: npx tsx test/store/write-neurox-fixture.ts
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ActivationStore, exportNeuroxJson } from "../../src/store/index.js";
import { buildExportStore, FIXTURE } from "./neurox-export-store.js";

const store = await ActivationStore.open(await buildExportStore(mkdtempSync(join(tmpdir(), "cn-nx-"))));
const r = await exportNeuroxJson(store, join(FIXTURE, "acts.json"), { quiet: true });
store.close();
console.log(`${r.sentences} sentences; left out lines ${r.leftOut.join(", ")}`);
