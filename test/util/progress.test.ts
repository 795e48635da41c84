import { describe, expect, it } from "vitest";
import { Progress, renderProgressLine, withProgressLabel } from "../../src/util/progress.js";

/** A terminal of `columns` columns that records what is written. */
function terminal(columns: number | undefined, isTTY = true) {
  const writes: string[] = [];
  const stream = {
    isTTY,
    columns,
    write(chunk: string) {
      writes.push(chunk);
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { stream, writes, text: () => writes.join("") };
}

/** What each redraw leaves on the screen: the text after its last carriage return, controls removed. */
function drawnLines(text: string): string[] {
  return text
    .split(/\r|\n/)
    .map((l) => l.replaceAll("\u001b[K", ""))
    .filter((l) => l.length > 0);
}

describe("progress bars fit for terminals (issue 18, item 6)", () => {
  it("redraws by clearing the line, never wider than the terminal", async () => {
    for (const columns of [80, 40, 20]) {
      const t = terminal(columns);
      const bar = new Progress("redundancy: independent layer-wise probes", 1000, {
        stream: t.stream,
        quiet: false,
        unit: "fits",
      });
      for (let i = 0; i < 1000; i += 50) {
        bar.update(i);
        await new Promise((r) => setTimeout(r, 1));
      }
      bar.finish();
      for (const w of t.writes.filter((w) => w.startsWith("\r"))) expect(w).toContain("\u001b[K");
      for (const line of drawnLines(t.text())) expect(line.length, line).toBeLessThan(columns);
    }
  });

  it("shows the final state without an estimate of time left", () => {
    const t = terminal(100);
    const bar = new Progress("probe grid", 36, { stream: t.stream, quiet: false, unit: "fits" });
    bar.update(10);
    bar.finish();
    const last = drawnLines(t.text()).at(-1)!;
    expect(last).toMatch(/^probe grid █+ 100% 36\/36/);
    expect(last).not.toMatch(/left|elapsed/);
    const line = renderProgressLine(
      { label: "x", done: 5, total: 10, unit: "", seconds: 2, final: false },
      120,
    );
    expect(line).toContain("~2.0s left");
  });

  it("work ended early on purpose ends at its count, with the reason, not at 100%", () => {
    for (const tty of [true, false]) {
      const t = terminal(120, tty);
      const bar = new Progress("incremental layer-wise", 33, {
        stream: t.stream,
        quiet: false,
        unit: "probes",
      });
      bar.update(20);
      bar.finish("stopped: targets reached", 20);
      const last = drawnLines(t.text()).at(-1)!;
      expect(last).toMatch(/(61% 20\/33|20\/33 probes \(61%\)).*stopped: targets reached/);
      expect(last).not.toMatch(/100%|33\/33/);
    }
  });

  it("names what a bar works on through withProgressLabel (the split of an extraction)", async () => {
    const t = terminal(120);
    await withProgressLabel("valid", async () => {
      await Promise.resolve();
      new Progress("extract", 3, { stream: t.stream, quiet: false, unit: "words" }).finish();
    });
    expect(drawnLines(t.text())[0]).toMatch(/^extract \(valid\) /);
  });

  it("writes plain lines when the stream is not a terminal, as before", () => {
    const t = terminal(undefined, false);
    const bar = new Progress("report", 4, { stream: t.stream, quiet: false, unit: "figures" });
    bar.tick();
    bar.finish();
    const lines = t.text().trimEnd().split("\n");
    expect(lines[0]).toBe("report: 0/4 figures");
    expect(lines.at(-1)).toMatch(/^report: 4\/4 figures \(100%\)/);
    expect(t.text()).not.toContain("\r");
    expect(t.text()).not.toContain("left");
  });

  it("cuts the label last, and only on very narrow terminals", () => {
    const s = {
      label: "a long label for a narrow terminal",
      done: 1,
      total: 2,
      unit: "",
      seconds: 1,
      final: false,
    };
    expect(renderProgressLine(s, 60)).toMatch(/^a long label for a narrow terminal █+░+ +50%/);
    expect(renderProgressLine(s, 20).length).toBeLessThanOrEqual(20);
    expect(renderProgressLine(s, 20)).toMatch(/… {2}50%$/);
  });
});
