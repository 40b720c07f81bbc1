/**
 * The emulator's responses validated against Okta's management OpenAPI spec
 * (/work/shared/idp-specs/okta/management.yaml): User, Group, list and Error schemas with their
 * $refs resolved, no fields the spec does not define, and the wire details the spec leaves to prose
 * (Link paging, X-Rate-Limit-* headers, DEPROVISIONED hidden from a plain listing, page caps).
 */
import { specPath } from '../../helpers/specs.js';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { EVERYONE_ID, type OktaEmulator } from '../../../connectors/okta/emulator/index.js';
import { accessTokenHash, publicJwk, signJwt } from '../../../connectors/okta/jwt.js';
import { parsePrivateKey } from '../../../connectors/okta/token.js';
import { emulator } from './helpers.js';

const SPEC_PATH = process.env.OKTA_SPEC ?? specPath('okta/management.yaml');
const SPEC_ID = 'https://okta.example/management.yaml';
const addFormats = addFormatsImport as unknown as (ajv: Ajv) => Ajv;

type Schema = { properties?: Record<string, unknown>; [k: string]: unknown };
let spec: { components: { schemas: Record<string, Schema> }; paths: Record<string, Record<string, unknown>> };
let ajv: Ajv;
let emu: OktaEmulator;

function validator(ref: string, list = false): ValidateFunction {
  const schema = list ? { type: 'array', items: { $ref: `${SPEC_ID}${ref}` } } : { $ref: `${SPEC_ID}${ref}` };
  return ajv.compile(schema);
}

function expectValid(validate: ValidateFunction, body: unknown): void {
  const ok = validate(body);
  expect(ok ? [] : validate.errors?.slice(0, 5)).toEqual([]);
}

async function get(path: string, auth = `SSWS ${emu.env.DIRSYNC_OKTA_API_TOKEN}`) {
  const res = await fetch(`${emu.url}${path}`, {
    headers: { Authorization: auth, Accept: 'application/json' },
  });
  return { res, body: (await res.json()) as unknown };
}

beforeAll(async () => {
  spec = parse(readFileSync(SPEC_PATH, 'utf8'), { maxAliasCount: -1 }) as typeof spec;
  ajv = new Ajv({ strict: false, validateSchema: false, allErrors: true });
  addFormats(ajv);
  for (const f of ['int32', 'int64', 'float', 'double', 'byte', 'binary', 'password']) ajv.addFormat(f, true);
  // Schemas only: `components.examples` hold sample documents with `$id`s such as `http://{yourOktaDomain}/...`.
  ajv.addSchema({ $id: SPEC_ID, components: { schemas: spec.components.schemas } });
  emu = await emulator({ users: 120, groups: 30, membersPerGroup: 10 });
});
afterAll(() => emu.close());

