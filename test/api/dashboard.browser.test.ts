/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core)
 * against real Postgres and Redis: sync now with live progress, a run's changes, finding a user,
 * approving a held run. Screenshots go to .artifacts/screenshots/.
 *
 * Chromium missing is a failure, not a skip: `apt-get install -y chromium` (see .ci/run).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/api/server.js';
import { launchBrowser } from '../helpers/browser.js';
import { fileSource, sync, users } from '../helpers/snapshot.js';
import { harness, type Harness } from './helpers.js';

const SHOTS = resolve('.artifacts/screenshots');

const org = (n = 8) => ({
  users: users(n).map((u, i) => ({
    ...u,
    givenName: `Given${i}`,
    familyName: `Family${i}`,
    attributes: { department: i % 2 ? 'Sales' : 'Eng' },
  })),
  groups: [
    { id: 'g-eng', name: 'eng', description: 'Engineering', members: ['u0', 'u1'], groups: ['g-sre'] },
    { id: 'g-sre', name: 'sre', description: 'Site reliability', members: ['u2'] },
    { id: 'g-sales', name: 'sales', description: 'Sales team', members: ['u3', 'u4', 'u5'] },
  ],
});

let h: Harness;
let context: BrowserContext;
let page: Page;
let userDataDir: string;
let releaseFetch: () => void = () => {};
let fetchGate: Promise<void> = Promise.resolve();

const shot = async (name: string) => {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
};

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });

  const hr = fileSource({ title: 'ACME HR export', localGroups: ['all-staff'] }, 'acme-hr');
  hr.write(org());
  const held = fileSource(
    {
      title: 'Contractors (guarded)',
      guard: { users: { maxCount: 2, maxPercent: 100 } },
      schedule: { manual: true },
    },
    'contractors',
  );
  held.write({ users: users(6, 'c'), groups: [] });
  h = await harness([hr.config, held.config]);

  // History: two earlier runs of acme-hr, then the IdP changes (a rename, a leaver, a joiner).
  await sync(h.db.pool, hr.config, { trigger: 'schedule' });
  const o = org(6);
  (o.users[1] as { displayName: string }).displayName = 'Renamed One';
  o.users.push({
    ...users(10)[9]!,
    givenName: 'New',
    familyName: 'Joiner',
    attributes: { department: 'Eng' },
  });
  await sync(h.db.pool, hr.config, { trigger: 'schedule' });
  hr.write(o);
  // A held run: 4 of 6 contractors gone at once is more than the guard allows.
  await sync(h.db.pool, held.config);
  held.write({ users: users(2, 'c'), groups: [] });
  const s = await sync(h.db.pool, held.config);
  expect(s.status).toBe('needs_approval');

  fetchGate = new Promise((r) => (releaseFetch = r));
  h.startWorker({ beforeFetch: () => fetchGate });

  ({ context, page, userDataDir } = await launchBrowser());
});

afterAll(async () => {
  releaseFetch();
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await h?.close();
});

