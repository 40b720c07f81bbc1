/**
 * The read endpoints a directory reader plausibly calls beyond the connector's own lists, and the
 * Reports API's activities.list: fetched raw over HTTP with a token from the real SDK's JWT flow,
 * each answer validated against the official discovery documents (`admin:directory_v1`,
 * `admin:reports_v1`), each error in Google's error body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJwt, readServiceAccountKey } from '../../../connectors/google/credentials.js';
import type { GoogleEmulator } from '../../../connectors/google/emulator/index.js';
import { ENDPOINT_SCOPES } from '../../../connectors/google/emulator/routes.js';
import { loadDiscovery, REPORTS_SPEC_PATH, validate, type DiscoveryDocument } from './discovery.js';
import { startGoogle } from './helpers.js';

type Obj = Record<string, unknown>;

let emu: GoogleEmulator;
let dirDoc: DiscoveryDocument;
let repDoc: DiscoveryDocument;
let token: string;

async function tokenFor(scopes: readonly string[]): Promise<string> {
  const jwt = createJwt({
    key: readServiceAccountKey({ env: 'DIRSYNC_GOOGLE_SA_KEY' }),
    subject: emu.adminEmail,
    tokenUrl: `${emu.url}/token`,
    timeoutMs: 5000,
    onRequest: () => {},
    scopes,
  });
  return (await jwt.getAccessToken()).token as string;
}

async function get(path: string, bearer = token): Promise<{ status: number; body: Obj }> {
  const res = await fetch(`${emu.url}/${path}`, { headers: { authorization: `Bearer ${bearer}` } });
  expect(res.headers.get('content-type')).toBe('application/json; charset=UTF-8');
  return { status: res.status, body: (await res.json()) as Obj };
}

function expectGoogleError(r: { status: number; body: Obj }, code: number, reason: string): void {
  expect(r.status).toBe(code);
  const e = r.body.error as Obj;
  expect(e).toMatchObject({ code, message: expect.any(String), status: expect.any(String) });
  expect((e.errors as Obj[])[0]).toMatchObject({
    message: expect.any(String),
    domain: expect.any(String),
    reason,
  });
}

const D = 'admin/directory/v1';
const R = 'admin/reports/v1/activity/users/all/applications/admin';

beforeAll(async () => {
  dirDoc = loadDiscovery();
  repDoc = loadDiscovery(REPORTS_SPEC_PATH);
  emu = await startGoogle({ users: 30, groups: 6, membersPerGroup: 6, nestingDepth: 2, seed: 5 });
  token = await tokenFor(
    Object.values(ENDPOINT_SCOPES)
      .flat()
      .filter((s) => s.endsWith('.readonly')),
  );
});
afterAll(() => emu.close());

describe('google emulator: Directory read endpoints beyond the lists', () => {
  it('users.get by id, primary address and alias (a renamed user keeps its old address)', async () => {
    const u = emu.org.users[2]!;
    const old = emu.directory.primaryEmail(u);
    const byId = await get(`${D}/users/${u.id}`);
    expect(byId.status).toBe(200);
    expect(validate(dirDoc, 'User', byId.body)).toEqual([]);
    expect((await get(`${D}/users/${encodeURIComponent(old)}`)).body.id).toBe(u.id);
    emu.store.updateUser(u.id, { login: `${u.login}.renamed` });
    const byAlias = await get(`${D}/users/${encodeURIComponent(old)}`);
    expect(byAlias.body).toMatchObject({ id: u.id, primaryEmail: emu.directory.primaryEmail(u) });
    const aliases = await get(`${D}/users/${u.id}/aliases`);
    expect(validate(dirDoc, 'Aliases', aliases.body)).toEqual([]);
    expect((aliases.body.aliases as Obj[]).map((a) => a.alias)).toEqual([old]);
    expectGoogleError(await get(`${D}/users/nobody@example.com`), 404, 'notFound');
  });

  it('users.get/list: projection full|custom|basic and viewType admin_view|domain_public, with their errors', async () => {
    const u = emu.org.users[3]!;
    const full = await get(`${D}/users/${u.id}?projection=full`);
    expect(validate(dirDoc, 'User', full.body)).toEqual([]);
    expect(full.body.customSchemas).toEqual({});
    expect((await get(`${D}/users/${u.id}`)).body.customSchemas).toBeUndefined();
    expectGoogleError(await get(`${D}/users/${u.id}?projection=custom`), 400, 'invalid');
    expect((await get(`${D}/users/${u.id}?projection=custom&customFieldMask=HR`)).status).toBe(200);
    expectGoogleError(await get(`${D}/users/${u.id}?customFieldMask=HR`), 400, 'invalid');
    expectGoogleError(await get(`${D}/users/${u.id}?projection=everything`), 400, 'invalidParameter');
    const pub = await get(`${D}/users/${u.id}?viewType=domain_public`);
    expect(validate(dirDoc, 'User', pub.body)).toEqual([]);
    expect(pub.body).toHaveProperty('primaryEmail');
    expect(pub.body).not.toHaveProperty('suspended');
    expect(pub.body).not.toHaveProperty('isAdmin');
    const list = await get(`${D}/users?customer=my_customer&viewType=domain_public&maxResults=5`);
    expect(validate(dirDoc, 'Users', list.body)).toEqual([]);
    expect((list.body.users as Obj[])[0]).not.toHaveProperty('orgUnitPath');
    expectGoogleError(await get(`${D}/users/${u.id}?viewType=secret`), 400, 'invalidParameter');
  });

  it('users.list: customer or domain, query, showDeleted', async () => {
    expectGoogleError(await get(`${D}/users`), 400, 'badRequest');
    const byDomain = await get(
      `${D}/users?domain=${emu.org.domain}&query=${encodeURIComponent('isSuspended=true')}`,
    );
    expect(validate(dirDoc, 'Users', byDomain.body)).toEqual([]);
    for (const x of (byDomain.body.users as Obj[] | undefined) ?? []) expect(x.suspended).toBe(true);
    expectGoogleError(await get(`${D}/users?domain=other.example`), 403, 'forbidden');
    const victim = emu.org.users[4]!;
    emu.store.removeUser(victim.id);
    const deleted = await get(`${D}/users?customer=my_customer&showDeleted=true`);
    expect(validate(dirDoc, 'Users', deleted.body)).toEqual([]);
    const d = (deleted.body.users as Obj[]).find((x) => x.id === victim.id);
    expect(d).toMatchObject({
      primaryEmail: emu.directory.primaryEmail(victim),
      deletionTime: expect.any(String),
    });
    expectGoogleError(await get(`${D}/users/${victim.id}`), 404, 'notFound');
  });

  it('members.get and members.hasMember (direct and nested), with their 404s', async () => {
    const parent = emu.org.groups.find((g) => emu.directory.childGroups(g.id).length > 0)!;
    const child = emu.org.groups.find((g) => g.id === emu.directory.childGroups(parent.id)[0])!;
    emu.store.addMember(child.id, emu.org.users[6]!.id);
    const nestedUser = emu.org.users[6]!;
    const m = await get(`${D}/groups/${child.id}/members/${nestedUser.id}`);
    expect(m.status).toBe(200);
    expect(validate(dirDoc, 'Member', m.body)).toEqual([]);
    expect(m.body).toMatchObject({ id: nestedUser.id, type: 'USER' });
    const byEmail = await get(
      `${D}/groups/${child.id}/members/${encodeURIComponent(emu.directory.primaryEmail(nestedUser))}`,
    );
    expect(byEmail.body.id).toBe(nestedUser.id);
    const sub = await get(`${D}/groups/${parent.id}/members/${child.id}`);
    expect(sub.body).toMatchObject({ id: child.id, type: 'GROUP' });
    if (!emu.org.members.get(parent.id)?.has(nestedUser.id)) {
      expectGoogleError(await get(`${D}/groups/${parent.id}/members/${nestedUser.id}`), 404, 'notFound');
    }
    const has = await get(`${D}/groups/${parent.id}/hasMember/${nestedUser.id}`);
    expect(validate(dirDoc, 'MembersHasMember', has.body)).toEqual([]);
    expect(has.body).toEqual({ isMember: true });
    const lonely = emu.org.users.find((u) => ![...emu.org.members.values()].some((s) => s.has(u.id)));
    if (lonely)
      expect((await get(`${D}/groups/${parent.id}/hasMember/${lonely.id}`)).body).toEqual({
        isMember: false,
      });
    expectGoogleError(await get(`${D}/groups/${parent.id}/hasMember/nobody@example.com`), 404, 'notFound');
    expectGoogleError(await get(`${D}/groups/nogroup/members/${nestedUser.id}`), 404, 'notFound');
  });

  it('groups.list by userKey and groups.aliases.list', async () => {
    const g = emu.org.groups[0]!;
    const member = [...(emu.org.members.get(g.id) ?? [])][0]!;
    const mine = await get(`${D}/groups?userKey=${member}`);
    expect(validate(dirDoc, 'Groups', mine.body)).toEqual([]);
    expect((mine.body.groups as Obj[]).map((x) => x.id)).toContain(g.id);
    const aliases = await get(`${D}/groups/${g.id}/aliases`);
    expect(validate(dirDoc, 'Aliases', aliases.body)).toEqual([]);
  });

  it('orgunits.list / get, customers.get, domains.list, roles.list, roleAssignments.list', async () => {
    const ous = await get(`${D}/customer/my_customer/orgunits?type=allIncludingParent`);
    expect(validate(dirDoc, 'OrgUnits', ous.body)).toEqual([]);
    expect((ous.body.organizationUnits as Obj[])[0]).toMatchObject({ orgUnitPath: '/' });
    expect((await get(`${D}/customer/my_customer/orgunits`)).body.organizationUnits).toBeUndefined();
    expectGoogleError(await get(`${D}/customer/my_customer/orgunits?type=some`), 400, 'invalidParameter');
    const root = await get(
      `${D}/customer/my_customer/orgunits/${(ous.body.organizationUnits as Obj[])[0]!.orgUnitId as string}`,
    );
    expect(validate(dirDoc, 'OrgUnit', root.body)).toEqual([]);
    expectGoogleError(await get(`${D}/customer/my_customer/orgunits/Sales`), 404, 'notFound');
    const customer = await get(`${D}/customers/my_customer`);
    expect(validate(dirDoc, 'Customer', customer.body)).toEqual([]);
    expect(customer.body.id).toBe(emu.directory.customerId);
    expectGoogleError(await get(`${D}/customers/C999`), 400, 'badRequest');
    const domains = await get(`${D}/customer/my_customer/domains`);
    expect(validate(dirDoc, 'Domains2', domains.body)).toEqual([]);
    const roles = await get(`${D}/customer/my_customer/roles`);
    expect(validate(dirDoc, 'Roles', roles.body)).toEqual([]);
    const ras = await get(
      `${D}/customer/my_customer/roleassignments?userKey=${encodeURIComponent(emu.adminEmail)}`,
    );
    expect(validate(dirDoc, 'RoleAssignments', ras.body)).toEqual([]);
    expect((ras.body.items as Obj[])[0]).toMatchObject({ assigneeType: 'user', scopeType: 'CUSTOMER' });
    const none = await get(`${D}/customer/my_customer/roleassignments?userKey=${emu.org.users[0]!.id}`);
    expect(none.body.items).toBeUndefined();
  });

  it('each family needs its own scope (403 insufficientPermissions without it)', async () => {
    const usersOnly = await tokenFor(['https://www.googleapis.com/auth/admin.directory.user.readonly']);
    expectGoogleError(
      await get(`${D}/customer/my_customer/orgunits`, usersOnly),
      403,
      'insufficientPermissions',
    );
    expectGoogleError(
      await get(`${D}/groups/${emu.org.groups[0]!.id}/hasMember/x`, usersOnly),
      403,
      'insufficientPermissions',
    );
    expectGoogleError(await get(R, usersOnly), 403, 'insufficientPermissions');
  });

  it("an endpoint the emulator does not serve answers 404 in Google's error body", async () => {
    expectGoogleError(await get(`${D}/users/${emu.org.users[0]!.id}/photos/thumbnail`), 404, 'notFound');
  });
});

describe('google emulator: Reports API activities.list', () => {
  it('serves the admin audit log: envelope, activities, parameters, newest first, paging', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const g = emu.org.groups[1]!;
    emu.store.updateGroup(g.id, { name: 'Renamed For Reports' });
    const u = emu.org.users[10]!;
    emu.store.updateUser(u.id, { status: u.status === 'suspended' ? 'active' : 'suspended' });
    const r = await get(`${R}?startTime=${since}&maxResults=1`);
    expect(r.status).toBe(200);
    expect(validate(repDoc, 'Activities', r.body)).toEqual([]);
    expect(r.body.kind).toBe('admin#reports#activities');
    const first = (r.body.items as Obj[])[0]!;
    expect(first.id).toMatchObject({ applicationName: 'admin', customerId: emu.directory.customerId });
    const ev = (first.events as Obj[])[0]!;
    expect(ev).toMatchObject({ type: 'USER_SETTINGS', name: expect.stringMatching(/SUSPEND_USER$/) });
    expect(ev.parameters).toEqual([{ name: 'USER_EMAIL', value: emu.directory.primaryEmail(u) }]);
    expect(typeof r.body.nextPageToken).toBe('string');
    const r2 = await get(`${R}?startTime=${since}&maxResults=1&pageToken=${r.body.nextPageToken as string}`);
    const second = (r2.body.items as Obj[])[0]!;
    expect((second.events as Obj[])[0]).toMatchObject({
      type: 'GROUP_SETTINGS',
      name: 'CHANGE_GROUP_NAME',
      parameters: expect.arrayContaining([{ name: 'NEW_VALUE', value: 'Renamed For Reports' }]),
    });
    expect(Date.parse((second.id as Obj).time as string)).toBeLessThanOrEqual(
      Date.parse((first.id as Obj).time as string),
    );
    const byName = await get(`${R}?startTime=${since}&eventName=CHANGE_GROUP_NAME`);
    expect((byName.body.items as Obj[]).length).toBe(1);
  });

  it('an empty answer has no items key; other applications answer empty', async () => {
    const r = await get(`${R}?eventName=NO_SUCH_EVENT`);
    expect(validate(repDoc, 'Activities', r.body)).toEqual([]);
    expect(r.body.items).toBeUndefined();
    const login = await get('admin/reports/v1/activity/users/all/applications/login');
    expect(login.status).toBe(200);
  });

  it('rejects what Google rejects: bad times, a start after the end or in the future, maxResults out of range, an unknown application', async () => {
    expectGoogleError(await get(`${R}?startTime=yesterday`), 400, 'invalid');
    const now = Date.now();
    expectGoogleError(
      await get(
        `${R}?startTime=${new Date(now - 1000).toISOString()}&endTime=${new Date(now - 5000).toISOString()}`,
      ),
      400,
      'invalid',
    );
    expectGoogleError(await get(`${R}?startTime=${new Date(now + 3_600_000).toISOString()}`), 400, 'invalid');
    expectGoogleError(await get(`${R}?maxResults=1001`), 400, 'invalidParameter');
    expectGoogleError(await get(`${R}?maxResults=0`), 400, 'invalidParameter');
    expectGoogleError(
      await get('admin/reports/v1/activity/users/all/applications/payroll'),
      400,
      'invalidParameter',
    );
    expectGoogleError(await get(`${R}?filters=USER_EMAIL==x`), 400, 'invalid');
  });

  it('a start older than the 180-day retention returns what is kept, without an error', async () => {
    const r = await get(`${R}?startTime=${new Date(Date.now() - 400 * 86_400_000).toISOString()}`);
    expect(r.status).toBe(200);
    expect((r.body.items as Obj[]).length).toBeGreaterThan(0);
  });

  it('the ingestion lag hides events until it has passed', async () => {
    const since = new Date(Date.now() - 5).toISOString();
    emu.setReportsLag(60_000);
    try {
      emu.store.updateGroup(emu.org.groups[2]!.id, { description: 'later' });
      expect((await get(`${R}?startTime=${since}`)).body.items).toBeUndefined();
    } finally {
      emu.setReportsLag(0);
    }
    expect(((await get(`${R}?startTime=${since}`)).body.items as Obj[]).length).toBe(1);
  });

  it('the admin API applies a seeded plan through the store, and the log records it', async () => {
    const before = emu.store.log.size();
    const res = await fetch(`${emu.url}/__emulator/mutate`, {
      method: 'POST',
      body: JSON.stringify({ seed: 3, users: 0.2, memberships: 0.1, groups: 2 }),
    });
    expect(res.status).toBe(200);
    const { applied } = (await res.json()) as { applied: number };
    expect(applied).toBeGreaterThan(0);
    expect(emu.store.log.size()).toBeGreaterThan(before);
    const bad = await fetch(`${emu.url}/__emulator/mutate`, { method: 'POST', body: '{}' });
    expect(bad.status).toBe(400);
  });
});
