/**
 * Writes the demo's Devign-format sample (demo/devign/{train,valid,test}.jsonl): records
 * {project, commit_id, target, func, idx} as CodeXGLUE's Defect-detection preprocessing writes them, so
 * that `codeneurons run --demo devign` runs offline. No Devign data is bundled or reachable here: this
 * is a FORMAT SAMPLE with synthetic labels (demo/README.md), not the dataset.
 *
 * Every function is a small C function generated from one of the seeded templates below, with names,
 * buffer sizes and optional statements (a NULL check of an argument, a memset, a debug log, a counter)
 * drawn at random for both labels. Label target=1: the function has the template's planted memory-safety
 * defect (a string or memory copy into a fixed-size buffer without a length check, an array index or a
 * packet length used unchecked, a loop bound off by one, an unchecked malloc, sprintf into a fixed
 * buffer); target=0: the same template with the check (or the bounded call) that removes the defect.
 * 45% of each split's functions are defective (in a shuffled order), close to Devign's share. `project` is
 * "codeneurons-synthetic" and `commit_id` names the template ("synthetic-<template>"): there is no
 * commit. `idx` numbers the records across the three files, as in CodeXGLUE.
 *
 * Regenerate with:  npx tsx scripts/make-demo-devign.ts
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "../src/util/rng.js";

const SIZES = { train: 320, valid: 80, test: 80 } as const;
const SEED = 7;
const DEFECTIVE = 0.45;

const rng = new Rng(SEED);
const pick = <T>(items: readonly T[]): T => items[rng.int(items.length)];
const maybe = (p = 0.5): boolean => rng.next() < p;

const VERBS = ["parse", "read", "copy", "decode", "load", "fill", "store", "set", "append", "init"];
const NOUNS = ["header", "packet", "name", "label", "frame", "entry", "record", "token", "path", "field"];
const BUFFERS = ["buf", "dst", "out", "tmp", "name", "path", "line", "key"];
const SOURCES = ["src", "data", "input", "str", "s", "arg"];
const LENGTHS = ["len", "n", "size", "count", "nbytes"];
const SIZES_BYTES = [16, 32, 64, 128, 256];

/** A template: its parameters are drawn, then the body is written with or without the defect. */
type Template = (defective: boolean) => string[];

const fname = (): string => `${pick(VERBS)}_${pick(NOUNS)}`;

/** Optional statements both labels may carry, so that none of them marks a label. */
function nullCheck(ptr: string, fail: string): string[] {
  return maybe(0.4) ? [`    if (!${ptr})`, `        return${fail === "" ? "" : ` ${fail}`};`] : [];
}
const debugLog = (what: string): string[] =>
  maybe(0.3) ? [`    debug_log("%s: %d\\n", __func__, (int)${what});`] : [];

