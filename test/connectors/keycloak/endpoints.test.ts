/**
 * The read endpoints that `@keycloak/keycloak-admin-client`'s users, groups, realm and server-info
 * calls reach, each called through the real admin client against the emulator and, where Keycloak's
 * OpenAPI document (shared/idp-specs/keycloak/openapi.json, 26.6) has a schema, validated by it.
 */
import KcAdminClient from '@keycloak/keycloak-admin-client';
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type KeycloakEmulator } from '../../../connectors/keycloak/emulator/index.js';
import { specPath } from '../../helpers/specs.js';

interface Spec {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>
  >;
  components: unknown;
}
const spec = JSON.parse(readFileSync(specPath('keycloak/openapi.json'), 'utf8')) as Spec;
const ajv = new Ajv({ strict: false, allErrors: true });
for (const f of ['int32', 'int64', 'float', 'double']) ajv.addFormat(f, true);
ajv.addSchema({ $id: 'kc', components: spec.components });
const validators = new Map<string, ValidateFunction>();

function validatorFor(path: string): ValidateFunction {
  let v = validators.get(path);
  if (!v) {
    const schema =
      spec.paths[`/admin/realms/{realm}${path}`]?.get?.responses['200']?.content?.['application/json']
        ?.schema;
    if (!schema) throw new Error(`no 200 schema for GET ${path}`);
    v = ajv.compile(
      JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"kc#/components/')) as object,
    );
    validators.set(path, v);
  }
  return v;
}

function expectValid(path: string, body: unknown): void {
  const v = validatorFor(path);
  expect(v(body), `${path}: ${ajv.errorsText(v.errors)}`).toBe(true);
}

