/**
 * The Keycloak change feed (admin events) through the real admin client against the emulator: after
 * every round of mutations made through the emulator's one mutation path (which records admin
 * events as Keycloak does), the previous records patched with the feed equal a fresh full read.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type KeycloakEmulator } from '../../../connectors/keycloak/emulator/index.js';
import { keycloakConnector, type KeycloakConfig } from '../../../connectors/keycloak/index.js';
import type { ConnectorContext } from '../../../connectors/types.js';
import { DirsyncError } from '../../../src/errors.js';
import { applyFeed, expectSameRecords, readAll, type RecordSet } from '../../helpers/feed.js';
import { configFor, silent } from './helpers.js';

const shape = { users: 300, groups: 40, membersPerGroup: 15, nestingDepth: 3, seed: 11 };

function ctxOf(extra: Partial<ConnectorContext> = {}): ConnectorContext {
  return { logger: silent, signal: new AbortController().signal, progress: () => {}, ...extra };
}

async function full(
  config: KeycloakConfig,
  ctx: ConnectorContext,
): Promise<{ set: RecordSet; cursor: string }> {
  const source = await keycloakConnector.open(config, ctx);
  const set = await readAll(source);
  const cursor = source.cursor?.();
  expect(typeof cursor).toBe('string');
  return { set, cursor: cursor as string };
}

async function feed(config: KeycloakConfig, ctx: ConnectorContext, set: RecordSet, cursor: string) {
  return applyFeed(set, await keycloakConnector.openFeed!(config, ctx, cursor));
}

async function rejection(p: Promise<unknown>): Promise<DirsyncError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(DirsyncError);
  return e as DirsyncError;
}

/** Randomized rounds: each mutates the realm, reads the feed, and compares with a full read. */
async function rounds(
  emu: KeycloakEmulator,
  config: KeycloakConfig,
  ctx: ConnectorContext,
  n: number,
  seed0: number,
): Promise<{ items: number; skipped: number }> {
  const first = await full(config, ctx);
  const set = first.set;
  let cursor = first.cursor;
  let items = 0;
  let skipped = 0;
  for (let r = 0; r < n; r++) {
    const res = emu.mutate({ seed: seed0 + r, users: 0.03, memberships: 0.02, groups: 3 });
    skipped += res.skipped.length;
    const out = await feed(config, ctx, set, cursor);
    items += out.items;
    cursor = out.cursor;
    const fresh = await full(config, ctx);
    expectSameRecords(set, fresh.set);
    // Problems must agree too (an unmappable record stays held in both).
    expect([...set.problems.keys()].sort()).toEqual([...fresh.set.problems.keys()].sort());
  }
  return { items, skipped };
}

describe('keycloak feed: randomized rounds equal a full read', () => {
  let emu: KeycloakEmulator;
  beforeAll(async () => {
    emu = await startEmulator(shape);
  });
  afterAll(() => emu.close());

  it('24 rounds of creates, renames, disables, deletions, re-creations, moves and group changes', async () => {
    const groupsBefore = emu.org.groups.length;
    const { items } = await rounds(emu, configFor(emu), ctxOf(), 24, 100);
    expect(items).toBeGreaterThan(100);
    // The plans did delete and create groups (so the cascade and creations were exercised).
    expect(emu.org.groups.length).not.toBe(groupsBefore);
  }, 120_000);

  it('with only active users read (push-down), disabled users leave and come back as a full read has them', async () => {
    await rounds(emu, configFor(emu), ctxOf({ activeUsersOnly: true }), 6, 500);
  }, 60_000);

  it('without representations in the events (subgroup moves then walk the tree)', async () => {
    emu.setAdminEvents({ details: false });
    try {
      await rounds(emu, configFor(emu), ctxOf(), 5, 900);
    } finally {
      emu.setAdminEvents({ details: true });
    }
  }, 60_000);
});

