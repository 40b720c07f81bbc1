/**
 * The Entra ID change feed, through the real SDK against the emulator: after each round of seeded
 * mutations (emulator admin API, over HTTPS), the previous records patched with the feed equal a
 * fresh full read. Plus expiry, a failing page, an unchanged feed, and a full read through delta.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { graphConnector, type GraphConfig } from '../../../connectors/graph/index.js';
import { initialCursor } from '../../../connectors/graph/feed.js';
import type { GraphEmulator } from '../../../connectors/graph/emulator/index.js';
import type { ConnectorContext } from '../../../connectors/types.js';
import { DirsyncError } from '../../../src/errors.js';
import { applyFeed, emptyRecordSet, expectSameRecords, readAll, type RecordSet } from '../../helpers/feed.js';
import { configFor, emulator, silent } from './helpers.js';

type Json = Record<string, unknown>;

function ctxOf(extra: Partial<ConnectorContext> = {}): ConnectorContext {
  return { logger: silent, signal: new AbortController().signal, progress: () => {}, ...extra };
}

describe('graph change feed', () => {
  let emu: GraphEmulator;
  let dispatcher: Agent;
  let config: GraphConfig;

  async function admin(method: string, path: string, body?: unknown): Promise<Json> {
    const res = await request(`${emu.url}/__emulator/${path}`, {
      dispatcher,
      method: method as 'POST',
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    expect(res.statusCode, text).toBeLessThan(300);
    return (text ? JSON.parse(text) : {}) as Json;
  }

  async function fullRead(ctx = ctxOf()): Promise<{ set: RecordSet; cursor: string }> {
    const source = await graphConnector.open(config, ctx);
    const set = await readAll(source);
    const cursor = source.cursor?.();
    expect(typeof cursor).toBe('string');
    return { set, cursor: cursor as string };
  }

  beforeAll(async () => {
    emu = await emulator({ users: 80, groups: 14, membersPerGroup: 8, nestingDepth: 3, seed: 11 });
    dispatcher = new Agent({ connect: { ca: readFileSync(emu.caFile, 'utf8') } });
    config = configFor(emu, { maxRetries: 1 });
  });

  afterEach(() => emu.clearFaultRules());

  afterAll(async () => {
    await dispatcher.close();
    await emu.close();
  });

  /** Graph-only changes a plan cannot draw: a second parent for a group, and taking it away. */
  async function nestedMoves(round: number): Promise<void> {
    const groups = emu.org.groups;
    const parent = groups[(round * 3) % groups.length]!;
    const child = groups[(round * 5 + 1) % groups.length]!;
    if (parent.id === child.id) return;
    if (round % 2 === 0) await admin('POST', `groups/${parent.id}/members`, { groupId: child.id });
    else {
      const nested = [...emu.store.extraNesting.entries()].find(([, kids]) => kids.size > 0);
      if (nested) await admin('DELETE', `groups/${nested[0]}/members/${[...nested[1]][0]!}`);
    }
  }

  it('full read + feed equals a fresh full read after each of 24 mutation rounds', async () => {
    let { set, cursor } = await fullRead();
    const ops: Record<string, number> = {};
    for (let round = 1; round <= 24; round++) {
      const r = await admin('POST', 'mutate', { seed: round, users: 0.12, memberships: 0.06, groups: 2 });
      for (const [op, n] of Object.entries(r.ops as Record<string, number>)) ops[op] = (ops[op] ?? 0) + n;
      await nestedMoves(round);
      const feed = await graphConnector.openFeed!(config, ctxOf(), cursor);
      cursor = (await applyFeed(set, feed)).cursor;
      const fresh = (await fullRead()).set;
      expectSameRecords(set, fresh);
      set = fresh;
    }
    // The rounds covered every kind of change the plans draw.
    for (const op of [
      'addUser',
      'updateUser',
      'removeUser',
      'addGroup',
      'updateGroup',
      'removeGroup',
      'setParent',
      'addMember',
      'removeMember',
    ]) {
      expect(ops[op] ?? 0, op).toBeGreaterThan(0);
    }
  }, 300_000);

  it('with activeUsersOnly reads and continues every user (no push-down); an older enabled-only cursor is expired', async () => {
    const ctx = ctxOf({ activeUsersOnly: true });
    let { set, cursor } = await fullRead(ctx);
    for (let round = 101; round <= 106; round++) {
      await admin('POST', 'mutate', { seed: round, users: 0.15, memberships: 0.05, groups: 1 });
      const feed = await graphConnector.openFeed!(config, ctx, cursor);
      cursor = (await applyFeed(set, feed)).cursor;
      const fresh = (await fullRead(ctx)).set;
      expectSameRecords(set, fresh);
      set = fresh;
    }
    // Disabled users are read too (the pipeline's filter leaves them out).
    expect([...set.users.values()].some((u) => u.active === false)).toBe(true);
    // A cursor saved when the read listed enabled users only cannot be continued: its mirror lacks
    // the users Graph's filter left out (a null accountEnabled among them).
    const links = JSON.parse(
      Buffer.from(cursor.slice('graph-delta:'.length), 'base64url').toString(),
    ) as object;
    const old = `graph-delta:${Buffer.from(JSON.stringify({ ...links, activeOnly: true })).toString('base64url')}`;
    await expect(graphConnector.openFeed!(config, ctx, old)).rejects.toMatchObject({
      code: 'DIRSYNC_E_CURSOR_EXPIRED',
    });
  }, 120_000);

  it('a pushed-down group include filter gives no cursor, and the feed refuses it', async () => {
    const ctx = ctxOf({ groupFilter: { include: [{ name: emu.org.groups[0]!.name }], exclude: [] } });
    const source = await graphConnector.open(config, ctx);
    await readAll(source);
    expect(source.cursor?.()).toBeNull();
    const { cursor } = await fullRead();
    await expect(graphConnector.openFeed!(config, ctx, cursor)).rejects.toMatchObject({
      code: 'DIRSYNC_E_FEED_UNAVAILABLE',
    });
  });

  it('an unchanged tenant costs two requests and yields nothing', async () => {
    const { cursor } = await fullRead();
    const feed = await graphConnector.openFeed!(config, ctxOf(), cursor);
    const set = emptyRecordSet();
    const r = await applyFeed(set, feed);
    expect(r.items).toBe(0);
    expect(feed.stats().requests).toBe(2);
    expect(r.cursor).not.toBe(cursor);
  });

  it('an expired delta token throws DIRSYNC_E_CURSOR_EXPIRED', async () => {
    const { set, cursor } = await fullRead();
    await admin('POST', 'expire-delta-tokens');
    const feed = await graphConnector.openFeed!(config, ctxOf(), cursor);
    const err = await applyFeed(set, feed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DirsyncError);
    expect((err as DirsyncError).code).toBe('DIRSYNC_E_CURSOR_EXPIRED');
  });

  it('rejects an unreadable cursor or one for another endpoint as expired', async () => {
    await expect(graphConnector.openFeed!(config, ctxOf(), 'nonsense')).rejects.toMatchObject({
      code: 'DIRSYNC_E_CURSOR_EXPIRED',
    });
    const foreign =
      'graph-delta:' +
      Buffer.from(
        JSON.stringify({
          v: 1,
          users: 'https://evil.example/v1.0/users/delta',
          groups: '/groups/delta',
          activeOnly: false,
        }),
      ).toString('base64url');
    await expect(graphConnector.openFeed!(config, ctxOf(), foreign)).rejects.toMatchObject({
      code: 'DIRSYNC_E_CURSOR_EXPIRED',
    });
  });

  it('a page failing mid-feed throws; the feed never ends early', async () => {
    const { set, cursor } = await fullRead();
    await admin('POST', 'mutate', { seed: 900, users: 0.1, memberships: 0.1 });
    emu.addFaultRule({ match: /\/groups\/delta/, fault: 'error', status: 500 });
    const feed = await graphConnector.openFeed!(config, ctxOf(), cursor);
    const seen: string[] = [];
    const err = await (async () => {
      for await (const item of feed.read()) seen.push(item.kind);
    })().catch((e: unknown) => e);
    await feed.close();
    expect(seen.length).toBeGreaterThan(0); // the user round was read
    expect((err as DirsyncError).code).toBe('DIRSYNC_E_IDP_UNAVAILABLE');
    expect(() => feed.cursor()).toThrow(DirsyncError);
    // The same cursor still works once the fault clears.
    emu.clearFaultRules();
    await applyFeed(set, await graphConnector.openFeed!(config, ctxOf(), cursor));
    expectSameRecords(set, (await fullRead()).set);
  });

  it('a full read through delta (initial round) equals a full read, big groups split over pages', async () => {
    // One group with 250 members: its member list arrives over three appearances.
    const g = emu.org.groups[0]!;
    for (const u of emu.org.users.slice(0, 250))
      emu.store.apply({ op: 'addMember', groupId: g.id, userId: u.id });
    const viaDelta = emptyRecordSet();
    const feed = await graphConnector.openFeed!(config, ctxOf(), initialCursor(ctxOf()));
    await applyFeed(viaDelta, feed);
    expect(feed.stats().skipped).toBeGreaterThan(0); // devices and service principals
    expectSameRecords(viaDelta, (await fullRead()).set);
  });
});
