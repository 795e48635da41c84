import { runFaultSuite } from "./suite.js";

/**
 * `npm run fault`: the fault-injection suite at full size (three bit flips per file, the probe over
 * every split's damaged store; `npm run fault -- --ci` for npm test's size), its counts printed per
 * group (`FAULT <group> tried=… errors=… identical=… edits=… other=…`), the edits, and every case
 * that ended otherwise. Exits 1 when any did.
 */
const started = performance.now();
const tally = await runFaultSuite({ full: !process.argv.includes("--ci") });
console.log(tally.format());
console.log(`fault suite: ${((performance.now() - started) / 1000).toFixed(0)} s`);
process.exitCode = tally.others().length > 0 ? 1 : 0;