describe('keycloak emulator: read endpoints the admin client reaches', () => {
  let emu: KeycloakEmulator;
  let kc: KcAdminClient;
  let master: KcAdminClient;

  beforeAll(async () => {
    // Compile the schemas first: compiling RealmRepresentation takes seconds on a loaded machine,
    // and an idle keep-alive socket that the server closes meanwhile would reset the next call.
    for (const path of [
      '',
      '/events/config',
      '/admin-events',
      '/users',
      '/users/{user-id}',
      '/users/{user-id}/groups',
      '/groups',
      '/groups/{group-id}',
      '/groups/{group-id}/children',
      '/groups/{group-id}/members',
    ])
      validatorFor(path);
    emu = await startEmulator({ users: 120, groups: 30, membersPerGroup: 10, nestingDepth: 3, seed: 5 });
    kc = new KcAdminClient({ baseUrl: emu.url, realmName: 'acme' });
    await kc.auth({
      grantType: 'client_credentials',
      clientId: 'dirsync',
      clientSecret: emu.env.DIRSYNC_KEYCLOAK_CLIENT_SECRET!,
    });
    master = new KcAdminClient({ baseUrl: emu.url, realmName: 'master' });
    await master.auth({
      grantType: 'password',
      clientId: 'admin-cli',
      username: 'admin',
      password: emu.env.DIRSYNC_KEYCLOAK_ADMIN_PASSWORD!,
    });
    master.setConfig({ realmName: 'acme' });
  });
  afterAll(() => emu.close());

  const someUser = () => emu.org.users.find((u) => [...emu.org.members.values()].some((m) => m.has(u.id)))!;
  const parentGroup = () =>
    emu.org.groups.find((g) => emu.org.groups.filter((c) => c.parentId === g.id).length >= 2)!;

  it('GET /admin/serverinfo: 200; systemInfo only for an admin of the master realm', async () => {
    const info = (await kc.serverInfo.find()) as unknown as Record<string, unknown>;
    expect(info.systemInfo).toBeUndefined();
    expect(info.memoryInfo).toBeUndefined();
    expect(info.profileInfo).toBeDefined();
    expect((info.enums as { resourceType: string[] }).resourceType).toContain('GROUP_MEMBERSHIP');
    const full = (await master.serverInfo.find()) as unknown as { systemInfo?: { version?: string } };
    expect(full.systemInfo?.version).toMatch(/^26\./);
  });

  it('GET /admin/realms/{realm}: the realm with its admin-event settings', async () => {
    emu.setAdminEvents({ expirationSec: 86_400 });
    const realm = (await kc.realms.findOne({ realm: 'acme' }))!;
    expectValid('', realm);
    expect(realm.realm).toBe('acme');
    expect(realm.adminEventsEnabled).toBe(true);
    expect(realm.adminEventsDetailsEnabled).toBe(true);
    expect(realm.attributes?.adminEventsExpiration).toBe('86400');
    delete emu.adminEvents.settings.expirationSec;
  });

  it('GET /admin/realms: a realm admin sees its own realm, the master admin all', async () => {
    expect((await kc.realms.find()).map((r) => r.realm)).toEqual(['acme']);
    expect((await master.realms.find()).map((r) => r.realm).sort()).toEqual(['acme', 'master']);
  });

  it('GET /admin/realms/{realm}/events/config', async () => {
    const cfg = await kc.realms.getConfigEvents({ realm: 'acme' });
    expectValid('/events/config', cfg);
    expect(cfg).toMatchObject({
      adminEventsEnabled: true,
      adminEventsDetailsEnabled: true,
      eventsEnabled: false,
    });
  });

  it('GET /admin/realms/{realm}/admin-events: shape, newest first by default, direction, dates, types, paging', async () => {
    const t0 = Date.now();
    const u = someUser();
    const g = emu.org.groups.find((x) => !emu.org.members.get(x.id)?.has(u.id))!;
    emu.mutations.updateUser(u.id, { title: 'Endpoint tester' });
    emu.mutations.addMember(g.id, u.id);
    emu.mutations.removeMember(g.id, u.id);
    const find = kc.realms.findAdminEvents as unknown as (
      q: Record<string, unknown>,
    ) => Promise<Record<string, unknown>[]>;
    const all = await find({ realm: 'acme', dateFrom: String(t0) });
    expectValid('/admin-events', all);
    expect(all.length).toBe(3);
    expect(all.map((e) => e.operationType)).toEqual(['DELETE', 'CREATE', 'UPDATE']); // newest first
    const asc = await find({ realm: 'acme', dateFrom: String(t0), direction: 'asc' });
    expect(asc.map((e) => e.operationType)).toEqual(['UPDATE', 'CREATE', 'DELETE']);
    expect(asc[0]).toMatchObject({ resourceType: 'USER', resourcePath: `users/${u.id}` });
    expect(asc[1]).toMatchObject({
      resourceType: 'GROUP_MEMBERSHIP',
      resourcePath: `users/${u.id}/groups/${g.id}`,
    });
    expect(JSON.parse(asc[1]!.representation as string)).toMatchObject({ id: g.id, name: g.name });
    expect(typeof asc[0]!.time).toBe('number');
    expect(asc[0]!.authDetails).toMatchObject({ ipAddress: '127.0.0.1' });
    const members = await find({ realm: 'acme', dateFrom: String(t0), resourceTypes: ['GROUP_MEMBERSHIP'] });
    expect(members).toHaveLength(2);
    const paged = await find({ realm: 'acme', dateFrom: String(t0), direction: 'asc', first: 1, max: 1 });
    expect(paged.map((e) => e.operationType)).toEqual(['CREATE']);
    // A day (yyyy-MM-dd) as dateFrom covers the whole day; dateTo before the events finds none.
    const day = new Date(t0).toISOString().slice(0, 10);
    expect((await find({ realm: 'acme', dateFrom: day })).length).toBeGreaterThanOrEqual(3);
    expect(await find({ realm: 'acme', dateFrom: String(t0), dateTo: String(t0 - 1) })).toEqual([]);
    // A date Keycloak cannot parse is a 400 (the SDK's own Date type is sent as Date.toString()).
    await expect(find({ realm: 'acme', dateFrom: new Date(t0) })).rejects.toMatchObject({
      response: { status: 400 },
    });
  });

  it('admin events: none recorded while disabled, no representation without details, expired ones purged', async () => {
    const t0 = Date.now();
    const find = kc.realms.findAdminEvents as unknown as (
      q: Record<string, unknown>,
    ) => Promise<Record<string, unknown>[]>;
    const u = emu.org.users[3]!;
    emu.adminEvents.settings.enabled = false;
    emu.mutations.updateUser(u.id, { title: 'off' });
    emu.adminEvents.settings.enabled = true;
    emu.adminEvents.settings.details = false;
    emu.mutations.updateUser(u.id, { title: 'no details' });
    emu.adminEvents.settings.details = true;
    const got = await find({ realm: 'acme', dateFrom: String(t0), resourceTypes: ['USER'] });
    expect(got).toHaveLength(1);
    expect(got[0]!.representation).toBeUndefined();
    emu.adminEvents.age(120_000);
    emu.adminEvents.settings.expirationSec = 60;
    expect(await find({ realm: 'acme', dateFrom: '0', resourceTypes: ['USER'] })).toEqual([]);
    delete emu.adminEvents.settings.expirationSec;
  });

  it('GET users/count, users (search, username exact, q, enabled, brief), users/{id}', async () => {
    const count = await kc.users.count();
    expect(count).toBe(emu.org.users.length);
    const u = someUser();
    const one = (await kc.users.findOne({ id: u.id }))!;
    expectValid('/users/{user-id}', one);
    expect(one.username).toBe(u.login.toLowerCase());
    const exact = await kc.users.find({ username: u.login, exact: true });
    expect(exact.map((x) => x.id)).toContain(u.id);
    expectValid('/users', exact);
    const bySearch = await kc.users.find({ search: u.login.toLowerCase(), max: 5 });
    expect(bySearch.map((x) => x.id)).toContain(u.id);
    const byQ = await kc.users.find({ q: `department:${u.department}`, max: 500 } as never);
    expect(byQ.length).toBeGreaterThan(0);
    expect(byQ.every((x) => x.attributes?.department?.[0] === u.department)).toBe(true);
    const brief = await kc.users.find({ max: 3, briefRepresentation: true });
    expect(brief).toHaveLength(3);
    expect(brief[0]!.attributes).toBeUndefined();
    await expect(kc.users.findOne({ id: '00000000-0000-4000-8000-00000000dead' })).resolves.toBeNull(); // the SDK's catchNotFound turns the 404 into null
  });

  it('GET users/{id}/groups and users/{id}/groups/count', async () => {
    const u = someUser();
    const groups = await kc.users.listGroups({ id: u.id });
    expectValid('/users/{user-id}/groups', groups);
    const truth = emu.org.groups.filter((g) => emu.org.members.get(g.id)?.has(u.id)).map((g) => g.id);
    expect(groups.map((g) => g.id).sort()).toEqual(truth.sort());
    expect(groups.every((g) => typeof g.path === 'string' && g.path.startsWith('/'))).toBe(true);
    expect(await kc.users.countGroups({ id: u.id })).toEqual({ count: truth.length });
    const paged = await kc.users.listGroups({ id: u.id, first: 0, max: 1 });
    expect(paged.length).toBe(Math.min(1, truth.length));
  });

  it('GET users/profile and users/profile/metadata', async () => {
    const profile = await kc.users.getProfile();
    expect(profile.attributes?.map((a) => a.name)).toEqual(
      expect.arrayContaining(['username', 'email', 'firstName', 'lastName']),
    );
    const meta = await kc.users.getProfileMetadata();
    expect(meta.attributes?.find((a) => a.name === 'username')?.required).toBe(true);
  });

  it('GET groups/count (all, top), groups (search exact, q, populateHierarchy), groups/{id}', async () => {
    expect(await kc.groups.count()).toEqual({ count: emu.org.groups.length });
    expect(await kc.groups.count({ top: true })).toEqual({
      count: emu.org.groups.filter((g) => g.parentId === null).length,
    });
    const top = await kc.groups.find();
    expectValid('/groups', top);
    const parent = parentGroup();
    const one = (await kc.groups.findOne({ id: parent.id }))!;
    expectValid('/groups/{group-id}', one);
    expect(one.name).toBe(parent.name);
    const child = emu.org.groups.find((c) => c.parentId === parent.id)!;
    const exact = await kc.groups.find({ search: child.name, exact: true, populateHierarchy: false });
    expect(exact.map((g) => g.id)).toContain(child.id);
    expect(await kc.groups.find({ q: 'nosuch:attribute' })).toEqual([]);
    await expect(kc.groups.findOne({ id: '00000000-0000-4000-8000-00000000dead' })).resolves.toBeNull(); // the SDK's catchNotFound turns the 404 into null
  });

  it('GET groups/{id}/children (first, max, briefRepresentation) and groups/{id}/members', async () => {
    const parent = parentGroup();
    const truth = emu.org.groups
      .filter((c) => c.parentId === parent.id)
      .map((c) => c.name)
      .sort();
    const kids = await kc.groups.listSubGroups({
      parentId: parent.id,
      first: 0,
      max: 100,
      briefRepresentation: false,
    });
    expectValid('/groups/{group-id}/children', kids);
    expect(kids.map((k) => k.name)).toEqual(truth);
    const firstOnly = await kc.groups.listSubGroups({ parentId: parent.id, first: 0, max: 1 });
    expect(firstOnly.map((k) => k.name)).toEqual(truth.slice(0, 1));
    const withMembers = emu.org.groups.find((g) => (emu.org.members.get(g.id)?.size ?? 0) > 0)!;
    const members = await kc.groups.listMembers({ id: withMembers.id, max: 1000 });
    expectValid('/groups/{group-id}/members', members);
    expect(members.map((m) => m.id).sort()).toEqual([...emu.org.members.get(withMembers.id)!].sort());
  });
});
