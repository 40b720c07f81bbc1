/**
 * Fidelity: the emulator's answers, fetched raw over HTTP with a token from the real SDK's JWT
 * flow, checked against the official discovery document (schemas, limits, defaults) and against
 * Google's documented error and token-endpoint behaviour.
 */
import { createPrivateKey, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJwt, readServiceAccountKey } from '../../../connectors/google/credentials.js';
import type { GoogleEmulator } from '../../../connectors/google/emulator/index.js';
import { foreignKeyFile } from '../../../connectors/google/emulator/token.js';
import { loadDiscovery, validate, type DiscoveryDocument } from './discovery.js';
import { startGoogle } from './helpers.js';

type Obj = Record<string, unknown>;

let emu: GoogleEmulator;
let doc: DiscoveryDocument;
let token: string;

async function get(
  path: string,
  bearer: string | null = token,
): Promise<{ status: number; body: Obj; headers: Headers }> {
  const res = await fetch(`${emu.url}/admin/directory/v1/${path}`, {
    headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
  });
  return { status: res.status, body: (await res.json()) as Obj, headers: res.headers };
}

/** Google's error body: `{"error":{"code","message","errors":[{"message","domain","reason"}],"status"}}`. */
function expectGoogleError(body: Obj, code: number, reason: string): void {
  const e = body.error as Obj;
  expect(e).toMatchObject({ code, message: expect.any(String), status: expect.any(String) });
  const items = e.errors as Obj[];
  expect(items[0]).toMatchObject({ message: expect.any(String), domain: expect.any(String), reason });
}

beforeAll(async () => {
  doc = loadDiscovery();
  emu = await startGoogle({ users: 150, groups: 230, membersPerGroup: 4, nestingDepth: 3, seed: 21 });
  emu.addExternalMember(emu.org.groups[0]!.id, { type: 'CUSTOMER' });
  emu.addExternalMember(emu.org.groups[0]!.id, { type: 'USER', email: 'guest@gmail.com' });
  const key = readServiceAccountKey({ env: 'DIRSYNC_GOOGLE_SA_KEY' });
  const jwt = createJwt({
    key,
    subject: emu.adminEmail,
    tokenUrl: `${emu.url}/token`,
    timeoutMs: 5000,
    onRequest: () => {},
  });
  token = (await jwt.getAccessToken()).token as string;
});
afterAll(() => emu.close());

