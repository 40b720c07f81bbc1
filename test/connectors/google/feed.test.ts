/**
 * The Google change feed (Reports API admin audit log + re-reads) against the emulator, through
 * the real SDK: after every round of seeded mutations, the records of the previous read patched
 * with the feed equal a fresh full read (the feed invariant of connectors/types.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../../connectors/google/cursor.js';
import type { GoogleEmulator } from '../../../connectors/google/emulator/index.js';
import { googleConnector } from '../../../connectors/google/index.js';
import { planMutations } from '../../../connectors/emulator-kit/plan.js';
import { prng } from '../../../connectors/emulator-kit/org.js';
import type { Source } from '../../../connectors/types.js';
import { DirsyncError } from '../../../src/errors.js';
import { applyFeed, comparable, expectSameRecords, readAll, type RecordSet } from '../../helpers/feed.js';
import { configFor, context, startGoogle } from './helpers.js';

let emu: GoogleEmulator;

async function fullRead(
  overrides: Record<string, unknown> = {},
  ctx = context(),
): Promise<{ set: RecordSet; cursor: string; source: Source }> {
  const source = await googleConnector.open(configFor(emu, overrides), ctx);
  const set = await readAll(source);
  const cursor = source.cursor?.();
  if (!cursor) throw new Error('no cursor after a full read');
  return { set, cursor, source };
}

async function feed(
  set: RecordSet,
  cursor: string,
  overrides: Record<string, unknown> = {},
  ctx = context(),
) {
  const f = await googleConnector.openFeed!(configFor(emu, overrides), ctx, cursor);
  const r = await applyFeed(set, f);
  return { ...r, stats: f.stats() };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DirsyncError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('google change feed: equivalence over randomized rounds', () => {
  beforeAll(async () => {
    emu = await startGoogle({ users: 80, groups: 12, membersPerGroup: 10, nestingDepth: 3, seed: 31 });
  });
  afterAll(() => emu.close());

  it('full read + feed = fresh full read after each of 24 rounds of mutations', async () => {
    const first = await fullRead();
    const set = first.set;
    let cursor = first.cursor;
    const rnd = prng(99);
    let changed = 0;
    for (let round = 0; round < 24; round++) {
      const plan = planMutations(emu.org, { seed: 1000 + round, users: 0.08, memberships: 0.05, groups: 3 });
      for (const op of plan) emu.store.apply(op);
      // What the neutral plan does not do: extra nesting (a group in two groups), consumer members,
      // and a user deleted and re-created under the same address.
      const groups = emu.org.groups;
      const a = groups[Math.floor(rnd() * groups.length)];
      const b = groups[Math.floor(rnd() * groups.length)];
      if (a && b && a.id !== b.id) {
        if (round % 3 === 2) emu.store.removeSubgroup(a.id, b.id);
        else emu.store.addSubgroup(a.id, b.id);
      }
      if (round % 5 === 0 && a)
        emu.store.addExternalMember(a.id, { type: 'USER', email: `guest${round}@gmail.com` });
      if (round % 4 === 1) {
        const u = emu.org.users[Math.floor(rnd() * emu.org.users.length)];
        if (u) {
          emu.store.removeUser(u.id);
          emu.store.addUser({ ...u, id: `u-again-${round}` });
          if (a) emu.store.addMember(a.id, `u-again-${round}`);
        }
      }
      const before = JSON.stringify(comparable(set));
      const r = await feed(set, cursor);
      cursor = r.cursor;
      const fresh = (await fullRead()).set;
      expectSameRecords(set, fresh);
      if (JSON.stringify(comparable(set)) !== before) changed++;
    }
    // The rounds did change the directory (the equivalence is not trivially about nothing).
    expect(changed).toBeGreaterThanOrEqual(20);
  });

  it('re-reading the same window again (an overlap) changes nothing', async () => {
    const { set, cursor } = await fullRead();
    for (const op of planMutations(emu.org, { seed: 77, users: 0.1, memberships: 0.05, groups: 2 }))
      emu.store.apply(op);
    await feed(set, cursor);
    const once = JSON.stringify(comparable(set));
    await feed(set, cursor); // the same window once more
    expect(JSON.stringify(comparable(set))).toBe(once);
    expectSameRecords(set, (await fullRead()).set);
  });

  it('an unchanged directory costs a few requests and yields nothing', async () => {
    const { set, cursor } = await fullRead({ feedOverlap: '0s' });
    const r = await feed(set, cursor, { feedOverlap: '0s' });
    expect(r.items).toBe(0);
    // token, one audit-log page, one page of deleted users
    expect(r.stats.requests).toBeLessThanOrEqual(4);
  });
});

describe('google change feed: lag, expiry, failures, push-down', () => {
  beforeAll(async () => {
    emu = await startGoogle({ users: 50, groups: 8, membersPerGroup: 8, nestingDepth: 2, seed: 41 });
  });
  afterAll(() => emu.close());
  afterEach(() => {
    emu.clearFailures();
    emu.setReportsLag(0);
  });

  async function lateEvents(overlap: string): Promise<{ set: RecordSet; fresh: RecordSet }> {
    const first = await fullRead({ feedOverlap: overlap });
    await new Promise((r) => setTimeout(r, 20));
    // The events stay invisible until released below, however long the first feed takes (a lag
    // of wall time raced the feed on a busy machine).
    emu.setReportsLag(3_600_000);
    const g = emu.org.groups[0]!;
    const u = emu.org.users.find((x) => !emu.org.members.get(g.id)?.has(x.id))!;
    emu.store.addMember(g.id, u.id);
    emu.store.updateUser(emu.org.users[3]!.id, { givenName: 'Late' });
    // The next feed's window starts where this one's ends (its start time, in milliseconds): a
    // feed opened in the same millisecond as the events would still see them.
    await new Promise((r) => setTimeout(r, 20));
    // The feed runs before the events are visible: it misses them...
    const r1 = await feed(first.set, first.cursor, { feedOverlap: overlap });
    emu.setReportsLag(0);
    // ...and the next one, from its cursor, sees them (stamped with their own, earlier time) only
    // through the overlap.
    await feed(first.set, r1.cursor, { feedOverlap: overlap });
    return { set: first.set, fresh: (await fullRead()).set };
  }

  it('with ingestion lag, the overlap window catches events that became visible late', async () => {
    const { set, fresh } = await lateEvents('30s');
    expectSameRecords(set, fresh);
  });

  it('without an overlap, the same late events are missed', async () => {
    const { set, fresh } = await lateEvents('0s');
    expect(comparable(set)).not.toEqual(comparable(fresh));
  });

  it('a cursor older than deleted users are listed (20 days) is expired; a foreign one is rejected', async () => {
    const old = encodeCursor({ t: Date.now() - 20 * 86_400_000, users: 1, groups: {} });
    expect(await codeOf(googleConnector.openFeed!(configFor(emu), context(), old))).toBe(
      'DIRSYNC_E_CURSOR_EXPIRED',
    );
    expect(await codeOf(googleConnector.openFeed!(configFor(emu), context(), 'okta:123'))).toBe(
      'DIRSYNC_E_CURSOR_EXPIRED',
    );
  });

  it('a page failing mid-read throws and gives no cursor', async () => {
    const { set, cursor } = await fullRead();
    emu.store.updateGroup(emu.org.groups[1]!.id, { name: 'renamed-mid-read' });
    emu.failRequests({ path: /\/admin\/directory\/v1\/groups$/, fault: 'error', status: 500, after: 1 });
    const f = await googleConnector.openFeed!(
      configFor(emu, { maxRetries: 1, pageSize: { groups: 3 } }),
      context(),
      cursor,
    );
    expect(await codeOf(applyFeed(set, f))).toBe('DIRSYNC_E_IDP_UNAVAILABLE');
    expect(() => f.cursor()).toThrow(DirsyncError);
  });

  it('without the Reports scope delegated, the feed fails with an auth error', async () => {
    const other = await startGoogle({
      users: 5,
      groups: 2,
      membersPerGroup: 2,
      nestingDepth: 0,
      seed: 3,
      delegatedScopes: [
        'https://www.googleapis.com/auth/admin.directory.user.readonly',
        'https://www.googleapis.com/auth/admin.directory.group.readonly',
      ],
    });
    try {
      const source = await googleConnector.open(configFor(other), context());
      await readAll(source);
      const f = await googleConnector.openFeed!(configFor(other), context(), source.cursor!()!);
      expect(
        await codeOf(applyFeed(await readAll(await googleConnector.open(configFor(other), context())), f)),
      ).toBe('DIRSYNC_E_IDP_AUTH');
    } finally {
      await other.close();
      for (const [k, v] of Object.entries(emu.env)) process.env[k] = v;
    }
  });

  it('activeOnly push-down: suspended users leave, unsuspended ones come back with their groups', async () => {
    const ctx = () => context({ activeUsersOnly: true });
    const { set, cursor } = await fullRead({}, ctx());
    const member = [...emu.org.members.values()]
      .flatMap((s) => [...s])
      .find((id) => emu.org.users.some((u) => u.id === id && u.status === 'active'))!;
    emu.store.updateUser(member, { status: 'suspended' });
    const r1 = await feed(set, cursor, {}, ctx());
    expectSameRecords(set, (await fullRead({}, ctx())).set);
    expect(set.users.has(member)).toBe(false);
    emu.store.updateUser(member, { status: 'active' });
    await feed(set, r1.cursor, {}, ctx());
    expectSameRecords(set, (await fullRead({}, ctx())).set);
    expect([...set.edges].some((e) => e.endsWith(`>u:${member}`))).toBe(true);
  });

  it('a pushed-down group include filter has no feed (full reads)', async () => {
    const ctx = context({ groupFilter: { include: [{ glob: 'eng*' }], exclude: [] } });
    const source = await googleConnector.open(configFor(emu), ctx);
    await readAll(source);
    expect(source.cursor?.()).toBeNull();
    const { cursor } = await fullRead();
    expect(await codeOf(googleConnector.openFeed!(configFor(emu), ctx, cursor))).toBe(
      'DIRSYNC_E_FEED_UNAVAILABLE',
    );
  });
});
