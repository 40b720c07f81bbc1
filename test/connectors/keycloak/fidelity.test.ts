/**
 * Fidelity: the emulator's responses checked against Keycloak's published OpenAPI document
 * (/work/shared/idp-specs/keycloak/openapi.json, Keycloak 26.6) and against behaviour Keycloak's
 * source shows (defaults, orderings, error bodies), over raw HTTP without the SDK.
 */
import { specPath } from '../../helpers/specs.js';
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type KeycloakEmulator } from '../../../connectors/keycloak/emulator/index.js';

const SPEC_PATH = specPath('keycloak/openapi.json');

interface Spec {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>
  >;
  components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
}

const spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as Spec;
const ajv = new Ajv({ strict: false, allErrors: true });
for (const f of ['int32', 'int64', 'float', 'double']) ajv.addFormat(f, true);
ajv.addSchema({ $id: 'kc', components: spec.components });

/** The 200 response schema of `GET path` in the spec, with refs resolved against the components. */
function responseValidator(path: string): ValidateFunction {
  const schema = spec.paths[path]?.get?.responses['200']?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`no 200 schema for GET ${path}`);
  const rewritten = JSON.parse(
    JSON.stringify(schema).replaceAll('"#/components/', '"kc#/components/'),
  ) as object;
  return ajv.compile(rewritten);
}

function expectValid(path: string, body: unknown): void {
  const validate = responseValidator(path);
  const ok = validate(body);
  expect(validate.errors ?? [], `${path}: ${ajv.errorsText(validate.errors)}`).toEqual([]);
  expect(ok).toBe(true);
}

/** Every field the emulator sends is one the spec declares: no invented fields. */
function expectDeclaredOnly(schemaName: string, rep: Record<string, unknown>): void {
  const declared = Object.keys(spec.components.schemas[schemaName]?.properties ?? {});
  expect(declared.length).toBeGreaterThan(0);
  for (const k of Object.keys(rep)) expect(declared, `${schemaName}.${k}`).toContain(k);
}