describe('google emulator: resources match the discovery document', () => {
  it('users.list: envelope and users conform; default page size is the documented 100', async () => {
    const params = doc.resources.users!.methods.list!.parameters;
    expect(params.maxResults).toMatchObject({ default: '100', maximum: '500' });
    const { status, body } = await get('users?customer=my_customer');
    expect(status).toBe(200);
    expect(validate(doc, 'Users', body)).toEqual([]);
    expect(body.kind).toBe('admin#directory#users');
    expect(typeof body.etag).toBe('string');
    const users = body.users as Obj[];
    expect(users).toHaveLength(100);
    expect(typeof body.nextPageToken).toBe('string');
    for (const u of users)
      expect(u).toMatchObject({
        kind: 'admin#directory#user',
        id: expect.any(String),
        primaryEmail: expect.any(String),
      });
    const all = (await get('users?customer=my_customer&maxResults=500')).body.users as Obj[];
    expect(all.find((u) => u.suspended === true)).toMatchObject({ suspensionReason: 'ADMIN' });
    expect(all.find((u) => u.archived === true)).toMatchObject({ suspended: false });
  });

  it('users.list: maxResults above the maximum is a 400 invalidParameter; 500 is accepted', async () => {
    const bad = await get('users?customer=my_customer&maxResults=501');
    expect(bad.status).toBe(400);
    expectGoogleError(bad.body, 400, 'invalidParameter');
    const ok = await get('users?customer=my_customer&maxResults=500');
    expect((ok.body.users as unknown[]).length).toBe(150);
    expect(ok.body.nextPageToken).toBeUndefined();
  });

  it('users.list and groups.list need customer or domain (400 badRequest)', async () => {
    for (const path of ['users', 'groups']) {
      const r = await get(path);
      expect(r.status).toBe(400);
      expectGoogleError(r.body, 400, 'badRequest');
    }
    const byDomain = await get('users?domain=example.com&maxResults=5');
    expect((byDomain.body.users as unknown[]).length).toBe(5);
  });

  it('groups.list: conforms; default and cap 200; pages follow nextPageToken to the end', async () => {
    const first = await get('groups?customer=my_customer&maxResults=1000');
    expect(validate(doc, 'Groups', first.body)).toEqual([]);
    expect((first.body.groups as unknown[]).length).toBe(200);
    const second = await get(`groups?customer=my_customer&pageToken=${first.body.nextPageToken as string}`);
    expect(validate(doc, 'Groups', second.body)).toEqual([]);
    expect((second.body.groups as unknown[]).length).toBe(30);
    expect(second.body.nextPageToken).toBeUndefined();
    const g = (first.body.groups as Obj[])[0] as Obj;
    expect(g).toMatchObject({
      kind: 'admin#directory#group',
      directMembersCount: expect.stringMatching(/^\d+$/),
    });
  });

  it('members.list: conforms, with USER, GROUP and CUSTOMER members', async () => {
    const parent = emu.org.groups.find((g) => emu.directory.childGroups(g.id).length > 0)!;
    const nested = await get(`groups/${parent.id}/members`);
    expect(validate(doc, 'Members', nested.body)).toEqual([]);
    expect((nested.body.members as Obj[]).some((m) => m.type === 'GROUP')).toBe(true);
    const g0 = await get(
      `groups/${encodeURIComponent(emu.directory.groupEmail(emu.org.groups[0]!))}/members`,
    );
    expect(validate(doc, 'Members', g0.body)).toEqual([]);
    const types = new Set((g0.body.members as Obj[]).map((m) => m.type));
    expect(types.has('USER') && types.has('CUSTOMER')).toBe(true);
    for (const m of g0.body.members as Obj[]) expect(['OWNER', 'MANAGER', 'MEMBER']).toContain(m.role);
  });

  it('members.list: includeDerivedMembership adds the users of nested groups', async () => {
    const parent = emu.org.groups.find((g) => emu.directory.childGroups(g.id).length > 0)!;
    const direct = await get(`groups/${parent.id}/members?maxResults=200`);
    const derived = await get(`groups/${parent.id}/members?includeDerivedMembership=true&maxResults=200`);
    const child = emu.directory.childGroups(parent.id)[0]!;
    const childUsers = [...(emu.org.members.get(child) ?? [])];
    const ids = new Set((derived.body.members as Obj[]).map((m) => m.id));
    for (const u of childUsers) expect(ids.has(u)).toBe(true);
    expect(ids.size).toBeGreaterThanOrEqual(((direct.body.members as Obj[] | undefined) ?? []).length);
  });

  it('groups.get and members.list of an unknown group → 404 notFound', async () => {
    for (const path of ['groups/nope', 'groups/nope/members']) {
      const r = await get(path);
      expect(r.status).toBe(404);
      expectGoogleError(r.body, 404, 'notFound');
    }
  });

  it('an empty group answers without a members key', async () => {
    const empty = emu.org.groups.find(
      (g) => (emu.org.members.get(g.id)?.size ?? 0) === 0 && emu.directory.childGroups(g.id).length === 0,
    )!;
    const r = await get(`groups/${empty.id}/members`);
    expect(r.status).toBe(200);
    expect(r.body.members).toBeUndefined();
    expect(validate(doc, 'Members', r.body)).toEqual([]);
  });
});

describe('google emulator: parameters', () => {
  it('fields selects a partial response, nested selections included; an unknown field is a 400', async () => {
    const r = await get(
      'users?customer=my_customer&maxResults=3&fields=nextPageToken,users(id,name/givenName,organizations)',
    );
    expect(Object.keys(r.body).sort()).toEqual(['nextPageToken', 'users']);
    for (const u of r.body.users as Obj[]) {
      expect(Object.keys(u).sort()).toEqual(['id', 'name', 'organizations']);
      expect(Object.keys(u.name as Obj)).toEqual(['givenName']);
    }
    const bad = await get('users?customer=my_customer&fields=users(id,primaryEmial)');
    expect(bad.status).toBe(400);
    expectGoogleError(bad.body, 400, 'invalidParameter');
  });

  it('query: users isSuspended=false, groups name prefix and exact name', async () => {
    const r = await get('users?customer=my_customer&maxResults=500&query=isSuspended%3Dfalse');
    const expected = emu.org.users.filter((u) => u.status !== 'suspended').length;
    expect((r.body.users as Obj[]).length).toBe(expected);
    const eng = await get(`groups?customer=my_customer&query=${encodeURIComponent('name:eng*')}`);
    const names = (eng.body.groups as Obj[]).map((g) => g.name as string);
    expect(names.length).toBe(emu.org.groups.filter((g) => g.name.startsWith('eng')).length);
    const exact = await get(`groups?customer=my_customer&query=${encodeURIComponent("name:'SRE'")}`);
    expect((exact.body.groups as Obj[]).map((g) => g.name)).toEqual(['sre']);
    const bad = await get(`groups?customer=my_customer&query=${encodeURIComponent('colour:red')}`);
    expect(bad.status).toBe(400);
  });
});

