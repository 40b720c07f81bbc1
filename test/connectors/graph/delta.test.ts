/**
 * The emulator's delta rounds on the wire, without the connector: a round since a token, applied
 * to what the consumer had at that token, gives what a fresh initial round gives; replaying a
 * token does too; only selected properties (and, with `members`, the member list) bring an object
 * back; members@delta carries net member changes; tokens expire and are refused as Graph does.
 * Every change goes through the store (admin API or `store.apply`), as the change log requires.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { graphId, startEmulator, type GraphEmulator } from '../../../connectors/graph/emulator/index.js';
import { requestToken } from './helpers.js';

type Json = Record<string, unknown>;

/** What a consumer keeps from delta rounds: objects by id, and member keys per group. */
interface Model {
  objects: Map<string, Json>;
  members: Map<string, Set<string>>;
}

const USERS = '/v1.0/users/delta?$select=displayName,accountEnabled,userPrincipalName,jobTitle';
const GROUPS = '/v1.0/groups/delta?$select=displayName,description,members';

function emptyModel(): Model {
  return { objects: new Map(), members: new Map() };
}

function cloneModel(m: Model): Model {
  return {
    objects: new Map(m.objects),
    members: new Map([...m.members].map(([k, v]) => [k, new Set(v)])),
  };
}

/** Applies a round's items in order, as Graph asks a consumer to (each item on its own). */
function applyRound(m: Model, items: Json[]): void {
  for (const item of items) {
    const id = item.id as string;
    if (item['@removed']) {
      m.objects.delete(id);
      m.members.delete(id);
      continue;
    }
    const { 'members@delta': delta, ...props } = item;
    m.objects.set(id, props);
    if (!Array.isArray(delta)) continue;
    let set = m.members.get(id);
    if (!set) m.members.set(id, (set = new Set()));
    for (const r of delta as Json[]) {
      const key = `${String(r['@odata.type'])}|${String(r.id)}`;
      if (r['@removed']) set.delete(key);
      else set.add(key);
    }
  }
}

