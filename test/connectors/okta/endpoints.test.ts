/**
 * The read endpoints a directory reader plausibly calls, besides the lists a sync pages through,
 * each called with the official SDK (`@okta/okta-sdk-nodejs`) and its answer validated against
 * Okta's management OpenAPI spec: a user by id, login or short name (`expand=blocks`), a user's
 * groups, a group (`expand=stats`), `search`/`filter` on `lastUpdated`/`lastMembershipUpdated`,
 * `q`, the org's settings, and the System Log (polling and bounded requests, retention, filters,
 * rate-limit headers, ingestion delay).
 */
import { Client } from '@okta/okta-sdk-nodejs';
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { EVERYONE_ID, oktaLogin, type OktaEmulator } from '../../../connectors/okta/emulator/index.js';
import { nextLink } from '../../../connectors/okta/client.js';
import { specPath } from '../../helpers/specs.js';
import { emulator } from './helpers.js';

const SPEC_ID = 'https://okta.example/management.yaml';
const addFormats = addFormatsImport as unknown as (ajv: Ajv) => Ajv;
let ajv: Ajv;
let emu: OktaEmulator;
let sdk: Client;

function validator(ref: string, list = false): ValidateFunction {
  const schema = list ? { type: 'array', items: { $ref: `${SPEC_ID}${ref}` } } : { $ref: `${SPEC_ID}${ref}` };
  return ajv.compile(schema);
}

function expectValid(ref: string, body: unknown, list = false): void {
  const validate = validator(ref, list);
  const ok = validate(body);
  expect(ok ? [] : validate.errors?.slice(0, 5)).toEqual([]);
}

async function get(path: string) {
  const res = await fetch(`${emu.url}${path}`, {
    headers: { Authorization: `SSWS ${emu.env.DIRSYNC_OKTA_API_TOKEN}`, Accept: 'application/json' },
  });
  return { res, body: (await res.json()) as unknown };
}

/** What the SDK throws for an Okta error answer. */
async function sdkError(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    return e as { status: number; errorCode: string };
  }
  throw new Error('the call did not fail');
}

/** Every item of an SDK collection (the SDK types items as nullable: none may be null). */
async function drain<T>(c: AsyncIterable<T | null>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of c) {
    expect(x).not.toBeNull();
    out.push(x as T);
  }
  return out;
}

beforeAll(async () => {
  const spec = parse(readFileSync(specPath('okta/management.yaml'), 'utf8'), { maxAliasCount: -1 }) as {
    components: { schemas: Record<string, unknown> };
  };
  ajv = new Ajv({ strict: false, validateSchema: false, allErrors: true });
  addFormats(ajv);
  for (const f of ['int32', 'int64', 'float', 'double', 'byte', 'binary', 'password']) ajv.addFormat(f, true);
  ajv.addSchema({ $id: SPEC_ID, components: { schemas: spec.components.schemas } });
  emu = await emulator({ users: 40, groups: 8, membersPerGroup: 6 });
  sdk = new Client({
    orgUrl: emu.url,
    token: emu.env.DIRSYNC_OKTA_API_TOKEN,
    cacheMiddleware: null,
  } as never);
});
afterAll(() => emu.close());