describe('google emulator: authentication', () => {
  it('no token → 401 required; a bad token → 401 authError with WWW-Authenticate', async () => {
    const none = await get('users?customer=my_customer', null);
    expect(none.status).toBe(401);
    expectGoogleError(none.body, 401, 'required');
    const bad = await get('users?customer=my_customer', 'ya29.not-a-token');
    expect(bad.status).toBe(401);
    expectGoogleError(bad.body, 401, 'authError');
    expect(bad.headers.get('www-authenticate')).toContain('invalid_token');
  });

  function assertion(claims: Obj, pem = emu.serviceAccount.keyFile.private_key as string): string {
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const head = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc(claims)}`;
    return `${head}.${sign('RSA-SHA256', Buffer.from(head), createPrivateKey(pem)).toString('base64url')}`;
  }

  async function tokenCall(claims: Obj, pem?: string, grant = 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
    const res = await fetch(`${emu.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: grant, assertion: assertion(claims, pem) }),
    });
    return { status: res.status, body: (await res.json()) as Obj };
  }

  const now = () => Math.floor(Date.now() / 1000);
  const good = () => ({
    iss: emu.serviceAccount.email,
    scope: 'https://www.googleapis.com/auth/admin.directory.user.readonly',
    aud: 'https://oauth2.googleapis.com/token',
    iat: now(),
    exp: now() + 3600,
    sub: emu.adminEmail,
  });

  it('token endpoint: a valid assertion gets a Bearer token with expires_in', async () => {
    const r = await tokenCall(good());
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      access_token: expect.any(String),
      expires_in: 3599,
      token_type: 'Bearer',
    });
  });

  it('token endpoint: signature, audience, lifetime, grant type, subject and delegated scopes are checked', async () => {
    const foreign = JSON.parse(foreignKeyFile(emu.serviceAccount)) as { private_key: string };
    const cases: [Obj, string | undefined, number, string, string?][] = [
      [good(), foreign.private_key, 400, 'invalid_grant'],
      [{ ...good(), aud: 'https://example.com/token' }, undefined, 400, 'invalid_grant'],
      [{ ...good(), iat: now() - 7200, exp: now() - 3600 }, undefined, 400, 'invalid_grant'],
      [{ ...good(), exp: now() + 7200 }, undefined, 400, 'invalid_grant'],
      [{ ...good(), iss: 'someone@else.iam.gserviceaccount.com' }, undefined, 400, 'invalid_grant'],
      [{ ...good(), sub: 'ghost@example.com' }, undefined, 400, 'invalid_grant'],
      [{ ...good(), scope: 'https://www.googleapis.com/auth/admin.directory.user' }, undefined, 200, ''],
      [
        { ...good(), scope: 'https://www.googleapis.com/auth/gmail.readonly' },
        undefined,
        401,
        'unauthorized_client',
      ],
      [good(), undefined, 400, 'unsupported_grant_type', 'client_credentials'],
    ];
    for (const [claims, pem, status, error, grant] of cases) {
      const r = await tokenCall(claims, pem, grant);
      expect({ status: r.status, error: r.body.error ?? '' }).toEqual({ status, error });
    }
  });

  it('a token without the group scope may not list groups (403 insufficientPermissions)', async () => {
    const t = await tokenCall(good());
    const r = await get('groups?customer=my_customer', t.body.access_token as string);
    expect(r.status).toBe(403);
    expectGoogleError(r.body, 403, 'insufficientPermissions');
  });
});