describe('keycloak feed: named cases', () => {
  let emu: KeycloakEmulator;
  let config: KeycloakConfig;
  beforeAll(async () => {
    emu = await startEmulator({ ...shape, seed: 12 });
    config = configFor(emu);
  });
  afterEach(() => emu.failRequests(null));
  afterAll(() => emu.close());

  it('deleting a group deletes its subgroups (one event), and the feed removes them all', async () => {
    const parent = emu.org.groups.find(
      (g) => g.parentId === null && emu.org.groups.some((c) => c.parentId === g.id),
    )!;
    const child = emu.org.groups.find((c) => c.parentId === parent.id)!;
    const { set, cursor } = await full(config, ctxOf());
    expect(set.groups.has(child.id)).toBe(true);
    const before = emu.adminEvents.size;
    emu.mutations.removeGroup(parent.id);
    expect(emu.adminEvents.size).toBe(before + 1);
    expect(emu.org.groups.some((g) => g.id === child.id)).toBe(false);
    await feed(config, ctxOf(), set, cursor);
    expect(set.groups.has(parent.id)).toBe(false);
    expect(set.groups.has(child.id)).toBe(false);
    expectSameRecords(set, (await full(config, ctxOf())).set);
  });

  it('a group moved under a group deleted later in the window takes its own subgroups with it', async () => {
    // The tree the cursor knows has the mover elsewhere: only its deletion (found by reading it)
    // tells that what is below it is gone too.
    const mover = emu.org.groups.find((g) => emu.org.groups.some((c) => c.parentId === g.id))!;
    const below = emu.org.groups.filter((c) => c.parentId === mover.id);
    const doomed = emu.org.groups.find(
      (g) => g.parentId === null && g.id !== mover.id && g.id !== mover.parentId,
    )!;
    const { set, cursor } = await full(config, ctxOf());
    emu.mutations.moveGroup(mover.id, doomed.id);
    emu.mutations.removeGroup(doomed.id);
    expect(emu.org.groups.some((g) => below.some((b) => b.id === g.id))).toBe(false);
    await feed(config, ctxOf(), set, cursor);
    expect(set.groups.has(mover.id)).toBe(false);
    for (const b of below) expect(set.groups.has(b.id), b.name).toBe(false);
    expectSameRecords(set, (await full(config, ctxOf())).set);
  });

  it('a subgroup move, a parent rename (descendant paths), a disable, a re-created username and a membership move', async () => {
    const { set, cursor } = await full(config, ctxOf());
    const mover = emu.org.groups.find((g) => g.parentId !== null)!;
    const target = emu.org.groups.find((g) => g.parentId === null && g.id !== mover.parentId)!;
    emu.mutations.moveGroup(mover.id, target.id);
    emu.mutations.updateGroup(target.id, { name: `${target.name}-renamed` });
    const [u1, u2] = emu.org.users.filter((u) => u.status === 'active');
    emu.mutations.updateUser(u1!.id, { status: 'suspended' });
    emu.mutations.removeUser(u2!.id);
    emu.mutations.addUser({ ...u2!, id: 'aaaaaaaa-0000-4000-8000-000000000001' });
    const [from, members] = [...emu.org.members].find(([, m]) => m.size > 0)!;
    const uid = [...members][0]!;
    const to = emu.org.groups.find((g) => g.id !== from && !emu.org.members.get(g.id)?.has(uid))!;
    emu.mutations.removeMember(from, uid);
    emu.mutations.addMember(to.id, uid);
    await feed(config, ctxOf(), set, cursor);
    expect(set.groups.get(mover.id)?.attributes.path).toBe(`/${target.name}/${mover.name}`);
    expect(set.users.get(u1!.id)?.active).toBe(false);
    expect(set.users.has(u2!.id)).toBe(false);
    expect(set.users.get('aaaaaaaa-0000-4000-8000-000000000001')?.username).toBe(u2!.login.toLowerCase());
    expect(set.edges.has(`${to.id}>u:${uid}`)).toBe(true);
    expect(set.edges.has(`${from}>u:${uid}`)).toBe(false);
    expectSameRecords(set, (await full(config, ctxOf())).set);
  });

  it('an unchanged feed takes a few requests and yields nothing', async () => {
    // The default 2 min overlap would re-read (harmlessly) the earlier tests' changes; here the
    // overlap is cut so that "nothing changed" is exactly what the feed sees.
    const config = configFor(emu, { feedOverlap: '0ms' });
    const { cursor } = await full(config, ctxOf());
    const before = emu.requestCount();
    const f = await keycloakConnector.openFeed!(config, ctxOf(), cursor);
    const set = { users: new Map(), groups: new Map(), edges: new Set<string>(), problems: new Map() };
    const out = await applyFeed(set, f);
    expect(set.users.size + set.groups.size).toBe(0);
    expect(emu.requestCount() - before).toBeLessThanOrEqual(4);
    // And its cursor continues: a second unchanged feed is just as cheap.
    const before2 = emu.requestCount();
    await applyFeed(set, await keycloakConnector.openFeed!(config, ctxOf(), out.cursor));
    expect(emu.requestCount() - before2).toBeLessThanOrEqual(4);
  });

  it('admin events disabled on the realm: FEED_UNAVAILABLE telling the admin what to enable', async () => {
    const { cursor } = await full(config, ctxOf());
    emu.setAdminEvents({ enabled: false });
    try {
      const e = await rejection(keycloakConnector.openFeed!(config, ctxOf(), cursor));
      expect(e.code).toBe('DIRSYNC_E_FEED_UNAVAILABLE');
      expect(e.message).toMatch(/admin events are disabled.*enable them/);
    } finally {
      emu.setAdminEvents({ enabled: true });
    }
  });

  it('admin events switched off and on again since the cursor: CURSOR_EXPIRED (events may be missing)', async () => {
    const { cursor } = await full(config, ctxOf());
    emu.setAdminEvents({ enabled: false });
    emu.mutations.updateUser(emu.org.users[0]!.id, { title: 'unseen' });
    emu.setAdminEvents({ enabled: true });
    const f = await keycloakConnector.openFeed!(config, ctxOf(), cursor);
    const e = await rejection(
      applyFeed({ users: new Map(), groups: new Map(), edges: new Set(), problems: new Map() }, f),
    );
    expect(e.code).toBe('DIRSYNC_E_CURSOR_EXPIRED');
  });

  it('a cursor older than the realm retention: CURSOR_EXPIRED; within it the feed opens', async () => {
    emu.setAdminEvents({ expirationSec: 3600 });
    const { cursor } = await full(config, ctxOf());
    const ok = await keycloakConnector.openFeed!(config, ctxOf(), cursor);
    await ok.close();
    try {
      emu.setAdminEvents({ expirationSec: 30 }); // shorter than the 2 min overlap
      const e = await rejection(keycloakConnector.openFeed!(config, ctxOf(), cursor));
      expect(e.code).toBe('DIRSYNC_E_CURSOR_EXPIRED');
      expect(e.message).toMatch(/retention/);
    } finally {
      emu.setAdminEvents({ expirationSec: undefined as never });
      delete emu.adminEvents.settings.expirationSec;
    }
  });

  it('a cursor of another realm or a garbled one is rejected as expired', async () => {
    for (const bad of ['nonsense', 'kc1.AAAA', 'kc1.' + Buffer.from('x').toString('base64url')]) {
      const e = await rejection(keycloakConnector.openFeed!(config, ctxOf(), bad));
      expect(e.code).toBe('DIRSYNC_E_CURSOR_EXPIRED');
    }
  });

  it('an events page failing mid-read throws (never ends early), and the cursor is not given', async () => {
    const { set, cursor } = await full(config, ctxOf());
    // More than one page (1000) of events.
    const uid = emu.org.users[0]!.id;
    const gid = emu.org.groups.find((g) => !emu.org.members.get(g.id)?.has(uid))!.id;
    for (let i = 0; i < 600; i++) {
      emu.mutations.addMember(gid, uid);
      emu.mutations.removeMember(gid, uid);
    }
    emu.failRequests({ match: /admin-events.*first=1000/, mode: 'error', status: 500 });
    const f = await keycloakConnector.openFeed!(config, ctxOf(), cursor);
    const e = await rejection(applyFeed(set, f));
    expect(e.code).toBe('DIRSYNC_E_IDP_UNAVAILABLE');
    expect(() => f.cursor()).toThrow();
    emu.failRequests(null);
    // A truncated page is refused too.
    emu.failRequests({ match: /admin-events.*first=1000/, mode: 'truncate' });
    const f2 = await keycloakConnector.openFeed!(config, ctxOf(), cursor);
    expect((await rejection(applyFeed(set, f2))).code).toBe('DIRSYNC_E_IDP_BAD_RESPONSE');
  });

  it('a user re-read failing mid-feed throws', async () => {
    const { set, cursor } = await full(config, ctxOf());
    emu.mutations.updateUser(emu.org.users[5]!.id, { title: 'x' });
    // Single reads (`users/{id}`) and listings (`users/?first=`, used when many users changed).
    emu.failRequests({ match: /\/users(\/[0-9a-f-]{36})?\/?(\?|$)/, mode: 'error', status: 500 });
    const f = await keycloakConnector.openFeed!(config, ctxOf(), cursor);
    expect((await rejection(applyFeed(set, f))).code).toBe('DIRSYNC_E_IDP_UNAVAILABLE');
  });

  it('a group filter pushed down: FEED_UNAVAILABLE, and the full read gives no cursor', async () => {
    const ctx = ctxOf({ groupFilter: { include: [{ glob: 'a*' }], exclude: [] } });
    const source = await keycloakConnector.open(config, ctx);
    await readAll(source);
    expect(source.cursor?.()).toBeNull();
    const { cursor } = await full(config, ctxOf());
    expect((await rejection(keycloakConnector.openFeed!(config, ctx, cursor))).code).toBe(
      'DIRSYNC_E_FEED_UNAVAILABLE',
    );
  });
});
