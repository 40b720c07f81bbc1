/**
 * HTTP routing of the Keycloak emulator: the OpenID Connect token endpoint, the admin REST API
 * paths the connector reads, Keycloak's error bodies, and the fault injection wrapped around them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { drawFault, hang, reset, sleep, truncate } from '../../emulator-kit/faults.js';
import type { FaultOptions } from '../../emulator-kit/types.js';
import { BadEventQuery, type AdminEventLog } from './events.js';
import type { RealmMutations } from './mutations.js';
import { realmRep, serverInfo } from './realm.js';
import type { Page, RealmStore, UserFilter } from './store.js';
import type { TokenClaims, TokenIssuer } from './tokens.js';

export interface EmulatedClient {
  clientId: string;
  /** Null for a public client (admin-cli). */
  secret: string | null;
  serviceAccount: { id: string; username: string } | null;
  directAccessGrants: boolean;
}

export interface EmulatedRealm {
  store: RealmStore;
  /** Admin events of the realm, recorded by `mutations`. */
  events: AdminEventLog;
  /** The realm's one mutation path (records admin events). */
  mutations: RealmMutations;
  clients: Map<string, EmulatedClient>;
  /** Users who can sign in with the password grant (the master realm's admin). */
  passwords: Map<string, { id: string; password: string }>;
}

/** A persistent failure for requests whose path (and query) match, for "a page fails mid-read" tests. */
export interface FailureRule {
  match: RegExp;
  mode: 'error' | 'truncate' | 'reset' | 'timeout';
  /** For `error` (default 500). */
  status?: number;
  /** How many matching requests fail; unlimited when absent. */
  times?: number;
}

export interface EmulatorState {
  realms: Map<string, EmulatedRealm>;
  tokens: TokenIssuer;
  /** Epoch ms the emulator started (serverinfo's uptime). */
  startedAt: number;
  faults: FaultOptions | undefined;
  latencyMs: number;
  /** Admin requests answered 503 right away, as Keycloak does past `http-max-queued-requests`. */
  stormRemaining: number;
  stormStatus: number;
  failure: FailureRule | null;
  /** Concurrent admin requests beyond this are shed with 503; 0 = unlimited. */
  maxInFlight: number;
  inFlight: number;
  peakInFlight: number;
  forbidden: boolean;
  requests: number;
  tokenRequests: number;
  /** Admin requests refused for a missing, expired or revoked token. */
  rejectedTokens: number;
}

const JSON_HEADERS = {
  'content-type': 'application/json',
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'SAMEORIGIN',
};

function send(res: ServerResponse, status: number, body: unknown, cut = false): void {
  const text = JSON.stringify(body);
  if (cut) return truncate(res, status, JSON_HEADERS, text);
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Keycloak's admin API error body: `{"error":"HTTP 401 Unauthorized"}` and friends. */
const errorBody = (error: string, description?: string) =>
  description === undefined ? { error } : { error, error_description: description };

function shed(res: ServerResponse, status: number): void {
  // Vert.x sheds load with a bare 503 and no Retry-After.
  res.writeHead(status, { 'content-length': 0 });
  res.end();
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Form values as RFC 6749 §2.3.1 encodes them in Basic auth: form-urlencoded, then base64. */
const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));

function basicAuth(header: string | undefined): { id: string; secret: string } | null {
  if (!header?.toLowerCase().startsWith('basic ')) return null;
  const raw = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const i = raw.indexOf(':');
  if (i < 0) return null;
  try {
    return { id: formDecode(raw.slice(0, i)), secret: formDecode(raw.slice(i + 1)) };
  } catch {
    return null;
  }
}

function bool(q: URLSearchParams, key: string, fallback: boolean): boolean;
function bool(q: URLSearchParams, key: string, fallback: undefined): boolean | undefined;
function bool(q: URLSearchParams, key: string, fallback: boolean | undefined): boolean | undefined {
  const v = q.get(key);
  if (v === null) return fallback;
  return v.toLowerCase() === 'true';
}

class BadParam extends Error {}

