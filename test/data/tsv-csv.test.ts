import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeToken } from "../../src/data/escape.js";
import { formatTaskTsv, parseTaskTsv, type TaskRow, taskRows } from "../../src/data/task/tsv.js";

const python = spawnSync("python3", ["-c", "import csv"]).status === 0;

/** Tokens that broke csv/pandas defaults when written raw: string literals, lone and inner quotes. */
const ROWS: TaskRow[] = ['"abc"', '""', '"', 'a"b', "'c'", '"a b"', "x\ty", "plain", '"\\"q\\""'].map(
  (token, i) => ({ sentence: i, word: i % 3, token, label: i % 2 ? "STRING" : "IDENT" }),
);

describe("task TSVs read with csv defaults (issue 18, item 8)", () => {
  it("round-trips every token through our reader", () => {
    expect(taskRows(parseTaskTsv(formatTaskTsv(ROWS), "t.tsv"))).toEqual(ROWS);
  });

  it.skipIf(!python)(
    "Python's csv.reader(delimiter='\\t') reads one row per token, the token as written",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "cn-tsv-"));
      const file = join(dir, "train.tsv");
      writeFileSync(file, formatTaskTsv(ROWS));
      // What pandas.read_csv(f, sep="\t") does by default too: quotechar '"', doublequote.
      const r = spawnSync(
        "python3",
        [
          "-c",
          "import csv, json, sys\nwith open(sys.argv[1], newline='', encoding='utf-8') as f:\n    print(json.dumps(list(csv.reader(f, delimiter='\\t'))))",
          file,
        ],
        { encoding: "utf8" },
      );
      expect(r.stderr).toBe("");
      const rows = JSON.parse(r.stdout) as string[][];
      expect(rows[0]).toEqual(["sentence", "word", "token", "label"]);
      expect(rows.slice(1)).toEqual(
        ROWS.map((row) => [String(row.sentence), String(row.word), encodeToken(row.token), row.label]),
      );
    },
  );
});