describe('okta emulator fidelity (management.yaml)', () => {
  it('the spec documents the endpoints, parameters and page sizes the emulator serves', () => {
    const users = spec.paths['/api/v1/users']?.get as {
      parameters: { name?: string; schema?: { default?: number } }[];
    };
    const groups = spec.paths['/api/v1/groups']?.get as {
      parameters: { name?: string; schema?: { maximum?: number } }[];
    };
    const members = spec.paths['/api/v1/groups/{groupId}/users']?.get as {
      parameters: { name?: string; schema?: { default?: number } }[];
    };
    expect(users.parameters.find((p) => p.name === 'limit')?.schema?.default).toBe(200);
    expect(users.parameters.map((p) => p.name)).toEqual(
      expect.arrayContaining(['search', 'filter', 'limit']),
    );
    expect(groups.parameters.find((p) => p.name === 'limit')?.schema?.maximum).toBe(10_000);
    expect(members.parameters.find((p) => p.name === 'limit')?.schema?.default).toBe(1000);
  });

  it('list users returns an array of spec-valid Users with only spec-defined fields', async () => {
    const { res, body } = await get('/api/v1/users?limit=50');
    expect(res.status).toBe(200);
    const validate = validator('#/components/schemas/User', true);
    expectValid(validate, body);
    // The validator has teeth: a wrong status, a non-email login or a string `created` fail.
    const first = (body as Record<string, unknown>[])[0] as Record<string, unknown>;
    expect(validate([{ ...first, status: 'ENABLED' }])).toBe(false);
    expect(validate([{ ...first, created: 'yesterday' }])).toBe(false);
    expect(validate([{ ...first, profile: { ...(first.profile as object), login: 'ab' } }])).toBe(false);
    const userProps = Object.keys(spec.components.schemas.User?.properties ?? {});
    const profileProps = Object.keys(spec.components.schemas.UserProfile?.properties ?? {});
    for (const u of body as Record<string, unknown>[]) {
      expect(Object.keys(u).filter((k) => !userProps.includes(k))).toEqual([]);
      expect(Object.keys(u.profile as object).filter((k) => !profileProps.includes(k))).toEqual([]);
    }
  });

  it('search and filter results (with DEPROVISIONED and SUSPENDED users) are spec-valid', async () => {
    const { body } = await get(
      `/api/v1/users?filter=${encodeURIComponent('status eq "DEPROVISIONED" or status eq "SUSPENDED"')}`,
    );
    const statuses = new Set((body as { status: string }[]).map((u) => u.status));
    expect(statuses).toEqual(new Set(['DEPROVISIONED', 'SUSPENDED']));
    expectValid(validator('#/components/schemas/User', true), body);
  });

  it('list groups returns spec-valid Groups of every type, with only spec-defined fields', async () => {
    const { body } = await get('/api/v1/groups');
    expectValid(validator('#/components/schemas/Group', true), body);
    const groups = body as { id: string; type: string; profile: object; _links: Record<string, unknown> }[];
    expect(new Set(groups.map((g) => g.type))).toEqual(new Set(['OKTA_GROUP', 'APP_GROUP', 'BUILT_IN']));
    expect(groups.some((g) => g.id === EVERYONE_ID)).toBe(true);
    const groupProps = Object.keys(spec.components.schemas.Group?.properties ?? {});
    const profileProps = new Set([
      ...Object.keys(spec.components.schemas.OktaUserGroupProfile?.properties ?? {}),
      ...Object.keys(spec.components.schemas.OktaActiveDirectoryGroupProfile?.properties ?? {}),
      'groupType', // AD group profiles carry it in practice; the schema is extensible (x-okta-extensible)
    ]);
    for (const g of groups) {
      expect(Object.keys(g).filter((k) => !groupProps.includes(k))).toEqual([]);
      expect(Object.keys(g.profile).filter((k) => !profileProps.has(k))).toEqual([]);
    }
    const app = groups.find((g) => g.type === 'APP_GROUP');
    expect(app?._links.source).toBeDefined();
  });

  it('group members are spec-valid Users', async () => {
    const group = emu.org.groups.find((g) => (emu.org.members.get(g.id)?.size ?? 0) > 0);
    const { res, body } = await get(`/api/v1/groups/${group?.id}/users`);
    expect(res.status).toBe(200);
    expectValid(validator('#/components/schemas/User', true), body);
    expect((body as unknown[]).length).toBe(emu.org.members.get(group?.id as string)?.size);
  });

  it('errors are spec-valid Error objects with Okta codes (401, 403, 404, 429, 400)', async () => {
    const error = validator('#/components/schemas/Error');
    const cases: [string, string | undefined, number, string][] = [
      ['/api/v1/users', 'SSWS wrong', 401, 'E0000011'],
      ['/api/v1/groups/nope/users', undefined, 404, 'E0000007'],
      ['/api/v1/users?filter=profile.department%20eq%20%22x%22', undefined, 400, 'E0000031'],
    ];
    for (const [path, auth, status, code] of cases) {
      const { res, body } = await get(path, auth);
      expect(res.status).toBe(status);
      expectValid(error, body);
      expect(body).toMatchObject({ errorCode: code, errorLink: code, errorCauses: [] });
      expect((body as { errorId: string }).errorId).toMatch(/^oae/);
    }
    // A token without the groups scope: 403 E0000006 plus an insufficient_scope challenge.
    const { key } = parsePrivateKey(emu.env.DIRSYNC_OKTA_PRIVATE_KEY as string);
    const now = Math.floor(Date.now() / 1000);
    const tokenUrl = `${emu.url}/oauth2/v1/token`;
    const assertion = signJwt(
      { kid: emu.auth.app.keyId },
      {
        iss: emu.auth.app.clientId,
        sub: emu.auth.app.clientId,
        aud: tokenUrl,
        iat: now,
        exp: now + 60,
        jti: randomUUID(),
      },
      key,
    );
    emu.auth.app.requireDpop = false;
    const issued = emu.auth.token(
      new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'okta.users.read',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }),
      undefined,
      tokenUrl,
    );
    emu.auth.app.requireDpop = true;
    expect(issued).toMatchObject({ status: 200, body: { token_type: 'Bearer', scope: 'okta.users.read' } });
    const denied = await get('/api/v1/groups', `Bearer ${String(issued.body.access_token)}`);
    expect(denied.res.status).toBe(403);
    expectValid(error, denied.body);
    expect(denied.body).toMatchObject({ errorCode: 'E0000006' });
    expect(denied.res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
    emu.throttle(1);
    const { res, body } = await get('/api/v1/users');
    expect(res.status).toBe(429);
    expectValid(error, body);
    expect(body).toMatchObject({
      errorCode: 'E0000047',
      errorSummary: 'API call exceeded rate limit due to too many requests.',
    });
    // The SDK only retries a 429 that has both X-Rate-Limit-Reset and Date.
    expect(res.headers.get('x-rate-limit-reset')).toMatch(/^\d+$/);
    expect(res.headers.get('date')).not.toBeNull();
  });

  it('pages with absolute Link headers (self and next) and caps page sizes', async () => {
    const { res, body } = await get('/api/v1/users?limit=7');
    expect((body as unknown[]).length).toBe(7);
    const link = res.headers.get('link') ?? '';
    expect(link).toMatch(
      new RegExp(
        `^<${emu.url}/api/v1/users\\?limit=7>; rel="self", <${emu.url}/api/v1/users\\?after=[^&>]+&limit=7>; rel="next"$`,
      ),
    );
    const big = await get('/api/v1/users?limit=5000');
    expect((big.body as unknown[]).length).toBe(
      Math.min(200, emu.org.users.filter((u) => u.status !== 'deprovisioned').length),
    );
    const last = await get(`/api/v1/users?after=${'~'.repeat(3)}`);
    expect(last.body).toEqual([]);
    expect(last.res.headers.get('link')).not.toMatch(/rel="next"/);
  });

  it('hides DEPROVISIONED users from a plain listing but not from filter or search', async () => {
    const deprovisioned = emu.org.users.filter((u) => u.status === 'deprovisioned').length;
    expect(deprovisioned).toBeGreaterThan(0);
    const plain = (await get('/api/v1/users')).body as { status: string }[];
    expect(plain.some((u) => u.status === 'DEPROVISIONED')).toBe(false);
    const search = (await get(`/api/v1/users?search=${encodeURIComponent('status eq "deprovisioned"')}`))
      .body as unknown[];
    expect(search.length).toBe(deprovisioned); // search values are case-insensitive
    const filter = (await get(`/api/v1/users?filter=${encodeURIComponent('status eq "deprovisioned"')}`))
      .body as unknown[];
    expect(filter.length).toBe(0); // filter values are case-sensitive
  });

  it('every API response carries X-Rate-Limit-Limit/-Remaining/-Reset', async () => {
    for (const path of ['/api/v1/users', '/api/v1/groups', `/api/v1/groups/${emu.org.groups[0]?.id}/users`]) {
      const { res } = await get(path);
      const limit = Number(res.headers.get('x-rate-limit-limit'));
      const remaining = Number(res.headers.get('x-rate-limit-remaining'));
      expect(limit).toBeGreaterThan(0);
      expect(remaining).toBeLessThan(limit);
      expect(Number(res.headers.get('x-rate-limit-reset')) * 1000).toBeGreaterThan(Date.now() - 1000);
    }
  });

  it('is as strict as Okta about private_key_jwt and DPoP', async () => {
    const { key } = parsePrivateKey(emu.env.DIRSYNC_OKTA_PRIVATE_KEY as string);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const tokenUrl = `${emu.url}/oauth2/v1/token`;
    const { clientId, keyId } = emu.auth.app;
    const assertion = (k = key, claims: Record<string, unknown> = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return signJwt(
        { kid: keyId },
        {
          iss: clientId,
          sub: clientId,
          aud: tokenUrl,
          iat: now,
          exp: now + 60,
          jti: randomUUID(),
          ...claims,
        },
        k,
      );
    };
    const proof = (htm: string, htu: string, extra: Record<string, unknown> = {}, k = key) =>
      signJwt(
        { typ: 'dpop+jwt', jwk: publicJwk(k) },
        { htm, htu, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), ...extra },
        k,
      );
    const form = (a: string) =>
      new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'okta.users.read',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: a,
      });

    expect(emu.auth.token(form(assertion(other)), proof('POST', tokenUrl), tokenUrl)).toMatchObject({
      status: 401,
      body: { error: 'invalid_client' },
    });
    expect(
      emu.auth.token(
        form(assertion(key, { aud: `${emu.url}/oauth2/default/v1/token` })),
        proof('POST', tokenUrl),
        tokenUrl,
      ),
    ).toMatchObject({ status: 401 });
    const reused = assertion();
    emu.auth.token(form(reused), proof('POST', tokenUrl), tokenUrl);
    expect(emu.auth.token(form(reused), proof('POST', tokenUrl), tokenUrl)).toMatchObject({
      status: 401,
      body: { error: 'invalid_client' },
    });
    expect(emu.auth.token(form(assertion()), undefined, tokenUrl)).toMatchObject({
      status: 400,
      body: { error: 'invalid_dpop_proof' },
    });
    const challenge = emu.auth.token(form(assertion()), proof('POST', tokenUrl), tokenUrl);
    expect(challenge).toMatchObject({ status: 400, body: { error: 'use_dpop_nonce' } });
    const nonce = challenge.headers?.['DPoP-Nonce'] as string;
    const issued = emu.auth.token(form(assertion()), proof('POST', tokenUrl, { nonce }), tokenUrl);
    expect(issued).toMatchObject({ status: 200, body: { token_type: 'DPoP' } });
    const token = String(issued.body.access_token);
    const usersUrl = `${emu.url}/api/v1/users`;
    const call = (headers: Record<string, string>) => fetch(`${usersUrl}?limit=1`, { headers });
    const good = proof('GET', usersUrl, { ath: accessTokenHash(token) });
    expect((await call({ Authorization: `DPoP ${token}`, DPoP: good })).status).toBe(200);
    // A proof is single-use; the token is bound to its key, method, URL and hash.
    expect((await call({ Authorization: `DPoP ${token}`, DPoP: good })).status).toBe(400);
    expect((await call({ Authorization: `Bearer ${token}` })).status).toBe(400);
    expect(
      (
        await call({
          Authorization: `DPoP ${token}`,
          DPoP: proof('GET', `${emu.url}/api/v1/groups`, { ath: accessTokenHash(token) }),
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await call({
          Authorization: `DPoP ${token}`,
          DPoP: proof('POST', usersUrl, { ath: accessTokenHash(token) }),
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await call({
          Authorization: `DPoP ${token}`,
          DPoP: proof('GET', usersUrl, { ath: accessTokenHash('other') }),
        })
      ).status,
    ).toBe(400);
    const foreign = await call({
      Authorization: `DPoP ${token}`,
      DPoP: proof('GET', usersUrl, { ath: accessTokenHash(token) }, other),
    });
    expect(foreign.status).toBe(400);
    expect(foreign.headers.get('www-authenticate')).toMatch(/invalid_dpop_proof/);
  });
});
