/** The dashboard's history of one user or group, changes with field lists, and "test connection". */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileSource, sync, users } from '../helpers/snapshot.js';
import { harness, type Harness } from './helpers.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let h: Harness;
let hr: ReturnType<typeof fileSource>;
let url: string;
let csrf: string;

beforeAll(async () => {
  hr = fileSource({ deletion: { deleteAfter: '7d' }, guard: { minRemovals: 100 } }, 'hr');
  hr.write({
    users: users(3).map((u) => ({ ...u, attributes: { title: 'Engineer' } })),
    groups: [{ id: 'g-eng', name: 'eng', members: ['u0', 'u1', 'u2'] }],
  });
  h = await harness([hr.config]);
  url = h.server.url;
  csrf = ((await (await fetch(`${url}/api/session`)).json()) as Json).csrfToken;
  await sync(h.db.pool, hr.config);
  hr.write({
    users: users(2).map((u, i) => ({ ...u, attributes: { title: i === 0 ? 'Manager' : 'Engineer' } })),
    groups: [{ id: 'g-eng', name: 'eng', members: ['u0'] }],
  });
  await sync(h.db.pool, hr.config);
});
afterAll(async () => {
  await h?.close();
});

const get = async (path: string) => {
  const res = await fetch(`${url}${path}`);
  return { status: res.status, body: (await res.json()) as Json };
};

describe('history and test connection API', () => {
  it("a user's history: joined, left, deactivated with the reason, and the deletion date", async () => {
    const { status, body } = await get('/api/connectors/hr/users/u2/history');
    expect(status).toBe(200);
    expect(body).toMatchObject({ type: 'user', externalId: 'u2', label: 'user2', active: false });
    const days = (Date.parse(body.deletionDueAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);
    const ops = body.entries.map((e: Json) => [e.object, e.operation, e.other?.label ?? null]);
    // Newest run first; within a run, in the order the run recorded them.
    expect(ops).toEqual([
      ['membership', 'remove', 'eng'],
      ['user', 'deactivate', null],
      ['membership', 'add', 'eng'],
      ['user', 'create', null],
    ]);
    expect(body.entries[0].runId).toBe(body.entries[1].runId);
    expect(body.entries[1].why).toBe('no longer returned by the identity provider');
    expect(body.entries[1].fields).toEqual([
      { field: 'active', before: true, after: false },
      { field: 'missing', before: false, after: true },
    ]);
  });

  it("a group's history counts members added and removed; unknown objects are 404", async () => {
    const { body } = await get('/api/connectors/hr/groups/eng/history');
    expect(body.entries.map((e: Json) => [e.operation, e.members])).toEqual([
      ['remove', 2],
      ['add', 3],
      ['create', undefined],
    ]);
    expect((await get('/api/connectors/hr/users/nobody/history')).status).toBe(404);
    expect((await get('/api/connectors/nope/users/u0/history')).status).toBe(404);
  });

  it('run changes carry the changed fields only', async () => {
    const runs = await get('/api/runs?connector=hr');
    const last = runs.body.items[0].id;
    const { body } = await get(`/api/runs/${last}/changes?object=user`);
    const u0 = body.items.find((c: Json) => c.externalId === 'u0');
    expect(u0.fields).toEqual([{ field: 'attributes.title', before: 'Engineer', after: 'Manager' }]);
  });

  it('test connection answers with what was read, and needs the CSRF token', async () => {
    const ok = await fetch(`${url}/api/connectors/hr/test`, {
      method: 'POST',
      headers: { 'x-csrf-token': csrf, origin: url },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ok: true, read: { users: 2, groups: 1, memberships: 1 } });
    const forged = await fetch(`${url}/api/connectors/hr/test`, { method: 'POST', headers: { origin: url } });
    expect(forged.status).toBe(403);
  });
});
