/**
 * Debian's Chromium, driven by playwright-core, as every browser test launches it: headless, no
 * sandbox (root), and none of the background traffic this closed network refuses.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** A fresh browser profile at desktop size; `options` may set locale, time zone, viewport. */
export async function launchBrowser(
  options: Parameters<typeof chromium.launchPersistentContext>[1] = {},
): Promise<{ context: BrowserContext; page: Page; userDataDir: string }> {
  if (!existsSync(CHROMIUM)) {
    // A failure, not a skip: .ci/run installs it.
    throw new Error(
      `${CHROMIUM} is missing: the browser tests need Debian's chromium (apt-get update && apt-get install -y chromium)`,
    );
  }
  const userDataDir = mkdtempSync(join(tmpdir(), 'dirsync-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
    viewport: { width: 1366, height: 860 },
    ...options,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  return { context, page, userDataDir };
}