describe('keycloak emulator fidelity', () => {
  let emu: KeycloakEmulator;
  let token: string;
  const admin = (path: string) => `${emu.url}/admin/realms/acme${path}`;
  const get = async (path: string, bearer = token) => {
    const res = await fetch(admin(path), { headers: { authorization: `Bearer ${bearer}` } });
    return { status: res.status, body: (await res.json()) as unknown, headers: res.headers };
  };

  beforeAll(async () => {
    emu = await startEmulator({ users: 260, groups: 50, membersPerGroup: 120, nestingDepth: 3, seed: 3 });
    const basic = Buffer.from(
      `dirsync:${encodeURIComponent(emu.env.DIRSYNC_KEYCLOAK_CLIENT_SECRET!)}`,
    ).toString('base64');
    const res = await fetch(`${emu.url}/realms/acme/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(200);
    token = body.access_token as string;
  });
  afterAll(() => emu.close());

  it('issues client-credentials tokens as Keycloak does: a JWT with exp, no refresh token', async () => {
    const res = await fetch(`${emu.url}/realms/acme/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'dirsync',
        client_secret: emu.env.DIRSYNC_KEYCLOAK_CLIENT_SECRET!,
      }),
    });
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(
      ['access_token', 'expires_in', 'not-before-policy', 'refresh_expires_in', 'scope', 'token_type'].sort(),
    );
    expect(body.token_type).toBe('Bearer');
    const claims = JSON.parse(
      Buffer.from((body.access_token as string).split('.')[1]!, 'base64url').toString(),
    ) as Record<string, unknown>;
    expect(claims.exp).toBe((claims.iat as number) + (body.expires_in as number));
    expect(claims.iss).toBe(`${emu.url}/realms/acme`);
    expect(claims.azp).toBe('dirsync');
  });

  it('answers token errors with OAuth error bodies', async () => {
    const post = (body: Record<string, string>, realm = 'acme') =>
      fetch(`${emu.url}/realms/${realm}/protocol/openid-connect/token`, {
        method: 'POST',
        body: new URLSearchParams(body),
      });
    const bad = await post({
      grant_type: 'client_credentials',
      client_id: 'dirsync',
      client_secret: 'wrong',
    });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({
      error: 'unauthorized_client',
      error_description: 'Invalid client or Invalid client credentials',
    });
    const unknown = await post({ grant_type: 'client_credentials', client_id: 'nope', client_secret: 'x' });
    expect(unknown.status).toBe(401);
    expect(((await unknown.json()) as { error: string }).error).toBe('invalid_client');
    const pw = await post(
      { grant_type: 'password', client_id: 'admin-cli', username: 'admin', password: 'wrong' },
      'master',
    );
    expect(pw.status).toBe(401);
    expect(await pw.json()).toEqual({
      error: 'invalid_grant',
      error_description: 'Invalid user credentials',
    });
    const realm = await post({ grant_type: 'client_credentials' }, 'nowhere');
    expect(realm.status).toBe(404);
  });

  it('answers admin errors with Keycloak bodies (401, 404)', async () => {
    const noAuth = await fetch(admin('/users'));
    expect(noAuth.status).toBe(401);
    expect(await noAuth.json()).toEqual({ error: 'HTTP 401 Unauthorized' });
    const garbage = await get('/users', 'not.a.token');
    expect(garbage.status).toBe(401);
    const group = await get('/groups/00000000-0000-4000-8000-000000000000/members');
    expect(group.status).toBe(404);
    expect(group.body).toEqual({ error: 'Could not find group by id' });
    emu.setForbidden(true);
    try {
      const forbidden = await get('/users');
      expect(forbidden.status).toBe(403);
      expect(forbidden.body).toEqual({ error: 'HTTP 403 Forbidden' });
    } finally {
      emu.setForbidden(false);
    }
  });

  it('uses a validator that can fail (a wrongly typed field is caught)', () => {
    const validate = responseValidator('/admin/realms/{realm}/users');
    expect(validate([{ id: 'x', username: 'a', enabled: 'yes' }])).toBe(false);
    expect(validate([{ id: 'x', username: 'a', enabled: true }])).toBe(true);
  });

  it('serves UserRepresentation lists that match the spec, sorted by username, 100 by default', async () => {
    const { status, body } = await get('/users');
    expect(status).toBe(200);
    expectValid('/admin/realms/{realm}/users', body);
    const users = body as Array<Record<string, unknown>>;
    expect(users).toHaveLength(100);
    const names = users.map((u) => u.username as string);
    expect(names).toEqual([...names].sort());
    for (const u of users) {
      expectDeclaredOnly('UserRepresentation', u);
      expect(typeof u.id).toBe('string');
      expect(typeof u.enabled).toBe('boolean');
      expect(u.username).toBe((u.username as string).toLowerCase());
    }
    // Null fields are left out, as Keycloak's JSON mapper does (NON_NULL).
    const noMail = emu.org.users.find((u) => u.email === null)!;
    expect('email' in ((await get(`/users/${noMail.id}`)).body as Record<string, unknown>)).toBe(false);
    const disabled = emu.org.users.find((u) => u.status !== 'active')!;
    const one = await get(`/users/${disabled.id}`);
    expect((one.body as Record<string, unknown>).enabled).toBe(false);
    expectDeclaredOnly('UserRepresentation', one.body as Record<string, unknown>);
  });

  it('pages users with first/max and counts them; a plain list leaves the service account out', async () => {
    const count = await get('/users/count');
    expectValid('/admin/realms/{realm}/users/count', count.body);
    expect(count.body).toBe(260);
    const all: string[] = [];
    for (let first = 0; ; first += 70) {
      const page = (await get(`/users/?first=${first}&max=70`)).body as Array<{ id: string }>;
      all.push(...page.map((u) => u.id));
      if (page.length < 70) break;
    }
    expect(new Set(all)).toEqual(new Set(emu.org.users.map((u) => u.id)));
    expect(all).toHaveLength(260);
  });

  it('adds the service-account user when any filter parameter is given (UsersResource quirk)', async () => {
    const enabled = (await get('/users?enabled=true&max=-1')).body as Array<{
      username: string;
      enabled: boolean;
    }>;
    expect(enabled.some((u) => u.username === 'service-account-dirsync')).toBe(true);
    expect(enabled.every((u) => u.enabled)).toBe(true);
    const count = (await get('/users/count?enabled=true')).body as number;
    expect(count).toBe(enabled.length);
    const q = (await get('/users?q=department:Sales&max=-1')).body as Array<{
      attributes: Record<string, string[]>;
    }>;
    expect(q.length).toBeGreaterThan(0);
    expect(q.every((u) => u.attributes.department?.[0] === 'Sales')).toBe(true);
  });

  it('serves brief members (no attributes) and full members, 100 by default, sorted by username', async () => {
    const big = emu.org.groups.find((g) => (emu.org.members.get(g.id)?.size ?? 0) > 100)!;
    const brief = await get(`/groups/${big.id}/members?briefRepresentation=true`);
    expectValid('/admin/realms/{realm}/groups/{group-id}/members', brief.body);
    const list = brief.body as Array<Record<string, unknown>>;
    expect(list).toHaveLength(100);
    expect(list.every((u) => !('attributes' in u))).toBe(true);
    const names = list.map((u) => u.username as string);
    expect(names).toEqual([...names].sort());
    const full = (await get(`/groups/${big.id}/members?max=5`)).body as Array<Record<string, unknown>>;
    expect(full).toHaveLength(5);
    expect(full.every((u) => typeof u.attributes === 'object')).toBe(true);
    for (const u of [...list, ...full]) expectDeclaredOnly('UserRepresentation', u);
  });

  it('serves top-level groups only, with subGroupCount and an empty subGroups list', async () => {
    const { body } = await get('/groups');
    expectValid('/admin/realms/{realm}/groups', body);
    const groups = body as Array<Record<string, unknown>>;
    const top = emu.org.groups.filter((g) => g.parentId === null);
    expect(groups).toHaveLength(top.length);
    for (const g of groups) {
      expectDeclaredOnly('GroupRepresentation', g);
      expect(g.subGroups).toEqual([]);
      expect(typeof g.subGroupCount).toBe('number');
      expect('parentId' in g).toBe(false);
      expect(g.path).toBe(`/${g.name as string}`);
    }
    const names = groups.map((g) => g.name as string);
    expect(names).toEqual([...names].sort());
    const count = await get('/groups/count?top=true');
    expectValid('/admin/realms/{realm}/groups/count', count.body);
    expect(count.body).toEqual({ count: top.length });
    expect((await get('/groups/count')).body).toEqual({ count: emu.org.groups.length });
  });

  it('serves children 10 at a time by default, with parentId and full paths', async () => {
    const parent = emu.org.groups.find((g) => emu.org.groups.filter((c) => c.parentId === g.id).length > 0)!;
    const kids = emu.org.groups.filter((c) => c.parentId === parent.id);
    const { body } = await get(`/groups/${parent.id}/children`);
    expectValid('/admin/realms/{realm}/groups/{group-id}/children', body);
    const list = body as Array<Record<string, unknown>>;
    expect(list).toHaveLength(Math.min(10, kids.length));
    for (const c of list) {
      expectDeclaredOnly('GroupRepresentation', c);
      expect(c.parentId).toBe(parent.id);
      expect((c.path as string).endsWith(`/${parent.name}/${c.name as string}`)).toBe(true);
      // Not brief by default: attributes and role lists come along.
      expect(c.attributes).toEqual({});
    }
    const one = await get(`/groups/${parent.id}`);
    expectValid('/admin/realms/{realm}/groups/{group-id}', one.body);
    expect((one.body as Record<string, unknown>).subGroupCount).toBe(kids.length);
  });

  it('searches groups at any depth, nesting matches under their roots unless populateHierarchy=false', async () => {
    const nested = emu.org.groups.find((g) => g.parentId !== null)!;
    const flat = (
      await get(
        `/groups?search=${encodeURIComponent(nested.name.toUpperCase())}&exact=false&populateHierarchy=false`,
      )
    ).body as Array<Record<string, unknown>>;
    expect(flat.some((g) => g.id === nested.id)).toBe(true);
    expectValid('/admin/realms/{realm}/groups', flat);
    const tree = (await get(`/groups?search=${encodeURIComponent(nested.name)}&exact=true`)).body as Array<
      Record<string, unknown>
    >;
    expectValid('/admin/realms/{realm}/groups', tree);
    expect(tree.every((g) => !('parentId' in g))).toBe(true);
    const find = (gs: Array<Record<string, unknown>>): boolean =>
      gs.some((g) => g.id === nested.id || find((g.subGroups as Array<Record<string, unknown>>) ?? []));
    expect(find(tree)).toBe(true);
  });

  it('accepts trailing slashes as the admin client sends them', async () => {
    const a = await get('/users/?first=0&max=3');
    const b = await get('/users?first=0&max=3');
    expect(a.status).toBe(200);
    expect(a.body).toEqual(b.body);
    expect((await get('/groups/')).status).toBe(200);
  });

  it('sheds load with a bare 503 past the in-flight limit', async () => {
    emu.storm(1);
    const res = await fetch(admin('/users'), { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('');
    expect(res.headers.get('retry-after')).toBeNull();
  });
});