describe('okta emulator: users and groups by id', () => {
  it('GET /api/v1/users/{id} by id, login and login short name (SDK getUser), spec-valid', async () => {
    const u = emu.org.users[3]!;
    const login = oktaLogin(emu.org, u);
    for (const key of [u.id, login, login.toUpperCase(), login.split('@')[0]!]) {
      const got = await sdk.userApi.getUser({ userId: key });
      expect(got.id, key).toBe(u.id);
    }
    const { res, body } = await get(`/api/v1/users/${u.id}?expand=blocks`);
    expect(res.status).toBe(200);
    // The spec's allOf gives `_embedded` two incompatible shapes (User: a map of objects;
    // UserGetSingleton: `blocks` an array, as Okta sends it): validate the user, then `blocks`.
    const { _embedded, ...user } = body as { _embedded: { blocks: unknown[] } };
    expectValid('#/components/schemas/UserGetSingleton', user);
    expect(_embedded.blocks).toEqual([]);
  });

  it('an unknown user answers 404 E0000007 (SDK OktaApiError)', async () => {
    const e = await sdkError(sdk.userApi.getUser({ userId: '00uNoSuchUser' }));
    expect(e).toMatchObject({ status: 404, errorCode: 'E0000007' });
    const { body } = await get('/api/v1/users/00uNoSuchUser');
    expectValid('#/components/schemas/Error', body);
  });

  it('GET /api/v1/users/{id}/groups lists every group of the user, Everyone included', async () => {
    const [groupId, members] = [...emu.org.members].find(([, m]) => m.size > 0)!;
    const userId = [...members][0]!;
    const groups = await drain(await sdk.userApi.listUserGroups({ userId }));
    const expected = [
      EVERYONE_ID,
      ...emu.org.groups.filter((g) => emu.org.members.get(g.id)?.has(userId)).map((g) => g.id),
    ];
    expect(groups.map((g) => g.id).sort()).toEqual(expected.sort());
    expect(groups.map((g) => g.id)).toContain(groupId);
    const { body } = await get(`/api/v1/users/${userId}/groups`);
    expectValid('#/components/schemas/Group', body, true);
    expect((await sdkError(drain(await sdk.userApi.listUserGroups({ userId: '00uNobody' })))).status).toBe(
      404,
    );
  });

  it('GET /api/v1/groups/{groupId} (SDK getGroup), expand=stats counts members, 404 E0000007', async () => {
    const g = emu.org.groups[2]!;
    const got = await sdk.groupApi.getGroup({ groupId: g.id });
    expect(got.profile?.name).toBe(g.name);
    const { body } = await get(`/api/v1/groups/${g.id}?expand=stats`);
    expectValid('#/components/schemas/Group', body);
    expect((body as { _embedded: { stats: { usersCount: number } } })._embedded.stats.usersCount).toBe(
      emu.org.members.get(g.id)?.size,
    );
    expect((await get(`/api/v1/groups/${EVERYONE_ID}`)).res.status).toBe(200);
    expect(await sdkError(sdk.groupApi.getGroup({ groupId: '00gNoSuchGroup' }))).toMatchObject({
      status: 404,
      errorCode: 'E0000007',
    });
  });

  it('GET /api/v1/org answers the org general settings (SDK getOrgSettings), spec-valid', async () => {
    const org = await sdk.orgSettingApi.getOrgSettings();
    expect(org.subdomain).toBeTruthy();
    const { body } = await get('/api/v1/org');
    expectValid('#/components/schemas/OrgSetting', body);
  });
});

describe('okta emulator: lastUpdated searches and q', () => {
  it('search=lastUpdated gt returns changed users of every status; filter works the same', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const victim = emu.org.users[5]!;
    const renamed = emu.org.users[6]!;
    emu.store.apply({ op: 'updateUser', id: victim.id, patch: { status: 'deprovisioned' } });
    emu.store.apply({ op: 'updateUser', id: renamed.id, patch: { displayName: 'Renamed Person' } });
    const bySearch = await drain(await sdk.userApi.listUsers({ search: `lastUpdated gt "${since}"` }));
    expect(bySearch.map((u) => u.id).sort()).toEqual([victim.id, renamed.id].sort());
    expect(bySearch.find((u) => u.id === victim.id)?.status).toBe('DEPROVISIONED');
    const byFilter = await drain(await sdk.userApi.listUsers({ filter: `lastUpdated gt "${since}"` }));
    expect(byFilter.map((u) => u.id).sort()).toEqual([victim.id, renamed.id].sort());
  });

  it('filter=lastMembershipUpdated gt returns groups whose members changed', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const g = emu.org.groups[4]!;
    const u = emu.org.users.find((x) => !emu.org.members.get(g.id)?.has(x.id))!;
    emu.store.apply({ op: 'addMember', groupId: g.id, userId: u.id });
    const groups = await drain(
      await sdk.groupApi.listGroups({ filter: `lastMembershipUpdated gt "${since}"` }),
    );
    expect(groups.map((x) => x.id)).toEqual([g.id]);
    expect(new Date(groups[0]!.lastMembershipUpdated as unknown as string).getTime()).toBeGreaterThan(
      Date.parse(since),
    );
  });

  it('q matches name/email prefixes, at most 10 users by default, without paging', async () => {
    const { res, body } = await get('/api/v1/users?q=a');
    expect(res.status).toBe(200);
    expect((body as unknown[]).length).toBeLessThanOrEqual(10);
    expect(nextLink(res.headers.get('link'))).toBeNull();
  });
});

