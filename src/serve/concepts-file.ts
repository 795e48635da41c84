import { type ConceptsResult, parseConcepts } from "../concepts/format.js";
import { readJsonFile } from "../util/json.js";

/**
 * Reads concepts.json for the explorer, checked in full (concepts/format.ts) so that a damaged file
 * fails at start-up with the field named, not mid-request. Every version is read as the current one.
 */
export async function readConceptsFile(file: string): Promise<ConceptsResult> {
  return readJsonFile(file, parseConcepts);
}