const TEMPLATES: Record<string, Template> = {
  strcpy: (bad) => {
    const [b, s, n] = [pick(BUFFERS), pick(SOURCES), pick(SIZES_BYTES)];
    return [
      `int ${fname()}(const char *${s})`,
      "{",
      `    char ${b}[${n}];`,
      ...nullCheck(s, "-1"),
      ...(bad ? [] : [`    if (strlen(${s}) >= sizeof(${b}))`, "        return -1;"]),
      `    strcpy(${b}, ${s});`,
      `    return handle_${pick(NOUNS)}(${b});`,
      "}",
    ];
  },
  memcpy: (bad) => {
    const [d, l, f] = [pick(SOURCES), pick(LENGTHS), pick(BUFFERS)];
    return [
      `int ${fname()}(struct ${pick(NOUNS)}_ctx *ctx, const uint8_t *${d}, size_t ${l})`,
      "{",
      ...nullCheck("ctx", "-EINVAL"),
      ...debugLog(l),
      ...(bad ? [] : [`    if (${l} > sizeof(ctx->${f}))`, "        return -EINVAL;"]),
      `    memcpy(ctx->${f}, ${d}, ${l});`,
      `    ctx->${f}_len = ${l};`,
      "    return 0;",
      "}",
    ];
  },
  index: (bad) => {
    const [i, v, max] = [pick(["idx", "i", "slot", "pos"]), pick(["value", "val", "v"]), pick(SIZES_BYTES)];
    return [
      `void ${fname()}(struct ${pick(NOUNS)}_table *t, int ${i}, int ${v})`,
      "{",
      ...nullCheck("t", ""),
      ...(bad ? [] : [`    if (${i} < 0 || ${i} >= ${max})`, "        return;"]),
      `    t->entries[${i}] = ${v};`,
      ...(maybe() ? ["    t->used++;"] : []),
      "}",
    ];
  },
  loop: (bad) => {
    const [o, s, n, k] = [pick(BUFFERS), pick(SOURCES), pick(SIZES_BYTES), 2 + rng.int(7)];
    return [
      `int ${fname()}(const int *${s})`,
      "{",
      `    int ${o}[${n}];`,
      "    int i, sum = 0;",
      ...(maybe(0.3) ? [`    memset(${o}, 0, sizeof(${o}));`] : []),
      `    for (i = 0; i ${bad ? "<=" : "<"} ${n}; i++)`,
      `        ${o}[i] = ${s}[i] * ${k};`,
      `    for (i = 0; i < ${n}; i++)`,
      `        sum += ${o}[i];`,
      "    return sum;",
      "}",
    ];
  },
  malloc: (bad) => {
    const [p, l] = [pick(BUFFERS), pick(LENGTHS)];
    return [
      `char *${fname()}(size_t ${l})`,
      "{",
      `    char *${p} = malloc(${l} + 1);`,
      ...(bad ? [] : [`    if (!${p})`, "        return NULL;"]),
      `    memset(${p}, 0, ${l} + 1);`,
      ...debugLog(l),
      `    return ${p};`,
      "}",
    ];
  },
  packet: (bad) => {
    const [pkt, o, max] = [pick(["pkt", "p", "msg", "frame"]), pick(BUFFERS), pick(SIZES_BYTES)];
    return [
      `int ${fname()}(const uint8_t *${pkt}, size_t ${pkt}_len, uint8_t *${o})`,
      "{",
      "    size_t n;",
      ...nullCheck(pkt, "-1"),
      `    if (${pkt}_len < 2)`,
      "        return -1;",
      `    n = (${pkt}[0] << 8) | ${pkt}[1];`,
      ...(bad ? [] : [`    if (n > ${pkt}_len - 2 || n > ${max})`, "        return -1;"]),
      `    memcpy(${o}, ${pkt} + 2, n);`,
      "    return (int)n;",
      "}",
    ];
  },
  sprintf: (bad) => {
    const [b, s, n] = [pick(BUFFERS), pick(SOURCES), pick(SIZES_BYTES)];
    const fmt = pick(['"%s-%d"', '"%s/%d"', '"%s:%d"']);
    return [
      `void ${fname()}(const char *${s}, int id)`,
      "{",
      `    char ${b}[${n}];`,
      ...nullCheck(s, ""),
      bad ? `    sprintf(${b}, ${fmt}, ${s}, id);` : `    snprintf(${b}, sizeof(${b}), ${fmt}, ${s}, id);`,
      `    emit_${pick(NOUNS)}(${b});`,
      "}",
    ];
  },
};
const NAMES = Object.keys(TEMPLATES);

const out = join(import.meta.dirname, "..", "demo", "devign");
mkdirSync(out, { recursive: true });
const seen = new Set<string>();
let idx = 0;
for (const [split, size] of Object.entries(SIZES)) {
  const lines: string[] = [];
  const defective = Math.round(DEFECTIVE * size);
  const targets = rng.shuffle(Array.from({ length: size }, (_, i) => (i < defective ? 1 : 0)));
  while (lines.length < size) {
    const template = pick(NAMES);
    const target = targets[lines.length];
    const func = TEMPLATES[template](target === 1).join("\n");
    // Each function once in the whole sample, so that no test function is a train function.
    if (seen.has(func)) continue;
    seen.add(func);
    const record = {
      project: "codeneurons-synthetic",
      commit_id: `synthetic-${template}`,
      target,
      func,
      idx,
    };
    lines.push(JSON.stringify(record));
    idx++;
  }
  writeFileSync(join(out, `${split}.jsonl`), `${lines.join("\n")}\n`);
  process.stderr.write(`${split}: ${size} functions, ${defective} defective\n`);
}
