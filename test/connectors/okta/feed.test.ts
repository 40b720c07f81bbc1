/**
 * The Okta change feed, read by the real connector (official SDK over HTTP) from the emulator:
 * after randomized rounds of changes through the emulator's admin API, (full read) + (feeds)
 * equals a fresh full read; cursor expiry, a failing log page, an unchanged feed's cost, the
 * overlap re-read and the System Log's ingestion delay.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDirsyncError } from '../../../src/errors.js';
import type { OktaEmulator } from '../../../connectors/okta/emulator/index.js';
import { oktaConnector, type OktaConfig } from '../../../connectors/okta/index.js';
import { encodeCursor } from '../../../connectors/okta/cursor.js';
import type { ConnectorContext } from '../../../connectors/types.js';
import { applyFeed, expectSameRecords, readAll, type RecordSet } from '../../helpers/feed.js';
import { configFor, emulator } from './helpers.js';

/** Per-minute limits out of the way: these tests read the org dozens of times. */
const LIFTED = { users: 1e6, user: 1e6, groups: 1e6, group: 1e6, logs: 1e6 };

function context(extra: Partial<ConnectorContext> = {}): ConnectorContext {
  return {
    logger: pino({ level: 'silent' }),
    signal: new AbortController().signal,
    progress: () => {},
    ...extra,
  };
}

async function fullRead(config: OktaConfig, ctx: ConnectorContext) {
  const source = await oktaConnector.open(config, ctx);
  const set = await readAll(source);
  const cursor = source.cursor?.() ?? null;
  expect(cursor).toMatch(/^okta:v1:/);
  return { set, cursor: cursor as string, requests: source.stats().requests };
}

async function feed(config: OktaConfig, ctx: ConnectorContext, set: RecordSet, cursor: string) {
  const f = await oktaConnector.openFeed!(config, ctx, cursor);
  const { cursor: next, items } = await applyFeed(set, f);
  return { cursor: next, items, requests: f.stats().requests };
}

