/**
 * The dashboard as an operator uses it, in headless Chromium at desktop (1366 px) and phone
 * (375 px) width: confirmations, resolved runs, times that stay current and say their zone, dry-run
 * marks, charts drawn with Chart.js, history of a person, test connection, and no page that
 * overflows sideways. Screenshots go to .artifacts/screenshots/ (described in src/api/README.md).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../helpers/browser.js';
import { fileSource, sync, users } from '../helpers/snapshot.js';
import { harness, type Harness } from './helpers.js';

const SHOTS = resolve('.artifacts/screenshots');

let h: Harness;
let context: BrowserContext;
let page: Page;
let heldRunId = 0;
let dryRunId = 0;

const org = (n: number, title = 'Engineer') => ({
  users: users(n).map((u, i) => ({
    ...u,
    displayName: `A rather long display name for person number ${i} of the organisation`,
    attributes: {
      title: i === 0 ? title : 'Engineer',
      department: 'Engineering and Platform Reliability',
      manager: { id: 'm1', name: 'M' },
    },
  })),
  groups: [
    { id: 'g-eng', name: 'engineering-platform-reliability-team', members: users(n).map((u) => u.id) },
    { id: 'g-small', name: 'small', members: ['u0', 'u1'] },
  ],
});

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const hr = fileSource(
    { title: 'People', schedule: { every: '5m' }, deletion: { deleteAfter: '7d' } },
    'people',
  );
  const guarded = fileSource(
    { title: 'Guarded', guard: { users: { maxCount: 2, maxPercent: 100 } }, schedule: { manual: true } },
    'guarded',
  );
  h = await harness([hr.config, guarded.config]);
  hr.write(org(40));
  await sync(h.db.pool, hr.config, { trigger: 'schedule' });
  hr.write(org(36, 'Senior Engineer'));
  await sync(h.db.pool, hr.config, { trigger: 'schedule' });
  hr.write(org(37, 'Staff Engineer'));
  dryRunId = (await sync(h.db.pool, hr.config, { dryRun: true })).runId;
  guarded.write({ users: users(8, 'c'), groups: [] });
  await sync(h.db.pool, guarded.config);
  guarded.write({ users: users(2, 'c'), groups: [] });
  heldRunId = (await sync(h.db.pool, guarded.config)).runId;

  ({ context, page } = await launchBrowser({ timezoneId: 'Europe/Berlin', locale: 'en-GB' }));
});

afterAll(async () => {
  await context?.close();
  await h?.close();
});

const visible = (l: ReturnType<Page['locator']>) => l.first().waitFor({ state: 'visible' });
const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
/** How far the page is wider than the window (0: no sideways scrolling). */
const overflow = () =>
  page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');

