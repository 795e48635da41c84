import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

/** Debian's chromium (CI installs it with apt); never a downloaded browser. */
export const CHROMIUM = process.env.CODENEURONS_CHROMIUM ?? "/usr/bin/chromium";

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} not found: install Debian's chromium (apt-get install chromium), as .ci/run does`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Screenshots go to test-artifacts/ (git-ignored) so that CI can keep them. */
export function artifactPath(name: string): string {
  const dir = join(process.cwd(), "test-artifacts");
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/**
 * A page of the explorer's size whose console errors and uncaught exceptions go to `problems`. Console
 * errors include Content-Security-Policy violations: the app must run under its own policy.
 */
export async function explorerPage(browser: Browser, problems: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(e.message));
  return page;
}
