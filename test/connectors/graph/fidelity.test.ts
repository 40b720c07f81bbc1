/**
 * Emulator responses checked against the official Graph v1.0 CSDL and Graph's documented wire
 * rules (envelopes, default property sets, limits, errors).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { startEmulator, type GraphEmulator } from '../../../connectors/graph/emulator/index.js';
import { USER_PROPS, GROUP_PROPS } from '../../../connectors/graph/emulator/model.js';
import { GROUP_SELECT, USER_SELECT } from '../../../connectors/graph/map.js';
import { loadCsdl, validateEntity, type Csdl } from './csdl.js';
import { requestToken } from './helpers.js';

type Json = Record<string, unknown>;

describe('graph emulator fidelity (Graph v1.0 CSDL)', () => {
  let emu: GraphEmulator;
  let csdl: Csdl;
  let dispatcher: Agent;
  let token: string;

  async function call(
    path: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ) {
    const res = await request(path.startsWith('https://') ? path : `${emu.url}${path}`, {
      dispatcher,
      method: (init.method ?? 'GET') as 'GET',
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
      ...(init.body ? { body: init.body } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: (text ? JSON.parse(text) : null) as Json };
  }

  function expectValid(type: string, objs: Json[]) {
    const errors = objs.flatMap((o) => validateEntity(csdl, type, o));
    expect(errors).toEqual([]);
  }

  function expectErrorEnvelope(body: Json, code: string) {
    const err = body.error as Json;
    expect(err.code).toBe(code);
    expect(typeof err.message).toBe('string');
    const inner = err.innerError as Json;
    expect(Object.keys(inner).sort()).toEqual(['client-request-id', 'date', 'request-id']);
    expect(inner.date).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
  }

  beforeAll(async () => {
    csdl = loadCsdl();
    emu = await startEmulator({ users: 600, groups: 60, membersPerGroup: 12, nestingDepth: 3, seed: 3 });
    dispatcher = new Agent({ connect: { ca: readFileSync(emu.caFile, 'utf8') } });
    const { status, body } = await requestToken(emu, dispatcher);
    expect(status).toBe(200);
    expect(body.token_type).toBe('Bearer');
    expect(typeof body.expires_in).toBe('number');
    token = body.access_token as string;
  });
  afterAll(async () => {
    await dispatcher?.close();
    await emu?.close();
  });

  it('every property the emulator can render exists on user/group with the declared type', async () => {
    const users = await call(`/v1.0/users?$top=50&$select=${Object.keys(USER_PROPS).join(',')}`);
    expect(users.status).toBe(200);
    expectValid('microsoft.graph.user', users.body.value as Json[]);
    const groups = await call(`/v1.0/groups?$top=50&$select=${Object.keys(GROUP_PROPS).join(',')}`);
    expectValid('microsoft.graph.group', groups.body.value as Json[]);
  });

  it('users without $select carry the default property set and no accountEnabled', async () => {
    const r = await call('/v1.0/users?$top=5');
    const value = r.body.value as Json[];
    expectValid('microsoft.graph.user', value);
    for (const u of value) {
      expect(Object.keys(u).sort()).toEqual(
        [
          'businessPhones',
          'displayName',
          'givenName',
          'id',
          'jobTitle',
          'mail',
          'mobilePhone',
          'officeLocation',
          'preferredLanguage',
          'surname',
          'userPrincipalName',
        ].sort(),
      );
    }
  });

  it('what the connector selects is valid and complete', async () => {
    const users = await call(`/v1.0/users?$top=999&$select=${USER_SELECT.join(',')}`);
    expectValid('microsoft.graph.user', users.body.value as Json[]);
    for (const u of users.body.value as Json[]) expect(typeof u.accountEnabled).toBe('boolean');
    const groups = await call(`/v1.0/groups?$top=999&$select=${GROUP_SELECT.join(',')}`);
    expectValid('microsoft.graph.group', groups.body.value as Json[]);
  });

  it('list envelopes: @odata.context, value, absolute @odata.nextLink with $skiptoken; default page 100', async () => {
    const r = await call('/v1.0/users');
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.body['@odata.context']).toBe(`${emu.url}/v1.0/$metadata#users`);
    expect((r.body.value as Json[]).length).toBe(100);
    const next = r.body['@odata.nextLink'] as string;
    expect(next.startsWith(`${emu.url}/v1.0/users?`)).toBe(true);
    expect(next).toMatch(/\$skiptoken=/);
    const r2 = await call(next);
    expect(r2.status).toBe(200);
    const ids1 = new Set((r.body.value as Json[]).map((u) => u.id));
    expect((r2.body.value as Json[]).some((u) => ids1.has(u.id))).toBe(false);
  });

  it('$top outside 1..999 is a 400 with Graph error envelope', async () => {
    for (const top of ['0', '1000', 'x']) {
      const r = await call(`/v1.0/users?$top=${top}`);
      expect(r.status).toBe(400);
      expectErrorEnvelope(r.body, 'Request_BadRequest');
    }
    const unknownProp = await call('/v1.0/users?$select=id,nope');
    expect(unknownProp.status).toBe(400);
    expectErrorEnvelope(unknownProp.body, 'Request_BadRequest');
  });

  it('members carry @odata.type; users, groups, devices, service principals and org contacts validate', async () => {
    const seen = new Set<string>();
    const groups = (await call('/v1.0/groups?$select=id&$top=999')).body.value as Json[];
    for (const g of groups) {
      let next: string | null = `/v1.0/groups/${String(g.id)}/members?$top=999`;
      while (next) {
        const r = await call(next);
        expect(r.status).toBe(200);
        expect(r.body['@odata.context']).toBe(`${emu.url}/v1.0/$metadata#directoryObjects`);
        for (const m of r.body.value as Json[]) {
          const type = (m['@odata.type'] as string).slice(1);
          seen.add(type);
          expect(validateEntity(csdl, type, m)).toEqual([]);
          expect(
            validateEntity(csdl, 'microsoft.graph.directoryObject', {
              '@odata.type': m['@odata.type'],
              id: m.id,
            }),
          ).toEqual([]);
        }
        next = (r.body['@odata.nextLink'] as string | undefined) ?? null;
      }
    }
    expect([...seen].sort()).toEqual(
      [
        'microsoft.graph.device',
        'microsoft.graph.group',
        'microsoft.graph.orgContact',
        'microsoft.graph.servicePrincipal',
        'microsoft.graph.user',
      ].sort(),
    );
  });

  it('members default page is 100 and cast segments list one type', async () => {
    const big = emu.store.org.groups[1];
    const id = (await call(`/v1.0/groups?$filter=displayName eq '${big?.name}'&$select=id`)).body
      .value as Json[];
    const gid = String(id[0]?.id);
    const r = await call(`/v1.0/groups/${gid}/members`);
    expect((r.body.value as Json[]).length).toBe(100);
    expect(r.body['@odata.nextLink']).toMatch(/\$skiptoken=/);
    const users = await call(`/v1.0/groups/${gid}/members/microsoft.graph.user?$top=999`);
    expectValid('microsoft.graph.user', users.body.value as Json[]);
    expect(users.body['@odata.context']).toBe(`${emu.url}/v1.0/$metadata#users`);
  });

  it('$expand=members is capped at 20 with no nextLink', async () => {
    const big = emu.store.org.groups[1];
    const r = await call(`/v1.0/groups?$filter=displayName eq '${big?.name}'&$expand=members`);
    const g = (r.body.value as Json[])[0] as Json;
    expectValid('microsoft.graph.group', [g]);
    expect((g.members as Json[]).length).toBe(20);
    expect(JSON.stringify(g)).not.toContain('nextLink');
  });

  it('$filter: startswith/eq on groups, accountEnabled on users, unsupported properties refused', async () => {
    const eng = await call(`/v1.0/groups?$filter=startswith(displayName,'ENG')&$select=displayName`);
    const names = (eng.body.value as Json[]).map((g) => String(g.displayName));
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((n) => n.toLowerCase().startsWith('eng'))).toBe(true);
    const disabled = await call(
      `/v1.0/users?$filter=accountEnabled eq false&$select=id,accountEnabled&$top=999`,
    );
    expect((disabled.body.value as Json[]).every((u) => u.accountEnabled === false)).toBe(true);
    expect((disabled.body.value as Json[]).length).toBe(
      [...emu.truth().users.values()].filter((u) => !u.active).length,
    );
    const bad = await call(`/v1.0/users?$filter=jobTitle eq 'x'`);
    expect(bad.status).toBe(400);
    expectErrorEnvelope(bad.body, 'Request_UnsupportedQuery');
  });

  it('$count needs ConsistencyLevel: eventual', async () => {
    expect((await call('/v1.0/users?$count=true')).status).toBe(400);
    const r = await call('/v1.0/users?$count=true&$top=1', { headers: { ConsistencyLevel: 'eventual' } });
    expect(r.body['@odata.count']).toBe(emu.truth().users.size);
  });

  it('$batch: at most 20 requests, responses matched by id, inner 429 with Retry-After', async () => {
    const requests = Array.from({ length: 21 }, (_, i) => ({
      id: String(i + 1),
      method: 'GET',
      url: '/users?$top=1',
    }));
    const over = await call('/v1.0/$batch', { method: 'POST', body: JSON.stringify({ requests }) });
    expect(over.status).toBe(400);
    expectErrorEnvelope(over.body, 'BadRequest');
    emu.throttleNext(1, 3);
    const r = await call('/v1.0/$batch', {
      method: 'POST',
      body: JSON.stringify({ requests: requests.slice(0, 3) }),
    });
    expect(r.status).toBe(200);
    const responses = r.body.responses as {
      id: string;
      status: number;
      headers: Record<string, string>;
      body: Json;
    }[];
    expect(responses.map((x) => x.id).sort()).toEqual(['1', '2', '3']);
    const throttled = responses.filter((x) => x.status === 429);
    expect(throttled).toHaveLength(1);
    expect(throttled[0]?.headers['Retry-After']).toBe('3');
    expectErrorEnvelope(throttled[0]?.body as Json, 'TooManyRequests');
    for (const x of responses.filter((y) => y.status === 200))
      expectValid('microsoft.graph.user', x.body.value as Json[]);
  });

  it('429 at the top level carries Retry-After and the envelope', async () => {
    emu.throttleNext(1, 2);
    const r = await call('/v1.0/users?$top=1');
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('2');
    expectErrorEnvelope(r.body, 'TooManyRequests');
  });

  it('Graph calls without a valid Bearer token get 401 InvalidAuthenticationToken', async () => {
    const saved = token;
    try {
      token = 'not-a-token';
      const r = await call('/v1.0/users');
      expect(r.status).toBe(401);
      expectErrorEnvelope(r.body, 'InvalidAuthenticationToken');
    } finally {
      token = saved;
    }
    const noAuth = await request(`${emu.url}/v1.0/users`, { dispatcher });
    expect(noAuth.statusCode).toBe(401);
    await noAuth.body.dump();
  });

  it('unknown ids are 404 Request_ResourceNotFound', async () => {
    const r = await call('/v1.0/groups/00000000-0000-0000-0000-000000000000/members');
    expect(r.status).toBe(404);
    expectErrorEnvelope(r.body, 'Request_ResourceNotFound');
  });

  it('OpenID configuration names this authority as issuer and token endpoint', async () => {
    const r = await call(`/${emu.tenantId}/v2.0/.well-known/openid-configuration`);
    expect(r.body.issuer).toBe(`${emu.url}/${emu.tenantId}/v2.0`);
    expect(r.body.token_endpoint).toBe(`${emu.url}/${emu.tenantId}/oauth2/v2.0/token`);
  });

  it('delta: an initial round ends in a deltaLink; later rounds return changes and @removed', async () => {
    const items: Json[] = [];
    let link: string | null = '/v1.0/groups/delta?$select=displayName,description,members';
    let deltaLink = '';
    while (link) {
      const r = await call(link, { headers: { Prefer: 'odata.maxpagesize=25' } });
      expect(r.status).toBe(200);
      items.push(...(r.body.value as Json[]));
      link = (r.body['@odata.nextLink'] as string | undefined) ?? null;
      if (!link) deltaLink = r.body['@odata.deltaLink'] as string;
    }
    expect(deltaLink).toMatch(/\$deltatoken=/);
    expectValid('microsoft.graph.group', items);
    const ids = new Set(items.map((g) => g.id));
    expect(ids.size).toBe(emu.truth().groups.size);
    // Change one group's name, remove another group: the next round returns exactly those.
    const [a, b] = emu.store.org.groups;
    if (!a || !b) throw new Error('need groups');
    emu.store.apply({ op: 'updateGroup', id: a.id, patch: { name: `${a.name}-renamed` } });
    emu.store.apply({ op: 'removeGroup', id: b.id });
    const r = await call(deltaLink);
    const changes = r.body.value as Json[];
    expect(changes.map((c) => c.id).sort()).toHaveLength(2);
    expect(changes.some((c) => c.displayName === a.name)).toBe(true);
    expect(changes.some((c) => (c['@removed'] as Json | undefined)?.reason === 'changed')).toBe(true);
    expectValid('microsoft.graph.group', changes);
    const users = await call('/v1.0/users/delta?$select=id,accountEnabled,userPrincipalName');
    expectValid('microsoft.graph.user', users.body.value as Json[]);
    const gone = await call('/v1.0/users/delta?$deltatoken=unknown-token');
    expect(gone.status).toBe(410);
    expect(gone.headers.location).toBe(`${emu.url}/v1.0/users/delta`);
  });
});