describe('dashboard for operators (1366 px)', () => {
  it('the card marks a dry run as the last run; charts are drawn with Chart.js', async () => {
    await page.goto(`${h.server.url}/#/`);
    const card = page.locator('section.card', { has: page.getByRole('heading', { name: 'People' }) });
    await visible(card.getByRole('link', { name: `#${dryRunId}` }));
    await visible(card.locator('.tag', { hasText: 'dry run' }));
    await page.goto(`${h.server.url}/#/connectors/people`);
    await visible(page.locator('canvas#size-chart'));
    await visible(page.locator('canvas#changes-chart'));
    const drawn = await page.evaluate<{ size?: number; changes?: string[] }>(`(() => {
      const size = Chart.getChart(document.getElementById('size-chart'));
      const changes = Chart.getChart(document.getElementById('changes-chart'));
      return { size: size?.data.labels.length, changes: changes?.data.labels };
    })()`);
    expect(drawn.size).toBe(3);
    expect(drawn.changes).toContain(`#${dryRunId} dry`);
    // The first sync (40 creates) is clipped so later runs stay readable, and the caption says so.
    await visible(page.getByText(/Clipped: run #\d+ \(\d+ changes\)/));
    // Durations in the config panel as written, not in milliseconds.
    await page.getByText('Configuration (secrets').click();
    await visible(page.getByText('"every": "5m"'));
    await shot('10-connector-charts');
  });

  it('an update lists only the changed keys; times say their zone and stay current', async () => {
    const runs = await h.db.pool.query(
      `SELECT id FROM dirsync.runs WHERE connector = 'people' AND NOT dry_run ORDER BY id DESC LIMIT 1`,
    );
    await page.goto(`${h.server.url}/#/runs/${runs.rows[0].id}?object=user&operation=update`);
    const row = page.locator('table.changes tbody > tr').first();
    await visible(row.getByText('attributes.title'));
    expect(await row.innerText()).not.toContain('department');
    // Absolute times carry the zone (CET/CEST in Europe/Berlin).
    await visible(page.getByText(/GMT\+1|GMT\+2|CET|CEST/));
    const before = await page.locator('time[data-ago]').first().innerText();
    await page.clock.install();
    await page.clock.fastForward('03:00');
    await expect
      .poll(() => page.locator('time[data-ago]').first().innerText(), { timeout: 15_000 })
      .not.toBe(before);
    await shot('11-run-update');
  });

  it('rejecting asks first; cancel does nothing; the rejected run keeps its guard explanation', async () => {
    await page.goto(`${h.server.url}/#/runs/${heldRunId}`);
    await page.getByRole('button', { name: 'Reject' }).click();
    const dialog = page.getByRole('dialog');
    await visible(dialog.getByText(/nothing is applied/));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    const still = await h.db.pool.query('SELECT status FROM dirsync.runs WHERE id = $1', [heldRunId]);
    expect(still.rows[0].status).toBe('needs_approval');
    await page.getByRole('button', { name: 'Reject' }).click();
    await dialog.getByLabel(/Your name/).fill('Grace Admin');
    await dialog.getByRole('button', { name: 'Reject' }).click();
    await visible(page.getByRole('heading', { name: 'Held by the deletion guard, then rejected' }));
    await visible(
      page.getByRole('heading', { name: /would have changed \(rejected: nothing was applied\)/ }),
    );
    await visible(page.getByText(/Rejected by Grace Admin \(dashboard, loopback\)/));
    await visible(page.locator('canvas#guard-chart'));
    await shot('12-rejected-run');
  });

  it("a person's page shows their history and when they will be deleted; test connection reports", async () => {
    await page.goto(`${h.server.url}/#/connectors/people/users/u37`);
    await visible(page.getByRole('heading', { name: 'History' }));
    await visible(page.getByText('no longer returned by the identity provider'));
    await visible(page.getByText(/will be deleted/));
    await shot('13-user-history');
    await page.goto(`${h.server.url}/#/connectors/people`);
    await page.getByRole('button', { name: 'Test connection' }).click();
    await visible(page.getByText('Connection works'));
    await visible(page.getByText(/Signed in and read 37 user\(s\)/));
  });
});

describe('dashboard at phone width (375 px)', () => {
  it('no page scrolls sideways, and the header is one row', async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    const runId = (await h.db.pool.query(`SELECT max(id) AS id FROM dirsync.runs WHERE connector = 'people'`))
      .rows[0].id;
    const pages: [string, string][] = [
      ['/#/', '20-phone-overview'],
      ['/#/runs', '21-phone-runs'],
      [`/#/runs/${runId}`, '22-phone-run'],
      ['/#/connectors/people/users', '23-phone-users'],
      ['/#/connectors/people', '24-phone-connector'],
    ];
    for (const [path, name] of pages) {
      await page.goto(`${h.server.url}${path}`);
      await visible(page.locator('main h1'));
      await page.waitForTimeout(300);
      expect(await overflow(), `${path} scrolls sideways`).toBeLessThanOrEqual(0);
      const header = await page.locator('header.top').boundingBox();
      expect(header?.height, `${path} header height`).toBeLessThan(56);
      await shot(name);
    }
    await page.setViewportSize({ width: 1366, height: 860 });
  });
});