describe('dashboard in Chromium', () => {
  it('shows the overview, runs a sync with live progress, and lists what changed', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(h.server.url);
    await expectVisible(page.getByRole('heading', { level: 1, name: 'Directories' }));
    const card = page.locator('section.card', { has: page.getByRole('heading', { name: 'ACME HR export' }) });
    await expectVisible(card.getByText('Healthy'));
    await expectVisible(page.getByRole('alert').getByRole('link', { name: /run #\d+ of contractors/ }));
    await shot('01-overview');

    // Marks this page load: if anything reloads the page, the mark is gone.
    await page.evaluate(() => ((globalThis as unknown as { mark: number }).mark = 42));
    await card.getByRole('button', { name: 'Sync now' }).click();
    await expectVisible(page.getByText(/Sync of acme-hr queued/));
    // Running: the worker holds the run before fetch; the live view shows it without a reload.
    await expectVisible(card.locator('.progress').getByText(/Run #\d+: fetch/));
    await expectVisible(card.getByText('Running'));
    await shot('02-sync-running');
    releaseFetch();
    await expectVisible(card.getByText('Healthy'));
    await expectVisible(page.locator('#live').getByText(/Idle/));
    expect(await page.evaluate(() => (globalThis as unknown as { mark?: number }).mark)).toBe(42);

    // The run's page: what changed, with before and after of the update.
    const runLink = card.getByRole('link', { name: /^#\d+$/ });
    const runId = (await runLink.textContent())!.slice(1);
    await runLink.click();
    await expectVisible(page.getByRole('heading', { level: 1, name: new RegExp(`Run #${runId}`) }));
    await expectVisible(page.getByText('manual', { exact: true }));
    const changes = page.locator('table.changes');
    await expectVisible(changes.locator('ins', { hasText: 'Renamed One' }));
    await expectVisible(changes.locator('del', { hasText: 'User 1' }));
    await expectVisible(changes.getByRole('link', { name: 'user9' }));
    await shot('03-run-changes');
    await page.getByRole('link', { name: /^user deactivate/ }).click();
    await expectVisible(changes.getByRole('link', { name: 'user6' }));
    await expect.poll(() => changes.locator(':scope > tbody > tr').count()).toBe(2); // user6 and user7 left
    expect(errors).toEqual([]);
  });

  it('finds a user and shows direct and nested groups', async () => {
    await page.getByRole('link', { name: 'Directory', exact: true }).click();
    await page
      .getByRole('link', { name: /users$/ })
      .first()
      .click();
    await expectVisible(page.getByRole('heading', { level: 1, name: 'Users of acme-hr' }));
    // Keyboard only: focus the search box, type, Enter.
    await page.getByLabel('Find a user').focus();
    await page.keyboard.type('user2');
    await page.keyboard.press('Enter');
    await expectVisible(page.getByText('1 users matching “user2”'));
    // The groups list of the same directory, one link away.
    await page.getByRole('link', { name: 'Groups →' }).click();
    await expectVisible(page.getByRole('heading', { level: 1, name: 'Groups of acme-hr' }));
    await expect.poll(() => page.locator('table.grid tbody > tr').count()).toBeGreaterThan(0);
    await expectVisible(page.getByRole('link', { name: 'sre', exact: true }));
    await page.getByRole('link', { name: 'Users →' }).click();
    await page.getByLabel('Find a user').focus();
    await page.keyboard.type('user2');
    await page.keyboard.press('Enter');
    await expectVisible(page.getByText('1 users matching “user2”'));
    await page.getByRole('link', { name: 'user2', exact: true }).click();
    await expectVisible(page.getByRole('heading', { level: 1, name: 'User 2' }));
    const groups = page.locator('ul.groups');
    await expectVisible(groups.locator('li', { hasText: 'sre' }).getByText('direct'));
    await expectVisible(groups.locator('li', { hasText: 'eng' }).getByText('through a subgroup'));
    await shot('04-user');
    await groups.getByRole('link', { name: 'eng' }).click();
    await expectVisible(page.getByRole('heading', { level: 1, name: 'eng' }));
    await page.getByRole('link', { name: 'Effective' }).click();
    await expectVisible(page.getByRole('link', { name: 'user2' }));
    await shot('05-group');
  });

  it('approves a held run', async () => {
    await page.getByRole('link', { name: 'Overview' }).click();
    await page
      .getByRole('alert')
      .getByRole('link', { name: /run #\d+ of contractors/ })
      .click();
    await expectVisible(page.getByRole('heading', { name: 'Held by the deletion guard' }));
    await expectVisible(page.getByText(/users: 4 removals of 6/));
    await page.getByRole('link', { name: 'deactivations' }).click();
    await expect.poll(() => page.locator('table.changes > tbody > tr').count()).toBe(4);
    await shot('06-held-run');
    // Keyboard: focus the button and press Enter; a dialog asks to confirm and who approves.
    await page.getByRole('button', { name: /Approve and apply/ }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await expectVisible(dialog.getByText(/This applies exactly the changes listed/));
    await dialog.getByLabel(/Your name/).fill('Ada Operator');
    await shot('06b-approve-confirm');
    await dialog.getByRole('button', { name: 'Approve and apply' }).click();
    await expectVisible(page.getByText(/Run #\d+ approved/));
    await expectVisible(page.locator('h1 .badge', { hasText: 'Approved' }));
    expect(await page.getByRole('button', { name: /Approve/ }).count()).toBe(0);
    const { rows } = await h.db.pool.query(
      `SELECT count(*)::int AS n FROM dirsync.users WHERE connector = 'contractors' AND active`,
    );
    expect(rows[0].n).toBe(2);
    const actor = await h.db.pool.query(
      `SELECT resolved_by FROM dirsync.runs WHERE connector = 'contractors' AND status = 'approved'`,
    );
    expect(actor.rows[0].resolved_by).toBe('Ada Operator (dashboard, loopback)');
    // The guard's explanation stays on the resolved run, and the changes read as applied.
    await expectVisible(page.getByRole('heading', { name: 'Held by the deletion guard, then approved' }));
    await expectVisible(page.getByRole('heading', { name: 'What changed' }));
    await page.getByRole('link', { name: 'contractors' }).first().click();
    await expectVisible(page.locator('figure.chart canvas#changes-chart'));
    await shot('07-connector');
  });

  it('is usable by keyboard: Tab reaches the sync button with a visible focus ring', async () => {
    await page.goto(`${h.server.url}/#/`);
    await expectVisible(page.getByRole('heading', { level: 1, name: 'Directories' }));
    let reached = false;
    for (let i = 0; i < 40 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await page.evaluate('document.activeElement?.id')) === 'sync-acme-hr';
    }
    expect(reached).toBe(true);
    const outline = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle');
    expect(outline).toBe('solid');
    await shot('08-keyboard-focus');
  });

  it('asks for the admin token when reachable from other machines, then shows the dashboard', async () => {
    const token = randomBytes(24).toString('hex');
    const guarded = await startServer({
      config: h.config,
      pool: h.db.pool,
      host: '127.0.0.2',
      port: 0,
      auth: { token },
    });
    try {
      await page.goto(guarded.url);
      await expectVisible(page.getByLabel('Admin token'));
      await page.getByLabel('Admin token').fill('wrong-token-value');
      await page.keyboard.press('Enter');
      await expectVisible(page.getByRole('alert').getByText('That token is not right.'));
      await page.getByLabel('Admin token').fill(token);
      await shot('00-login');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expectVisible(page.getByRole('heading', { level: 1, name: 'Directories' }));
      // Read-only here (no queue attached), and the page never shows the token.
      await expectVisible(page.getByText('No worker queue attached').first());
      expect(await page.content()).not.toContain(token);
    } finally {
      await guarded.close();
    }
  });
});

async function expectVisible(l: ReturnType<Page['locator']>) {
  await l.first().waitFor({ state: 'visible' });
}