async function admin(emu: OktaEmulator, method: string, path: string, body?: unknown) {
  const res = await fetch(`${emu.url}/__emulator/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.status, `${method} ${path}`).toBeLessThan(300);
  return res.status === 204 ? null : ((await res.json()) as Record<string, unknown>);
}

/** Changes beyond the seeded plan: a deprovisioned user and a re-activated one, every round. */
async function extraChanges(emu: OktaEmulator, round: number) {
  const users = emu.org.users;
  const victim = users[(round * 7) % users.length];
  if (victim) await admin(emu, 'PATCH', `users/${victim.id}`, { status: 'deprovisioned' });
  const back = users.find((u) => u.status === 'deprovisioned' && u.id !== victim?.id);
  if (back && round % 3 === 0) await admin(emu, 'PATCH', `users/${back.id}`, { status: 'active' });
}

describe('okta change feed: randomized rounds', () => {
  const variants: { name: string; rounds: number; ctx: Partial<ConnectorContext>; overlap: number }[] = [
    { name: 'every status, no group filter, no overlap', rounds: 20, ctx: {}, overlap: 0 },
    { name: 'every status, default overlap (re-reads every round)', rounds: 6, ctx: {}, overlap: 300 },
    { name: 'active users only (push-down)', rounds: 8, ctx: { activeUsersOnly: true }, overlap: 0 },
    {
      name: 'group includes and excludes pushed down',
      rounds: 8,
      overlap: 0,
      ctx: {
        groupFilter: {
          include: [{ glob: 'e*' }, { glob: 'p*' }, { glob: 'new-*' }, { glob: 'd*' }],
          exclude: [{ glob: '*x1' }],
        },
      },
    },
  ];
  for (const v of variants) {
    it(`${v.name}: full read + feeds = fresh full read after each of ${v.rounds} rounds`, async () => {
      const emu = await emulator({
        users: 90,
        groups: 16,
        membersPerGroup: 12,
        seed: 11,
        rateLimits: LIFTED,
      });
      try {
        const config = configFor(emu, { feed: { overlapSeconds: v.overlap } });
        const ctx = context(v.ctx);
        const first = await fullRead(config, ctx);
        const set = first.set;
        let cursor = first.cursor;
        const seen: Record<string, number> = {};
        for (let round = 1; round <= v.rounds; round++) {
          const res = await admin(emu, 'POST', 'mutate', {
            seed: round * 101 + v.rounds,
            users: 0.08,
            memberships: 0.04,
            groups: 3,
          });
          for (const [op, n] of Object.entries((res?.ops ?? {}) as Record<string, number>))
            seen[op] = (seen[op] ?? 0) + n;
          await extraChanges(emu, round);
          ({ cursor } = await feed(config, ctx, set, cursor));
          const fresh = await fullRead(config, ctx);
          expectSameRecords(set, fresh.set);
        }
        // The rounds covered the interesting changes.
        for (const op of [
          'addUser',
          'updateUser',
          'removeUser',
          'addMember',
          'removeMember',
          'addGroup',
          'removeGroup',
          'updateGroup',
        ])
          expect(seen[op] ?? 0, op).toBeGreaterThan(0);
      } finally {
        await emu.close();
      }
    }, 120_000);
  }
});

describe('okta change feed: cursor, failures, cost', () => {
  let emu: OktaEmulator;
  beforeAll(async () => {
    emu = await emulator({ users: 70, groups: 12, membersPerGroup: 10, seed: 5, rateLimits: LIFTED });
  });
  afterAll(() => emu.close());

  it('an unchanged org costs three requests: one log page, one group page, one user page', async () => {
    const fresh = await emulator({ users: 50, groups: 8, membersPerGroup: 6, seed: 2 });
    try {
      const config = configFor(fresh);
      const ctx = context();
      const full = await fullRead(config, ctx);
      const before = fresh.requestCount();
      const set = full.set;
      const r = await feed(config, ctx, set, full.cursor);
      expect(r.items).toBe(0);
      expect(r.requests).toBeLessThanOrEqual(3);
      expect(fresh.requestCount() - before).toBe(r.requests);
      expect(full.requests).toBeGreaterThan(8);
    } finally {
      await fresh.close();
    }
  });

  it('an object deleted and back within one window is kept: what exists now wins over an older deletion', async () => {
    const fresh = await emulator({ users: 40, groups: 6, membersPerGroup: 8, seed: 9 });
    try {
      const config = configFor(fresh);
      const ctx = context();
      const full = await fullRead(config, ctx);
      const u = fresh.org.users.find((x) => x.status === 'active') as (typeof fresh.org.users)[number];
      const groups = [...fresh.org.members].filter(([, m]) => m.has(u.id)).map(([g]) => g);
      fresh.store.apply({ op: 'removeUser', id: u.id });
      fresh.store.apply({ op: 'addUser', user: { ...u } });
      for (const g of groups) fresh.store.apply({ op: 'addMember', groupId: g, userId: u.id });
      const set = full.set;
      await feed(config, ctx, set, full.cursor);
      expect(set.users.has(u.id)).toBe(true);
      expectSameRecords(set, (await fullRead(config, ctx)).set);
    } finally {
      await fresh.close();
    }
  });

  it('a cursor older than the System Log retention (90 days) is expired', async () => {
    const config = configFor(emu);
    const f = await oktaConnector.openFeed!(config, context(), encodeCursor(Date.now() - 91 * 86_400_000));
    const err = await (async () => {
      try {
        for await (const _ of f.read());
      } catch (e) {
        return e;
      } finally {
        await f.close();
      }
      return null;
    })();
    expect(isDirsyncError(err, 'DIRSYNC_E_CURSOR_EXPIRED')).toBe(true);
  });

  it('an unreadable cursor is expired', async () => {
    await expect(oktaConnector.openFeed!(configFor(emu), context(), 'graph:delta:xyz')).rejects.toMatchObject(
      {
        code: 'DIRSYNC_E_CURSOR_EXPIRED',
      },
    );
  });

  it('a service app without okta.logs.read has no feed', async () => {
    const config = configFor(emu, {
      auth: { type: 'privateKey', clientId: 'x', privateKey: { env: 'DIRSYNC_OKTA_PRIVATE_KEY' } },
    });
    await expect(oktaConnector.openFeed!(config, context(), encodeCursor(Date.now()))).rejects.toMatchObject({
      code: 'DIRSYNC_E_FEED_UNAVAILABLE',
    });
  });

  it('a System Log page failing mid-read throws; the next feed from the same cursor converges', async () => {
    const config = configFor(emu, { feed: { overlapSeconds: 0, logPageSize: 5 } });
    const ctx = context();
    const full = await fullRead(config, ctx);
    await admin(emu, 'POST', 'mutate', { seed: 77, users: 0.1, memberships: 0.1 });
    emu.setFaultRule({ pathPrefix: '/api/v1/logs', withCursor: true, fault: 'error' });
    const set = full.set;
    const copy: RecordSet = {
      users: new Map(set.users),
      groups: new Map(set.groups),
      edges: new Set(set.edges),
      problems: new Map(),
    };
    const err = await feed(config, ctx, copy, full.cursor).catch((e: unknown) => e);
    expect(isDirsyncError(err, 'DIRSYNC_E_IDP_UNAVAILABLE')).toBe(true);
    emu.setFaultRule(null);
    await feed(config, ctx, set, full.cursor);
    expectSameRecords(set, (await fullRead(config, ctx)).set);
  });

  it('re-reading the overlap (the same feed twice, then from an older cursor) changes nothing', async () => {
    const config = configFor(emu, { feed: { overlapSeconds: 0 } });
    const ctx = context();
    const full = await fullRead(config, ctx);
    await admin(emu, 'POST', 'mutate', { seed: 91, users: 0.1, memberships: 0.08, groups: 3 });
    const set = full.set;
    const once = await feed(config, ctx, set, full.cursor);
    expect(once.items).toBeGreaterThan(0);
    const fresh = (await fullRead(config, ctx)).set;
    expectSameRecords(set, fresh);
    await feed(config, ctx, set, full.cursor);
    expectSameRecords(set, fresh);
    await admin(emu, 'POST', 'mutate', { seed: 92, users: 0.1, memberships: 0.08, groups: 2 });
    await feed(config, ctx, set, once.cursor);
    // From the first cursor again: everything since the full read is replayed over the result.
    await feed(config, ctx, set, full.cursor);
    expectSameRecords(set, (await fullRead(config, ctx)).set);
  });

  it('membership changes not yet in the System Log (ingestion delay) are read from the member lists', async () => {
    const config = configFor(emu, { feed: { overlapSeconds: 0 } });
    const ctx = context();
    const full = await fullRead(config, ctx);
    // A logged change to one group, then (over a second later) changes the log does not show yet,
    // to that group too: its last visible event does not explain its lastMembershipUpdated.
    const group = emu.org.groups.find((g) => (emu.org.members.get(g.id)?.size ?? 0) > 0) as { id: string };
    const outsider = emu.org.users.find((u) => !emu.org.members.get(group.id)?.has(u.id)) as { id: string };
    const insider = [...(emu.org.members.get(group.id) ?? [])][0] as string;
    await admin(emu, 'PUT', `groups/${group.id}/members/${outsider.id}`);
    await new Promise((r) => setTimeout(r, 1200));
    await admin(emu, 'PUT', 'log-delay', { ms: 60_000 });
    try {
      await admin(emu, 'DELETE', `groups/${group.id}/members/${insider}`);
      await admin(emu, 'POST', 'mutate', { seed: 93, memberships: 0.1 });
      const set = full.set;
      const r = await feed(config, ctx, set, full.cursor);
      expectSameRecords(set, (await fullRead(config, ctx)).set);
      // Groups whose lastMembershipUpdated moved past their events were re-read whole.
      expect(r.requests).toBeGreaterThan(3);
    } finally {
      await admin(emu, 'PUT', 'log-delay', { ms: 0 });
    }
  });
});
