import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import {
  ActivationStore,
  extractActivations,
  LogisticProbe,
  openActivationModel,
  topNeurons,
} from "../src/index.js";

it("the README's library example runs as written", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cn-readme-"));
  writeFileSync(join(dir, "lines.in"), "foo . bar ( x ) ;\nreturn y ;\n");
  const model = await openActivationModel("models/codeneurons-java-tiny");
  await extractActivations(model, { input: join(dir, "lines.in"), out: join(dir, "acts"), quiet: true });
  await model.release();

  const store = await ActivationStore.open(join(dir, "acts"));
  const x = await store.readRows([0, 1, 2, 3], { layers: [2, 3] });
  expect([x.rows, x.cols]).toEqual([4, 512]);
  const probe = await new LogisticProbe({ lambda1: 1e-4, lambda2: 1e-4 }).fit(x, [
    "IDENT",
    "DOT",
    "IDENT",
    "LPAR",
  ]);
  const top = topNeurons(probe.weightsByOutput(), 0.05);
  expect(top.perClass).toHaveLength(3);
  expect(top.union.length).toBeGreaterThan(0);
  store.close();
});
