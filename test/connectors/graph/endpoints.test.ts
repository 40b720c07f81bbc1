/**
 * Read endpoints that independent directory readers call, over raw HTTPS against the emulator,
 * each answered as Graph does (status, envelope, content type) and validated against the v1.0
 * CSDL where it covers the payload; or with Graph's own error for what needs an advanced query.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { startEmulator, graphId, type GraphEmulator } from '../../../connectors/graph/emulator/index.js';
import { hasPhoto, PHOTO_SIZES } from '../../../connectors/graph/emulator/reads.js';
import { loadCsdl, validateEntity, type Csdl } from './csdl.js';
import { requestToken } from './helpers.js';

type Json = Record<string, unknown>;
const EVENTUAL = { consistencylevel: 'eventual' };

describe('graph emulator: read endpoints beyond the sync', () => {
  let emu: GraphEmulator;
  let csdl: Csdl;
  let dispatcher: Agent;
  let token: string;

  async function call(path: string, headers: Record<string, string> = {}) {
    const res = await request(path.startsWith('https://') ? path : `${emu.url}${path}`, {
      dispatcher,
      headers: { authorization: `Bearer ${token}`, ...headers },
    });
    const buf = Buffer.from(await res.body.arrayBuffer());
    const type = String(res.headers['content-type'] ?? '');
    const body = type.includes('json') ? (JSON.parse(buf.toString('utf8')) as Json) : null;
    return { status: res.statusCode, type, body: body as Json, raw: buf };
  }

  function expectValid(type: string, objs: Json[]) {
    expect(objs.flatMap((o) => validateEntity(csdl, type, o))).toEqual([]);
  }

  /** Each object against the type its `@odata.type` names. */
  function expectValidTyped(objs: Json[]) {
    expect(objs.every((o) => typeof o['@odata.type'] === 'string')).toBe(true);
    expectValid(
      'microsoft.graph.directoryObject',
      objs.map((o) => ({ '@odata.type': o['@odata.type'] })),
    );
    expect(objs.flatMap((o) => validateEntity(csdl, (o['@odata.type'] as string).slice(1), o))).toEqual([]);
  }

  function expectError(r: { status: number; body: Json }, status: number, code: string) {
    expect(r.status).toBe(status);
    expect((r.body.error as Json).code).toBe(code);
  }

  beforeAll(async () => {
    csdl = loadCsdl();
    emu = await startEmulator({ users: 120, groups: 16, membersPerGroup: 10, nestingDepth: 3, seed: 5 });
    dispatcher = new Agent({ connect: { ca: readFileSync(emu.caFile, 'utf8') } });
    token = (await requestToken(emu, dispatcher)).body.access_token as string;
  });
  afterAll(async () => {
    await dispatcher?.close();
    await emu?.close();
  });

  const listed = () => emu.org.users.filter((u) => u.status !== 'deprovisioned');

  it('GET /organization and /organization/{tenantId}', async () => {
    const list = await call('/v1.0/organization');
    expect(list.status).toBe(200);
    const value = list.body.value as Json[];
    expect(value).toHaveLength(1);
    expect(value[0]!.id).toBe(emu.tenantId);
    expectValid('microsoft.graph.organization', value);
    const one = await call(`/v1.0/organization/${emu.tenantId}`);
    expect(one.status).toBe(200);
    expect(one.body.id).toBe(emu.tenantId);
    expect((one.body.verifiedDomains as Json[])[0]!.name).toBe(emu.org.domain);
    const { '@odata.context': _, ...entity } = one.body;
    expectValid('microsoft.graph.organization', [entity]);
    expectError(await call(`/v1.0/organization/${graphId('other')}`), 404, 'Request_ResourceNotFound');
  });

  it('GET /users/{id}/photo, /photos, /photo/$value: sizes, bytes, or 404 ImageNotFound', async () => {
    const withPhoto = listed().find(hasPhoto)!;
    const without = listed().find((u) => !hasPhoto(u))!;
    const id = graphId(withPhoto.id);
    const p = await call(`/v1.0/users/${id}/photo`);
    expect(p.status).toBe(200);
    const { '@odata.context': _c, '@odata.mediaContentType': mt, '@odata.mediaEtag': _e, ...photo } = p.body;
    expect(mt).toBe('image/jpeg');
    expectValid('microsoft.graph.profilePhoto', [photo]);
    expect(photo.width).toBe(648);
    const sizes = await call(`/v1.0/users/${id}/photos`);
    expect((sizes.body.value as Json[]).map((s) => s.id)).toEqual(PHOTO_SIZES.map((s) => `${s}X${s}`));
    const v = await call(`/v1.0/users/${id}/photo/$value`);
    expect(v.status).toBe(200);
    expect(v.type).toBe('image/jpeg');
    expect([...v.raw.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    const small = await call(`/v1.0/users/${id}/photos/48X48/$value`);
    expect(small.status).toBe(200);
    const none = graphId(without.id);
    expectError(await call(`/v1.0/users/${none}/photo`), 404, 'ImageNotFound');
    expectError(await call(`/v1.0/users/${none}/photo/$value`), 404, 'ImageNotFound');
    expect((await call(`/v1.0/users/${none}/photos`)).body.value).toEqual([]);
  });

  it('photos do not count against the directory throttling budget', async () => {
    const id = graphId(listed().find(hasPhoto)!.id);
    emu.throttle({ limit: 3, windowMs: 60_000 });
    try {
      for (let i = 0; i < 10; i++) expect((await call(`/v1.0/users/${id}/photo`)).status).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await call('/v1.0/users?$top=1')).status);
      expect(statuses).toContain(429);
    } finally {
      emu.throttle({ limit: 100_000, windowMs: 10_000 });
    }
  });

  it('GET /users/$count and /groups/$count need ConsistencyLevel: eventual', async () => {
    const u = await call('/v1.0/users/$count', EVENTUAL);
    expect(u.status).toBe(200);
    expect(u.type).toMatch(/^text\/plain/);
    expect(Number(u.raw.toString())).toBe(listed().length);
    const g = await call('/v1.0/groups/$count', EVENTUAL);
    expect(Number(g.raw.toString())).toBe(emu.org.groups.length);
    expectError(await call('/v1.0/users/$count'), 400, 'Request_BadRequest');
    expectError(await call('/v1.0/groups/$count'), 400, 'Request_BadRequest');
  });

  it('GET /users/{id} and /groups/{id}, 404 for unknown ids', async () => {
    const u = listed()[0]!;
    const r = await call(`/v1.0/users/${graphId(u.id)}?$select=id,displayName,accountEnabled`);
    expect(r.status).toBe(200);
    expect(r.body.displayName).toBe(u.displayName);
    const g = emu.org.groups[0]!;
    expect((await call(`/v1.0/groups/${graphId(g.id)}`)).body.displayName).toBe(g.name);
    expectError(await call(`/v1.0/users/${graphId('nobody')}`), 404, 'Request_ResourceNotFound');
    expectError(await call(`/v1.0/groups/${graphId('nothing')}`), 404, 'Request_ResourceNotFound');
  });

  it('GET /groups/{id}/members and /transitiveMembers (nested members once each)', async () => {
    const top = emu.org.groups.find(
      (g) => g.parentId === null && emu.org.groups.some((c) => c.parentId === g.id),
    )!;
    const direct = await call(`/v1.0/groups/${graphId(top.id)}/members?$top=999`);
    const all = await call(`/v1.0/groups/${graphId(top.id)}/transitiveMembers?$top=999`);
    expect(all.status).toBe(200);
    const ids = (all.body.value as Json[]).map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThan((direct.body.value as Json[]).length);
    // A member of a child group shows up transitively.
    const child = emu.org.groups.find((c) => c.parentId === top.id)!;
    const childUser = [...(emu.org.members.get(child.id) ?? [])].find((id) =>
      listed().some((u) => u.id === id),
    );
    if (childUser) expect(ids).toContain(graphId(childUser));
    expectValidTyped(all.body.value as Json[]);
    const users = await call(
      `/v1.0/groups/${graphId(top.id)}/transitiveMembers/microsoft.graph.user?$top=999`,
    );
    expect((users.body.value as Json[]).every((m) => m['@odata.type'] === undefined)).toBe(true);
  });

  it('GET /users/{id}/memberOf and /transitiveMemberOf', async () => {
    const [gid, members] = [...emu.org.members].find(
      ([g, s]) => s.size > 0 && emu.org.groups.find((x) => x.id === g)?.parentId,
    )!;
    const uid = [...members].find((id) => listed().some((u) => u.id === id))!;
    const direct = await call(`/v1.0/users/${graphId(uid)}/memberOf`);
    expect(direct.status).toBe(200);
    const directIds = (direct.body.value as Json[]).map((g) => g.id);
    expect(directIds).toContain(graphId(gid));
    expect((direct.body.value as Json[]).every((g) => g['@odata.type'] === '#microsoft.graph.group')).toBe(
      true,
    );
    expectValidTyped(direct.body.value as Json[]);
    const parent = emu.org.groups.find((x) => x.id === gid)!.parentId!;
    const all = await call(`/v1.0/users/${graphId(uid)}/transitiveMemberOf/microsoft.graph.group`);
    expect((all.body.value as Json[]).map((g) => g.id)).toContain(graphId(parent));
  });

  it('$filter, $count=true, $search and $orderby answer as Graph or with its error', async () => {
    const f = await call(
      `/v1.0/users?$filter=${encodeURIComponent('accountEnabled eq true')}&$select=id,accountEnabled&$top=999`,
    );
    expect((f.body.value as Json[]).every((u) => u.accountEnabled === true)).toBe(true);
    expectError(await call('/v1.0/users?$count=true'), 400, 'Request_BadRequest');
    const c = await call('/v1.0/users?$count=true&$top=5', EVENTUAL);
    expect(c.body['@odata.count']).toBe(listed().length);
    const name = listed()[0]!.displayName.split(' ')[0]!;
    const search = `$search=${encodeURIComponent(`"displayName:${name}"`)}&$top=999`;
    expectError(await call(`/v1.0/users?${search}`), 400, 'Request_UnsupportedQuery');
    const s = await call(`/v1.0/users?${search}`, EVENTUAL);
    expect(s.status).toBe(200);
    const found = (s.body.value as Json[]).map((u) => u.displayName as string);
    expect(found.length).toBeGreaterThan(0);
    expect(
      found.every(
        (d) =>
          d
            .toLowerCase()
            .split(/[^\p{L}\p{N}]+/u)
            .some((w) => w.startsWith(name.toLowerCase())) || d.toLowerCase().startsWith(name.toLowerCase()),
      ),
    ).toBe(true);
    expectError(
      await call(`/v1.0/users?$search=${encodeURIComponent('"city:x"')}`, EVENTUAL),
      400,
      'Request_UnsupportedQuery',
    );
    const o = await call('/v1.0/users?$orderby=displayName&$top=999&$select=displayName');
    const names = (o.body.value as Json[]).map((u) => String(u.displayName).toLowerCase());
    expect(names).toEqual([...names].sort());
    expectError(await call('/v1.0/users?$orderby=mail'), 400, 'Request_UnsupportedQuery');
    expect((await call('/v1.0/users?$orderby=mail desc', EVENTUAL)).status).toBe(200);
    const filterSort = `$filter=${encodeURIComponent('accountEnabled eq true')}&$orderby=displayName`;
    expectError(await call(`/v1.0/users?${filterSort}`), 400, 'Request_UnsupportedQuery');
    const gs = await call('/v1.0/groups?$orderby=displayName desc&$top=999');
    const gn = (gs.body.value as Json[]).map((g) => String(g.displayName).toLowerCase());
    expect(gn).toEqual([...gn].sort().reverse());
  });
});