function int(q: URLSearchParams, key: string, fallback: number): number {
  const v = q.get(key);
  if (v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new BadParam(`${key} must be an integer`);
  return n;
}

const page = (q: URLSearchParams, defaultFirst: number, defaultMax: number): Page => ({
  first: int(q, 'first', defaultFirst),
  max: int(q, 'max', defaultMax),
});

/** Keycloak's defaults: Constants.DEFAULT_MAX_RESULTS = 100; `/children` declares 10; `/groups` none. */
const USERS_DEFAULT_MAX = 100;
const MEMBERS_DEFAULT_MAX = 100;
const CHILDREN_DEFAULT_MAX = 10;

async function token(
  state: EmulatorState,
  realmName: string,
  req: IncomingMessage,
  res: ServerResponse,
  cut: boolean,
) {
  state.tokenRequests++;
  const realm = state.realms.get(realmName);
  if (!realm) return send(res, 404, errorBody('Realm does not exist'));
  if (req.method !== 'POST') return send(res, 405, errorBody('HTTP 405 Method Not Allowed'));
  const form = new URLSearchParams(await readBody(req));
  const basic = basicAuth(req.headers.authorization);
  const clientId = basic?.id ?? form.get('client_id');
  const secret = basic?.secret ?? form.get('client_secret');
  const grant = form.get('grant_type');
  const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' };
  const reply = (status: number, body: unknown) => {
    for (const [k, v] of Object.entries(noStore)) res.setHeader(k, v);
    send(res, status, body, cut && status === 200);
  };
  if (!grant) return reply(400, errorBody('invalid_request', 'Missing form parameter: grant_type'));
  const client = clientId ? realm.clients.get(clientId) : undefined;
  if (!client) return reply(401, errorBody('invalid_client', 'Invalid client or Invalid client credentials'));
  if (client.secret !== null && secret !== client.secret) {
    return reply(401, errorBody('unauthorized_client', 'Invalid client or Invalid client credentials'));
  }
  let sub: string;
  let username: string;
  if (grant === 'client_credentials') {
    if (!client.serviceAccount) {
      return reply(401, errorBody('unauthorized_client', 'Client not enabled to retrieve service account'));
    }
    sub = client.serviceAccount.id;
    username = client.serviceAccount.username;
  } else if (grant === 'password') {
    if (!client.directAccessGrants) {
      return reply(400, errorBody('unauthorized_client', 'Client not allowed for direct access grants'));
    }
    const user = realm.passwords.get(form.get('username') ?? '');
    if (!user || user.password !== form.get('password')) {
      return reply(401, errorBody('invalid_grant', 'Invalid user credentials'));
    }
    sub = user.id;
    username = form.get('username') as string;
  } else {
    return reply(400, errorBody('unsupported_grant_type', 'Unsupported grant_type'));
  }
  const access = state.tokens.issue(realmName, sub, client.clientId, username);
  // No refresh token for client credentials (Keycloak's default since 12, per RFC 6749 §4.4.3).
  const refresh = grant === 'password' ? state.tokens.issue(realmName, sub, client.clientId, username) : null;
  reply(200, {
    access_token: access.token,
    expires_in: access.expiresIn,
    refresh_expires_in: refresh ? 1800 : 0,
    ...(refresh ? { refresh_token: refresh.token } : {}),
    token_type: 'Bearer',
    'not-before-policy': 0,
    ...(refresh ? { session_state: 'emulated' } : {}),
    scope: 'profile email',
  });
}

function userFilter(q: URLSearchParams): UserFilter {
  const opt = (k: string) => q.get(k) ?? undefined;
  const filterKeys = [
    'lastName',
    'firstName',
    'email',
    'username',
    'emailVerified',
    'idpAlias',
    'idpUserId',
    'enabled',
    'exact',
    'q',
  ];
  const f: UserFilter = { filtered: q.get('search') === null && filterKeys.some((k) => q.has(k)) };
  const set = <K extends keyof UserFilter>(k: K, v: UserFilter[K] | undefined) => {
    if (v !== undefined) f[k] = v;
  };
  set('search', opt('search'));
  set('username', opt('username'));
  set('email', opt('email'));
  set('firstName', opt('firstName'));
  set('lastName', opt('lastName'));
  set('q', opt('q'));
  set('enabled', bool(q, 'enabled', undefined));
  set('exact', bool(q, 'exact', undefined));
  return f;
}

function admin(
  state: EmulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  parts: string[],
  q: URLSearchParams,
  cut: boolean,
) {
  const bearer = req.headers.authorization;
  const claims = bearer?.startsWith('Bearer ') ? state.tokens.verify(bearer.slice(7)) : null;
  if (!claims) {
    state.rejectedTokens++;
    return send(res, 401, errorBody('HTTP 401 Unauthorized'));
  }
  const realm = state.realms.get(parts[0] as string);
  if (!realm) return send(res, 404, errorBody('Realm not found.'));
  // A realm's own service account manages that realm; the master realm's admin manages all.
  const issuer = claims.iss.slice(claims.iss.lastIndexOf('/') + 1);
  if (state.forbidden || (issuer !== 'master' && issuer !== parts[0])) {
    return send(res, 403, errorBody('HTTP 403 Forbidden'));
  }
  if (req.method !== 'GET') return send(res, 405, errorBody('HTTP 405 Method Not Allowed'));
  const store = realm.store;
  const ok = (body: unknown) => send(res, 200, body, cut);
  const [, kind, id, sub, ...rest] = parts;
  if (kind === undefined) return ok(realmRep(realm.store.name, realm.events.settings));
  if (kind === 'events' && id === 'config' && sub === undefined) {
    const s = realm.events.settings;
    return ok({
      eventsEnabled: false,
      eventsListeners: ['jboss-logging'],
      enabledEventTypes: [],
      adminEventsEnabled: s.enabled,
      adminEventsDetailsEnabled: s.details,
    });
  }
  if (kind === 'admin-events' && id === undefined) {
    return ok(
      realm.events.query({
        ...(q.has('dateFrom') ? { dateFrom: q.get('dateFrom') as string } : {}),
        ...(q.has('dateTo') ? { dateTo: q.get('dateTo') as string } : {}),
        ...(q.has('direction') ? { direction: q.get('direction') as string } : {}),
        first: int(q, 'first', 0),
        max: int(q, 'max', 100),
        resourceTypes: q.getAll('resourceTypes'),
        operationTypes: q.getAll('operationTypes'),
        ...(q.has('resourcePath') ? { resourcePath: q.get('resourcePath') as string } : {}),
      }),
    );
  }
  if (kind === 'users' && id !== undefined && id !== 'count' && sub === 'groups') {
    const u = store.user(id);
    if (!u) return send(res, 404, errorBody('User not found'));
    const search = q.get('search') ?? undefined;
    if (rest.length === 1 && rest[0] === 'count') return ok({ count: store.userGroups(id, search).length });
    if (rest.length > 0) return notFound(res);
    return ok(store.listUserGroups(id, search, page(q, -1, -1), !bool(q, 'briefRepresentation', true)));
  }
  if (kind === 'users' && id === 'profile' && rest.length === 0) {
    if (sub === undefined) return ok(USER_PROFILE);
    if (sub === 'metadata') return ok(userProfileMetadata());
  }
  if (rest.length > 0) return notFound(res);
  if (kind === 'users') {
    if (id === undefined)
      return ok(
        store.listUsers(userFilter(q), page(q, -1, USERS_DEFAULT_MAX), bool(q, 'briefRepresentation', false)),
      );
    if (id === 'count' && sub === undefined) return ok(store.countUsers(userFilter(q)));
    if (sub !== undefined) return notFound(res);
    const u = store.user(id);
    // UsersResource: "we do this to make sure somebody can't phish ids"
    if (!u) return send(res, 404, errorBody('User not found'));
    return ok({ ...store.userRep(u, false), access: { view: true, manage: false } });
  }
  if (kind === 'groups') {
    if (id === undefined) {
      return ok(
        store.listGroups(
          {
            ...(q.has('search') ? { search: q.get('search') as string } : {}),
            ...(q.has('q') ? { q: q.get('q') as string } : {}),
            exact: bool(q, 'exact', false),
            populateHierarchy: bool(q, 'populateHierarchy', true),
            subGroupsCount: bool(q, 'subGroupsCount', true),
          },
          page(q, -1, -1),
          !bool(q, 'briefRepresentation', true),
        ),
      );
    }
    if (id === 'count' && sub === undefined)
      return ok({ count: store.countGroups(q.get('search') ?? undefined, bool(q, 'top', false)) });
    const g = store.group(id);
    if (!g) return send(res, 404, errorBody('Could not find group by id'));
    if (sub === undefined) return ok(store.groupRep(g, true, true));
    if (sub === 'children') {
      return ok(
        store.listChildren(
          id,
          {
            ...(q.has('search') ? { search: q.get('search') as string } : {}),
            exact: bool(q, 'exact', false),
            subGroupsCount: bool(q, 'subGroupsCount', true),
          },
          page(q, 0, CHILDREN_DEFAULT_MAX),
          !bool(q, 'briefRepresentation', false),
        ),
      );
    }
    if (sub === 'members')
      return ok(
        store.listMembers(id, page(q, 0, MEMBERS_DEFAULT_MAX), bool(q, 'briefRepresentation', false)),
      );
  }
  return notFound(res);
}

/** `GET /admin/realms`: the realms the caller may see (a realm's own admin sees only that realm). */
function listRealms(state: EmulatorState, claims: TokenClaims, res: ServerResponse, cut: boolean): void {
  const issuer = claims.iss.slice(claims.iss.lastIndexOf('/') + 1);
  const visible = [...state.realms.entries()].filter(([name]) => issuer === 'master' || name === issuer);
  send(
    res,
    200,
    visible.map(([name, r]) => realmRep(name, r.events.settings)),
    cut,
  );
}

/** The realm's user profile (UPConfig): Keycloak's four built-in attributes plus the org's two. */
const PROFILE_ATTRIBUTES = ['username', 'email', 'firstName', 'lastName', 'department', 'title'];
const USER_PROFILE = {
  attributes: PROFILE_ATTRIBUTES.map((name) => ({
    name,
    displayName: `\${${name}}`,
    permissions: { view: ['admin', 'user'], edit: name === 'username' ? ['admin'] : ['admin', 'user'] },
    multivalued: false,
    ...(name === 'username' || name === 'email'
      ? { validations: { length: { min: name === 'username' ? 3 : 1, max: 255 } } }
      : {}),
  })),
  groups: [
    {
      name: 'user-metadata',
      displayHeader: 'User metadata',
      displayDescription: 'Attributes, which refer to user metadata',
    },
  ],
  unmanagedAttributePolicy: 'ADMIN_VIEW',
};

function userProfileMetadata() {
  return {
    attributes: PROFILE_ATTRIBUTES.map((name) => ({
      name,
      displayName: `\${${name}}`,
      required: name === 'username',
      readOnly: false,
      validators: {},
      multivalued: false,
    })),
    groups: USER_PROFILE.groups,
  };
}

function notFound(res: ServerResponse): void {
  send(res, 404, errorBody('Unable to find matching target resource method'));
}

/** `/admin/serverinfo` and `/admin/realms`: any valid admin token of any realm. */
function adminRoot(
  state: EmulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  what: string,
  cut: boolean,
): void {
  const bearer = req.headers.authorization;
  const claims = bearer?.startsWith('Bearer ') ? state.tokens.verify(bearer.slice(7)) : null;
  if (!claims) {
    state.rejectedTokens++;
    return send(res, 401, errorBody('HTTP 401 Unauthorized'));
  }
  if (req.method !== 'GET') return send(res, 405, errorBody('HTTP 405 Method Not Allowed'));
  if (state.forbidden) return send(res, 403, errorBody('HTTP 403 Forbidden'));
  if (what === 'realms') return listRealms(state, claims, res, cut);
  const issuer = claims.iss.slice(claims.iss.lastIndexOf('/') + 1);
  return send(res, 200, serverInfo(issuer === 'master', state.startedAt), cut);
}

/** Serves one request of the emulated Keycloak API (everything but `/__emulator`). */
export async function serveKeycloak(
  state: EmulatorState,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://emulator');
  // The admin client sends `/admin/realms/acme/users/?first=0`: trailing slashes are fine.
  const parts = url.pathname
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  const isAdmin = parts[0] === 'admin' && parts[1] === 'realms' && parts.length >= 3;
  const isAdminRoot =
    parts[0] === 'admin' && parts.length === 2 && (parts[1] === 'serverinfo' || parts[1] === 'realms');
  const isToken =
    parts[0] === 'realms' &&
    parts.length === 5 &&
    parts.slice(2).join('/') === 'protocol/openid-connect/token';

  state.inFlight++;
  state.peakInFlight = Math.max(state.peakInFlight, state.inFlight);
  res.on('close', () => state.inFlight--);
  if (isAdmin && state.maxInFlight > 0 && state.inFlight > state.maxInFlight) return shed(res, 503);
  if (state.latencyMs > 0) await sleep(state.latencyMs);

  if (isAdmin && state.stormRemaining > 0) {
    state.stormRemaining--;
    return shed(res, state.stormStatus);
  }
  let cut = false;
  const rule = state.failure;
  if (rule && (rule.times === undefined || rule.times > 0) && rule.match.test(url.pathname + url.search)) {
    if (rule.times !== undefined) rule.times--;
    if (rule.mode === 'error') return send(res, rule.status ?? 500, errorBody('unknown_error'));
    if (rule.mode === 'reset') return reset(res);
    if (rule.mode === 'timeout') return hang(res);
    cut = true;
  }
  const fault = drawFault(state.faults);
  if (fault === 'error') return shed(res, 503);
  if (fault === 'timeout') return hang(res, 60_000);
  if (fault === 'reset') return reset(res);
  if (fault === 'truncate') cut = true;

  try {
    if (isToken) return await token(state, parts[1] as string, req, res, cut);
    if (isAdmin) return admin(state, req, res, parts.slice(2), url.searchParams, cut);
    if (isAdminRoot) return adminRoot(state, req, res, parts[1] as string, cut);
    return notFound(res);
  } catch (e) {
    if (e instanceof BadParam || e instanceof BadEventQuery) return send(res, 400, errorBody(e.message));
    throw e;
  }
}
