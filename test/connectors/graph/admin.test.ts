/** The emulator's admin API, driven over HTTPS as another process would. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { startEmulator, type GraphEmulator } from '../../../connectors/graph/emulator/index.js';
import { expectRefusedOpsSkipped } from '../emulator-mutate.js';
import { requestToken } from './helpers.js';

type Json = Record<string, unknown>;

describe('graph emulator admin API', () => {
  let emu: GraphEmulator;
  let dispatcher: Agent;
  let token: string;

  async function call(method: string, path: string, body?: unknown, bearer = token) {
    const res = await request(`${emu.url}${path}`, {
      dispatcher,
      method: method as 'GET',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text ? JSON.parse(text) : null) as Json };
  }

  async function newToken(): Promise<string> {
    return (await requestToken(emu, dispatcher, `${emu.url}/.default`)).body.access_token as string;
  }

  beforeAll(async () => {
    emu = await startEmulator({ users: 20, groups: 4, membersPerGroup: 3, nestingDepth: 1, seed: 11 });
    dispatcher = new Agent({ connect: { ca: readFileSync(emu.caFile, 'utf8') } });
    token = await newToken();
  });
  afterAll(async () => {
    await dispatcher?.close();
    await emu?.close();
  });

  it('adds, disables and removes a user; Graph shows each change', async () => {
    const created = await call('POST', '/__emulator/users', { id: 'u-admin', login: 'admin.made' });
    expect(created.status).toBe(201);
    const upn = `admin.made@${emu.org.domain}`;
    const find = () =>
      call('GET', `/v1.0/users?$filter=userPrincipalName eq '${upn}'&$select=id,accountEnabled`);
    expect(((await find()).body.value as Json[])[0]?.accountEnabled).toBe(true);
    expect((await call('PATCH', '/__emulator/users/u-admin', { status: 'suspended' })).status).toBe(200);
    expect(((await find()).body.value as Json[])[0]?.accountEnabled).toBe(false);
    expect((await call('DELETE', '/__emulator/users/u-admin')).status).toBe(204);
    expect((await find()).body.value).toEqual([]);
    expect((await call('DELETE', '/__emulator/users/u-admin')).status).toBe(404);
  });

  it('adds a group, a member and a subgroup, and moves groups; the truth follows', async () => {
    expect((await call('POST', '/__emulator/groups', { id: 'g-admin', name: 'admin-made' })).status).toBe(
      201,
    );
    const user = emu.org.users.find((u) => u.status === 'active');
    expect((await call('POST', '/__emulator/groups/g-admin/members', { userId: user?.id })).status).toBe(204);
    expect(
      (await call('POST', '/__emulator/groups/g-admin/members', { groupId: emu.org.groups[0]?.id })).status,
    ).toBe(204);
    const truth = (await call('GET', '/__emulator/truth')).body as { edges: string[] };
    const { graphId } = await import('../../../connectors/graph/emulator/ids.js');
    expect(truth.edges).toContain(`${graphId('g-admin')}|user|${graphId(user?.id as string)}`);
    expect(truth.edges).toContain(`${graphId('g-admin')}|group|${graphId(emu.org.groups[0]?.id as string)}`);
    // moveGroup refuses a cycle; the members route (Entra's own behaviour) does not.
    expect(
      (await call('POST', `/__emulator/groups/${emu.org.groups[0]?.id}/move`, { parentId: 'g-admin' }))
        .status,
    ).toBe(204);
    expect(
      (await call('POST', '/__emulator/groups/g-admin/move', { parentId: emu.org.groups[0]?.id })).status,
    ).toBe(409);
  });

  it('sets faults, throttling and token expiry', async () => {
    expect(
      (
        await call('POST', '/__emulator/rules', {
          match: '^/v1\\.0/groups',
          fault: 'error',
          status: 502,
          times: 1,
        })
      ).status,
    ).toBe(204);
    expect((await call('GET', '/v1.0/groups')).status).toBe(502);
    expect((await call('GET', '/v1.0/groups')).status).toBe(200);
    expect((await call('POST', '/__emulator/throttle', { force: 1, retryAfter: 4 })).status).toBe(204);
    expect((await call('GET', '/v1.0/groups')).status).toBe(429);
    expect((await call('POST', '/__emulator/expire-tokens')).status).toBe(204);
    const expired = await call('GET', '/v1.0/users');
    expect(expired.status).toBe(401);
    expect((expired.body.error as Json).code).toBe('InvalidAuthenticationToken');
    token = await newToken();
    expect((await call('GET', '/v1.0/users')).status).toBe(200);
    const stats = (await call('GET', '/__emulator/stats')).body;
    expect(stats.tokenRequests).toBe(2);
  });

  it('mutate skips and reports the operations the tenant refuses and applies the rest', async () => {
    await expectRefusedOpsSkipped({
      org: () => emu.org,
      mutate: (body) => call('POST', '/__emulator/mutate', body),
    });
    // What Graph serves follows the org: the truth has every user the org has, and no other.
    const truth = (await call('GET', '/__emulator/truth')).body as { users: unknown[] };
    expect(truth.users).toHaveLength(emu.org.users.length);
  });
});
