/**
 * The emulator's admin API over HTTP (what a separate process, such as the bench, uses), checked
 * through the connector's view of the org.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoogleEmulator } from '../../../connectors/google/emulator/index.js';
import { expectRefusedOpsSkipped } from '../emulator-mutate.js';
import { readWith, startGoogle, truth } from './helpers.js';

let emu: GoogleEmulator;

async function admin(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${emu.url}/__emulator/${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  emu = await startGoogle({ users: 30, groups: 6, membersPerGroup: 5, nestingDepth: 1, seed: 2 });
});
afterAll(() => emu.close());

describe('google emulator admin API', () => {
  it('adds, updates and removes users and memberships; moves and adds groups', async () => {
    const [g0, g1] = emu.org.groups;
    const victim = emu.org.users[5]!;
    expect(
      (await admin('POST', 'users', { id: 'u-admin-1', login: 'ada.lovelace', givenName: 'Ada' })).status,
    ).toBe(201);
    expect((await admin('POST', `groups/${g0!.id}/members`, { userId: 'u-admin-1' })).status).toBe(201);
    expect((await admin('PATCH', `users/${emu.org.users[1]!.id}`, { status: 'suspended' })).status).toBe(200);
    expect((await admin('DELETE', `users/${victim.id}`)).status).toBe(200);
    expect(
      (await admin('POST', 'groups', { id: 'g-admin', name: 'admin-made', parentId: g1!.id })).status,
    ).toBe(201);
    expect((await admin('PUT', `groups/${g1!.id}/parent`, { parentId: g0!.id })).status).toBe(200);
    expect((await admin('POST', `groups/${g0!.id}/external`, { type: 'CUSTOMER' })).status).toBe(201);
    const { snap, stats } = await readWith(emu);
    const t = truth(emu);
    expect(snap.users).toEqual(t.users);
    expect(snap.edges).toEqual(t.edges);
    expect(snap.users.get('u-admin-1')?.username).toBe('ada.lovelace@example.com');
    expect(snap.users.get(emu.org.users[1]!.id)?.active).toBe(false);
    expect(snap.users.has(victim.id)).toBe(false);
    expect(snap.edges.has(`${g0!.id}>group:${g1!.id}`) && snap.edges.has(`${g1!.id}>group:g-admin`)).toBe(
      true,
    );
    expect(stats.skipped).toBe(1);
  });

  it('refuses what the org model refuses: a tree move that makes a cycle (409), unknown ids (404), changing nothing', async () => {
    const [g0, g1] = emu.org.groups;
    expect((await admin('PUT', `groups/${g0!.id}/parent`, { parentId: g1!.id })).status).toBe(409);
    expect((await admin('DELETE', 'users/nope')).status).toBe(404);
    // A group under a missing parent is refused as a whole: not left created at the top.
    expect((await admin('POST', 'groups', { id: 'g-orphan', name: 'orphan', parentId: 'nope' })).status).toBe(
      404,
    );
    expect(emu.org.groups.some((g) => g.id === 'g-orphan')).toBe(false);
    expect((await admin('POST', 'groups/nope/subgroups', { groupId: g0!.id })).status).toBe(404);
  });

  it('sets throttling, scripted failures and token expiry; reports the request count', async () => {
    expect((await admin('POST', 'throttle', { count: 3, status: 429, path: '/members$' })).status).toBe(200);
    expect(
      (await admin('POST', 'fail', { path: '/groups$', fault: 'error', status: 503, times: 1 })).status,
    ).toBe(200);
    expect((await admin('POST', 'tokens/expire')).status).toBe(200);
    const { snap, stats } = await readWith(emu);
    expect(snap.edges).toEqual(truth(emu).edges);
    expect(stats.throttled).toBe(3);
    const s = await admin('GET', 'stats');
    expect((s.body as { requests: number }).requests).toBe(emu.requestCount());
    expect((await admin('PUT', 'latency', { ms: 0 })).status).toBe(200);
    expect((await admin('PUT', 'faults', {})).status).toBe(200);
  });

  it('mutate skips and reports the operations Google refuses, applies the rest, and logs only what it applied', async () => {
    await expectRefusedOpsSkipped({
      org: () => emu.org,
      mutate: (body) => admin('POST', 'mutate', body),
      createdUsers: () =>
        emu.store.log
          .visible(0, Infinity, Infinity)
          .filter((a) => a.events.some((e) => e.name === 'CREATE_USER')).length,
    });
    const { snap } = await readWith(emu);
    const t = truth(emu);
    expect(snap.users).toEqual(t.users);
    expect(snap.edges).toEqual(t.edges);
  });
});