describe('okta emulator: System Log', () => {
  it('events are spec-valid LogEvents with eventType, target[], published, uuid (SDK listLogEvents, bounded)', async () => {
    const since = new Date(Date.now() - 2000).toISOString();
    const g = emu.org.groups[1]!;
    const u = emu.org.users.find((x) => !emu.org.members.get(g.id)?.has(x.id))!;
    emu.store.apply({ op: 'addMember', groupId: g.id, userId: u.id });
    emu.store.apply({ op: 'removeMember', groupId: g.id, userId: u.id });
    const until = new Date(Date.now() + 1000).toISOString();
    const events = await drain(
      await sdk.systemLogApi.listLogEvents({ since, until, filter: `target.id eq "${g.id}"` }),
    );
    expect(events.map((e) => e.eventType)).toEqual([
      'group.user_membership.add',
      'group.user_membership.remove',
    ]);
    const { body } = await get(
      `/api/v1/logs?since=${since}&until=${until}&filter=${encodeURIComponent(`target.id eq "${g.id}"`)}`,
    );
    expectValid('#/components/schemas/LogEvent', body, true);
    const first = (body as { target: { id: string; type: string }[]; uuid: string }[])[0]!;
    expect(first.target.map((t) => t.type).sort()).toEqual(['User', 'UserGroup']);
    expect(first.uuid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('polling requests (no until) always link to a next page, the empty last one too; bounded ones end', async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    let url: string | null = `/api/v1/logs?since=${since}&limit=2`;
    let pages = 0;
    let empty = false;
    while (url !== null && pages < 50) {
      const { res, body } = await get(url.replace(emu.url, ''));
      pages++;
      const next = nextLink(res.headers.get('link'));
      expect(next).not.toBeNull();
      if ((body as unknown[]).length === 0) {
        empty = true;
        break;
      }
      url = next;
    }
    expect(empty).toBe(true);
    const until = new Date(Date.now() + 1000).toISOString();
    const bounded = await get(`/api/v1/logs?since=${since}&until=${until}&limit=1000`);
    expect(nextLink(bounded.res.headers.get('link'))).toBeNull();
  });

  it('a since before the 90-day retention answers 400 E0000001; bad dates too', async () => {
    const old = new Date(Date.now() - 91 * 86_400_000).toISOString();
    const { res, body } = await get(`/api/v1/logs?since=${old}`);
    expect(res.status).toBe(400);
    expect(body).toMatchObject({ errorCode: 'E0000001' });
    expectValid('#/components/schemas/Error', body);
    expect((await get('/api/v1/logs?since=yesterday')).res.status).toBe(400);
  });

  it('carries X-Rate-Limit-* headers of its own bucket', async () => {
    const { res } = await get('/api/v1/logs?limit=1');
    expect(res.headers.get('x-rate-limit-limit')).toBe('120');
    expect(Number(res.headers.get('x-rate-limit-remaining'))).toBeLessThan(120);
    expect(Number(res.headers.get('x-rate-limit-reset'))).toBeGreaterThan(Date.now() / 1000 - 1);
  });

  it('an event becomes readable only after the ingestion delay', async () => {
    emu.store.logDelayMs = 60_000;
    try {
      const since = new Date(Date.now() - 1000).toISOString();
      const g = emu.org.groups[0]!;
      emu.store.apply({ op: 'updateGroup', id: g.id, patch: { name: `${g.name}-delayed` } });
      const { body } = await get(
        `/api/v1/logs?since=${since}&filter=${encodeURIComponent(`target.id eq "${g.id}"`)}`,
      );
      expect(body).toEqual([]);
      emu.store.logDelayMs = 0;
      emu.store.log.at(-1)!.persistedAt = Date.now();
      const later = await get(
        `/api/v1/logs?since=${since}&filter=${encodeURIComponent(`target.id eq "${g.id}"`)}`,
      );
      expect((later.body as { eventType: string }[]).map((e) => e.eventType)).toEqual([
        'group.profile.update',
      ]);
    } finally {
      emu.store.logDelayMs = 0;
    }
  });
});

describe('okta emulator modules', () => {
  it('have no import cycle (the admin API depends on the store, not on the server)', async () => {
    const { readFileSync: read, readdirSync } = await import('node:fs');
    const dir = new URL('../../../connectors/okta/emulator/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    const imports = new Map<string, string[]>();
    for (const f of files) {
      const text = read(new URL(f, dir), 'utf8');
      const deps = [...text.matchAll(/from '\.\/([\w-]+)\.js'/g)].map((m) => `${m[1]}.ts`);
      imports.set(f, deps);
    }
    expect(imports.get('admin.ts')).not.toContain('index.ts');
    const cycle = (start: string): string[] | null => {
      const stack: string[] = [];
      const visit = (f: string): string[] | null => {
        if (stack.includes(f)) return f === start ? [...stack, f] : null;
        stack.push(f);
        for (const d of imports.get(f) ?? []) {
          const c = visit(d);
          if (c) return c;
        }
        stack.pop();
        return null;
      };
      return visit(start);
    };
    for (const f of files) expect(cycle(f), f).toBeNull();
  });
});