function normalize(m: Model) {
  return {
    objects: [...m.objects].sort(([a], [b]) => a.localeCompare(b)),
    members: [...m.members]
      .filter(([, s]) => s.size > 0)
      .map(([k, s]) => [k, [...s].sort()] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  };
}

describe('graph emulator delta rounds', () => {
  let emu: GraphEmulator;
  let dispatcher: Agent;
  let token: string;

  async function call(path: string, headers: Record<string, string> = {}) {
    const res = await request(path.startsWith('https://') ? path : `${emu.url}${path}`, {
      dispatcher,
      headers: { authorization: `Bearer ${token}`, ...headers },
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: (text ? JSON.parse(text) : null) as Json };
  }

  /** Follows a round's nextLinks; returns its items, pages and final deltaLink. */
  async function drain(link: string, pageSize = 50): Promise<{ items: Json[]; pages: number; next: string }> {
    const items: Json[] = [];
    let pages = 0;
    for (let url: string | undefined = link; ;) {
      const r = await call(url, { prefer: `odata.maxpagesize=${pageSize}` });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      pages++;
      items.push(...(r.body.value as Json[]));
      url = r.body['@odata.nextLink'] as string | undefined;
      if (url === undefined) {
        const next = r.body['@odata.deltaLink'];
        expect(typeof next).toBe('string');
        return { items, pages, next: next as string };
      }
      expect(r.body['@odata.deltaLink']).toBeUndefined();
    }
  }

  /** What a fresh initial round gives now. */
  async function fresh(link: string): Promise<Model> {
    const m = emptyModel();
    applyRound(m, (await drain(link)).items);
    return m;
  }

  async function admin(method: 'POST' | 'DELETE' | 'PATCH', path: string, body?: unknown) {
    const res = await request(`${emu.url}/__emulator/${path}`, {
      dispatcher,
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    expect(res.statusCode, text).toBeLessThan(300);
    return (text ? JSON.parse(text) : {}) as Json;
  }

  beforeAll(async () => {
    emu = await startEmulator({ users: 90, groups: 14, membersPerGroup: 9, nestingDepth: 3, seed: 23 });
    dispatcher = new Agent({ connect: { ca: readFileSync(emu.caFile, 'utf8') } });
    const t = await requestToken(emu, dispatcher);
    token = t.body.access_token as string;
  });

  afterAll(async () => {
    await dispatcher?.close();
    await emu?.close();
  });

  it('a round since a token gives the current state; so does replaying the token later', async () => {
    for (const link of [USERS, GROUPS]) {
      const first = await drain(link);
      const atFirst = emptyModel();
      applyRound(atFirst, first.items);
      expect(normalize(atFirst)).toEqual(normalize(await fresh(link)));

      await admin('POST', 'mutate', { seed: 5, users: 0.2, memberships: 0.1, groups: 3 });
      const [parent, child] = [emu.org.groups[2]!.id, emu.org.groups[7]!.id];
      const overridden = emu.org.users[3]!.id;
      await admin('POST', `groups/${parent}/members`, { groupId: child });
      emu.setOverride(overridden, { displayName: 'Overridden' });
      const second = await drain(first.next);
      const atSecond = cloneModel(atFirst);
      applyRound(atSecond, second.items);
      expect(normalize(atSecond)).toEqual(normalize(await fresh(link)));
      expect(second.items.length).toBeGreaterThan(0);

      await admin('DELETE', `groups/${parent}/members/${child}`);
      emu.setOverride(overridden, null);
      await admin('POST', 'mutate', { seed: 6, users: 0.2, memberships: 0.1, groups: 3 });
      // The first token again: every change since it, against the current state.
      const replay = await drain(first.next);
      const replayed = cloneModel(atFirst);
      applyRound(replayed, replay.items);
      const now = normalize(await fresh(link));
      expect(normalize(replayed)).toEqual(now);
      // And the second token, applied to what the second round left.
      applyRound(atSecond, (await drain(second.next)).items);
      expect(normalize(atSecond)).toEqual(now);
    }
  });

  it('an unchanged round is empty and ends in a new token that still works', async () => {
    const { next } = await drain(GROUPS);
    const r = await call(next);
    expect(r.body.value).toEqual([]);
    const again = r.body['@odata.deltaLink'] as string;
    expect(again).not.toBe(next);
    const u = emu.org.groups[4]!;
    emu.store.apply({ op: 'updateGroup', id: u.id, patch: { description: 'after the empty round' } });
    const after = await drain(again);
    expect(after.items.map((i) => [i.id, i.description])).toEqual([[graphId(u.id), 'after the empty round']]);
  });

  it('only changes to selected properties bring an object back', async () => {
    const { next } = await drain('/v1.0/users/delta?$select=displayName');
    const user = emu.org.users.find((u) => u.status === 'active')!;
    emu.store.apply({
      op: 'updateUser',
      id: user.id,
      patch: { department: 'Unselected', title: 'Unselected' },
    });
    const quiet = await drain(next);
    expect(quiet.items).toEqual([]);
    emu.store.apply({ op: 'updateUser', id: user.id, patch: { displayName: 'Selected Change' } });
    const loud = await drain(quiet.next);
    expect(loud.items).toEqual([{ id: graphId(user.id), displayName: 'Selected Change' }]);

    // Without members selected, a membership change is not a change of the group.
    const groups = await drain('/v1.0/groups/delta?$select=displayName');
    const g = emu.org.groups[1]!;
    const outsider = emu.org.users.find(
      (u) => u.status === 'active' && !emu.org.members.get(g.id)?.has(u.id),
    )!;
    emu.store.apply({ op: 'addMember', groupId: g.id, userId: outsider.id });
    expect((await drain(groups.next)).items).toEqual([]);
  });

  it('members@delta carries net member changes; an object changed and changed back comes again', async () => {
    const g = emu.org.groups[3]!;
    const [stays, comes, goes] = emu.org.users.filter(
      (u) => u.status === 'active' && !emu.org.members.get(g.id)?.has(u.id),
    );
    const members = emu.org.members.get(g.id)!;
    const member = emu.org.users.find((u) => u.status === 'active' && members.has(u.id))!;
    const { next } = await drain(GROUPS);
    // Added and removed again, removed and added again: no net change, nothing to report.
    emu.store.apply({ op: 'addMember', groupId: g.id, userId: goes!.id });
    emu.store.apply({ op: 'removeMember', groupId: g.id, userId: goes!.id });
    emu.store.apply({ op: 'removeMember', groupId: g.id, userId: member.id });
    emu.store.apply({ op: 'addMember', groupId: g.id, userId: member.id });
    expect((await drain(next)).items).toEqual([]);

    emu.store.apply({ op: 'addMember', groupId: g.id, userId: stays!.id });
    emu.store.apply({ op: 'addMember', groupId: g.id, userId: comes!.id });
    emu.store.apply({ op: 'removeMember', groupId: g.id, userId: member.id });
    const r = await drain(next);
    expect(r.items).toHaveLength(1);
    expect(r.items[0]?.id).toBe(graphId(g.id));
    expect(r.items[0]?.displayName).toBe(g.name);
    expect(r.items[0]?.['members@delta']).toEqual([
      { '@odata.type': '#microsoft.graph.user', id: graphId(stays!.id) },
      { '@odata.type': '#microsoft.graph.user', id: graphId(comes!.id) },
      { '@odata.type': '#microsoft.graph.user', id: graphId(member.id), '@removed': { reason: 'deleted' } },
    ]);

    // A rename and its undoing are a change (Graph's log has it), reported as the group is now.
    const name = g.name;
    emu.store.apply({ op: 'updateGroup', id: g.id, patch: { name: `${name}-tmp` } });
    emu.store.apply({ op: 'updateGroup', id: g.id, patch: { name } });
    expect((await drain(r.next)).items).toEqual([
      { id: graphId(g.id), displayName: name, description: g.description === '' ? null : g.description },
    ]);
  });

  it('off-boarding a user removes it and its memberships; a restore brings both back', async () => {
    const g = emu.org.groups[5]!;
    const user = emu.org.users.find((u) => u.status === 'active' && emu.org.members.get(g.id)?.has(u.id))!;
    const users = await drain(USERS);
    const groups = await drain(GROUPS);
    emu.store.apply({ op: 'updateUser', id: user.id, patch: { status: 'deprovisioned' } });
    const gone = await drain(users.next);
    expect(gone.items).toEqual([{ id: graphId(user.id), '@removed': { reason: 'changed' } }]);
    const left = await drain(groups.next);
    const ref = { '@odata.type': '#microsoft.graph.user', id: graphId(user.id) };
    expect(left.items.find((i) => i.id === graphId(g.id))?.['members@delta']).toEqual([
      { ...ref, '@removed': { reason: 'deleted' } },
    ]);

    emu.store.apply({ op: 'updateUser', id: user.id, patch: { status: 'active' } });
    const back = await drain(gone.next);
    expect(back.items.map((i) => i.id)).toEqual([graphId(user.id)]);
    expect(back.items[0]?.accountEnabled).toBe(true);
    const rejoined = await drain(left.next);
    expect(rejoined.items.find((i) => i.id === graphId(g.id))?.['members@delta']).toEqual([ref]);
  });

  it('a group removed mid-tree: @removed, and its parent gets its children and loses it', async () => {
    const group = (id: string, parentId: string | null) =>
      emu.store.apply({
        op: 'addGroup',
        group: { id, name: id, description: '', parentId, created: '2024-01-01T00:00:00Z' },
      });
    group('g-top', null);
    const mid = group('g-mid', 'g-top');
    const kids = [group('g-kid1', 'g-mid'), group('g-kid2', 'g-mid')];
    const parent = 'g-top';
    const { next } = await drain(GROUPS);
    await admin('DELETE', `groups/${mid!.id}`);
    const r = await drain(next);
    expect(r.items).toContainEqual({ id: graphId(mid!.id), '@removed': { reason: 'changed' } });
    const p = r.items.find((i) => i.id === graphId(parent));
    const delta = p?.['members@delta'] as Json[];
    expect(delta).toContainEqual({
      '@odata.type': '#microsoft.graph.group',
      id: graphId(mid!.id),
      '@removed': { reason: 'deleted' },
    });
    for (const k of kids) {
      expect(delta).toContainEqual({ '@odata.type': '#microsoft.graph.group', id: graphId(k!.id) });
    }
    expect(delta).toHaveLength(3);
  });

  it('a big member change is split over appearances of the group and pages', async () => {
    const g = emu.org.groups[6]!;
    const model = emu.org.users[0]!;
    for (let i = 0; i < 120; i++) {
      emu.store.apply({
        op: 'addUser',
        user: { ...model, id: `u-big-${i}`, login: `big.${i}`, status: 'active' },
      });
    }
    const { next } = await drain(GROUPS);
    const outside = emu.org.users.filter(
      (u) => u.status !== 'deprovisioned' && !emu.org.members.get(g.id)?.has(u.id),
    );
    for (const u of outside) emu.store.apply({ op: 'addMember', groupId: g.id, userId: u.id });
    const r = await drain(next, 1);
    const appearances = r.items.filter((i) => i.id === graphId(g.id));
    expect(r.pages).toBe(appearances.length);
    const sizes: number[] = [];
    for (let i = 0; i < outside.length; i += 100) sizes.push(Math.min(100, outside.length - i));
    expect(sizes.length).toBeGreaterThan(1);
    expect(appearances.map((a) => (a['members@delta'] as Json[]).length)).toEqual(sizes);
    const ids = appearances.flatMap((a) => (a['members@delta'] as Json[]).map((m) => m.id));
    expect(new Set(ids)).toEqual(new Set(outside.map((u) => graphId(u.id))));
  });

  it('tokens: never issued or tampered → syncStateNotFound; expired → resyncRequired; latest starts from now', async () => {
    const never = await call('/v1.0/users/delta?$deltatoken=bm90LWEtdG9rZW4tYXQtYWxsLXJlYWxseQ');
    expect(never.status).toBe(410);
    expect((never.body.error as Json).code).toBe('syncStateNotFound');
    expect(never.headers.location).toBe(`${emu.url}/v1.0/users/delta`);

    const { next } = await drain(USERS);
    const t = new URL(next).searchParams.get('$deltatoken')!;
    const tampered = `${t.slice(0, 2)}${t[2] === 'A' ? 'B' : 'A'}${t.slice(3)}`;
    const bad = await call(`/v1.0/users/delta?$deltatoken=${tampered}`);
    expect((bad.body.error as Json).code).toBe('syncStateNotFound');
    // A users token on the groups collection is not a groups token.
    const crossed = await call(`/v1.0/groups/delta?$deltatoken=${t}`);
    expect((crossed.body.error as Json).code).toBe('syncStateNotFound');

    const latest = await call('/v1.0/users/delta?$select=displayName&$deltatoken=latest');
    expect(latest.body.value).toEqual([]);
    const user = emu.org.users.find((u) => u.status === 'active')!;
    emu.store.apply({ op: 'updateUser', id: user.id, patch: { displayName: 'After Latest' } });
    const fromLatest = await drain(latest.body['@odata.deltaLink'] as string);
    expect(fromLatest.items).toEqual([{ id: graphId(user.id), displayName: 'After Latest' }]);

    await admin('POST', 'expire-delta-tokens');
    for (const link of [next, fromLatest.next]) {
      const r = await call(link);
      expect(r.status).toBe(410);
      expect((r.body.error as Json).code).toBe('resyncRequired');
      expect(r.headers.location).toBe(`${emu.url}/v1.0/users/delta`);
    }
  });

  it('a token older than the kept change log answers resyncRequired; a newer one still works', async () => {
    const small = await startEmulator({
      users: 30,
      groups: 4,
      membersPerGroup: 5,
      nestingDepth: 1,
      seed: 9,
      changeLogEntries: 10,
    });
    const saved = { emu, dispatcher };
    try {
      emu = small;
      dispatcher = new Agent({ connect: { ca: readFileSync(small.caFile, 'utf8') } });
      token = (await requestToken(emu, dispatcher)).body.access_token as string;
      const old = await drain(USERS);
      const users = emu.org.users.filter((u) => u.status === 'active');
      for (const [i, u] of users.slice(0, 8).entries()) {
        emu.store.apply({ op: 'updateUser', id: u.id, patch: { title: `T${i}` } });
      }
      const recent = await drain(old.next);
      expect(recent.items).toHaveLength(8);
      for (const [i, u] of users.slice(0, 8).entries()) {
        emu.store.apply({ op: 'updateUser', id: u.id, patch: { title: `U${i}` } });
      }
      const r = await call(old.next);
      expect(r.status).toBe(410);
      expect((r.body.error as Json).code).toBe('resyncRequired');
      expect((await drain(recent.next)).items).toHaveLength(8);
    } finally {
      await dispatcher.close();
      ({ emu, dispatcher } = saved);
      token = (await requestToken(emu, dispatcher)).body.access_token as string;
      await small.close();
    }
  });
});
