/**
 * An Okta org on node:http: the management API's list endpoints, the org authorization server's
 * token endpoint (private_key_jwt + DPoP), SSWS API tokens, Okta's rate limits and error bodies,
 * fault injection and an admin API. See README.md ("Emulator") for what it does and does not do.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { drawFault, hang, reset, sleep, truncate, type Fault } from '../../emulator-kit/faults.js';
import { generateOrg, type Org } from '../../emulator-kit/org.js';
import type { EmulatorOptions, FaultOptions, RunningEmulator } from '../../emulator-kit/types.js';
import { familyOf } from '../budget.js';
import { handleAdmin, type EmulatorControls, type FaultRule } from './admin.js';
import { listGroups, listGroupUsers, listUsers, type ListResult } from './api.js';
import { OrgAuth } from './auth.js';
import { readBody, sendJson, sendOktaError } from './http.js';
import { listLogs } from './logs.js';
import { DEFAULT_RATE_LIMITS, OrgRateLimiter, type RateLimits } from './ratelimit.js';
import type { Stamps } from './render.js';
import { getGroup, getOrg, getUser, listUserGroups } from './resources.js';
import { OktaStore } from './store.js';

export type { FaultRule } from './admin.js';
export { EVERYONE_ID, oktaEmail, oktaGroupType, oktaLogin, oktaStatus } from './render.js';

export interface OktaEmulatorOptions extends EmulatorOptions {
  /** Which credentials the `connector` entry uses (both always work). Default `apiToken`. */
  auth?: 'apiToken' | 'privateKey';
  /** The service app's "Require DPoP header in token requests" (on by default for new API Services apps). */
  requireDpop?: boolean;
  /** Access token lifetime; Okta's org authorization server issues one-hour tokens. */
  tokenTtlSeconds?: number;
  /** Scopes granted to the service app. */
  grantedScopes?: string[];
  /** Requests per window per endpoint family (defaults: a Workforce org's per-minute limits). */
  rateLimits?: Partial<RateLimits>;
  rateLimitWindowMs?: number;
  /** Concurrent requests in flight per org (Okta: 75; 35 on Integrator Free). */
  concurrencyLimit?: number;
  /** Delay before a System Log event can be read (Okta ingests events asynchronously). Default 0. */
  logDelayMs?: number;
}

export interface OktaEmulator extends RunningEmulator, EmulatorControls {
  org: Org;
  stamps: Stamps;
  auth: OrgAuth;
  setFaults(f: FaultOptions | undefined): void;
  setFaultRule(r: FaultRule | null): void;
  setTokenTtl(seconds: number): void;
  setRateLimits(limits: Partial<RateLimits>, windowMs?: number): void;
  /** Serves the user or group `id` with these fields overwritten (null: as it is); for malformed-record tests. */
  corrupt(id: string, fields: Record<string, unknown> | null): void;
  stats(): { requests: number; tokenRequests: number; throttled: number; byFamily: Record<string, number> };
}

export async function startEmulator(opts: OktaEmulatorOptions): Promise<OktaEmulator> {
  const org = opts.org ?? generateOrg(opts);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyId = 'dirsync-emulator-key';
  const apiToken = `00${randomBytes(20).toString('base64url')}`;
  const clientId = '0oaDirsyncEmulator01';
  const auth = new OrgAuth(
    apiToken,
    {
      clientId,
      publicKey,
      keyId,
      scopes: new Set(opts.grantedScopes ?? ['okta.users.read', 'okta.groups.read', 'okta.logs.read']),
      requireDpop: opts.requireDpop ?? true,
    },
    opts.tokenTtlSeconds ?? 3600,
  );
  const limiter = new OrgRateLimiter(
    { ...DEFAULT_RATE_LIMITS, ...opts.rateLimits },
    opts.rateLimitWindowMs ?? 60_000,
    opts.concurrencyLimit ?? 75,
  );
  const store = new OktaStore(org, { logDelayMs: opts.logDelayMs ?? 0 });
  const { stamps, index } = store;
  let faults = opts.faults;
  let rule: (FaultRule & { left: number }) | null = null;
  let latencyMs = opts.latencyMs ?? 0;
  let requests = 0;
  let tokenRequests = 0;
  let throttled = 0;
  const byFamily: Record<string, number> = {};
  let base = '';

  function pickFault(url: URL): Fault | null {
    if (rule && rule.left > 0) {
      const prefixOk = !rule.pathPrefix || url.pathname.startsWith(rule.pathPrefix);
      const cursorOk = !rule.withCursor || url.searchParams.has('after');
      if (prefixOk && cursorOk) {
        rule.left--;
        return rule.fault;
      }
    }
    return drawFault(faults);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requests++;
    const url = new URL(req.url ?? '/', base);
    const path = url.pathname;
    if (path.startsWith('/__emulator/')) return handleAdmin(emu, req, res, path);

    const admitted = limiter.admit(path);
    res.on('close', admitted.done);
    const rl = admitted.headers;
    byFamily[familyOf(path)] = (byFamily[familyOf(path)] ?? 0) + 1;
    if (latencyMs > 0) await sleep(latencyMs);
    if (!admitted.allowed) {
      throttled++;
      return sendOktaError(
        res,
        429,
        'E0000047',
        'API call exceeded rate limit due to too many requests.',
        rl,
      );
    }

    if (path === '/oauth2/v1/token') {
      tokenRequests++;
      if (req.method !== 'POST')
        return sendOktaError(
          res,
          405,
          'E0000022',
          'The endpoint does not support the provided HTTP method',
          rl,
        );
      const form = new URLSearchParams(await readBody(req));
      const dpop = req.headers.dpop;
      const out = auth.token(form, typeof dpop === 'string' ? dpop : undefined, `${base}/oauth2/v1/token`);
      return sendJson(res, out.status, out.body, {
        ...rl,
        'Cache-Control': 'no-cache, no-store',
        ...out.headers,
      });
    }

    if (!path.startsWith('/api/v1/'))
      return sendOktaError(
        res,
        404,
        'E0000022',
        'The endpoint does not support the provided HTTP method',
        rl,
      );
    const who = auth.authenticate(req, `${base}${req.url ?? '/'}`, base);
    if (!who.ok) {
      return sendOktaError(res, who.status, who.code, who.summary, {
        ...rl,
        ...(who.wwwAuthenticate ? { 'WWW-Authenticate': who.wwwAuthenticate } : {}),
      });
    }
    const needed = path.startsWith('/api/v1/users')
      ? 'okta.users.read'
      : path.startsWith('/api/v1/groups')
        ? 'okta.groups.read'
        : path === '/api/v1/logs'
          ? 'okta.logs.read'
          : path === '/api/v1/org'
            ? 'okta.orgs.read'
            : null;
    if (who.scopes !== 'all' && (needed === null || !who.scopes.has(needed))) {
      return sendOktaError(
        res,
        403,
        'E0000006',
        'You do not have permission to perform the requested action',
        {
          ...rl,
          'WWW-Authenticate': `Bearer authorization_uri="${base}/oauth2/v1/authorize", realm="${base}", scope="${needed ?? ''}", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="${path}"`,
        },
      );
    }
    if (req.method !== 'GET')
      return sendOktaError(
        res,
        405,
        'E0000022',
        'The endpoint does not support the provided HTTP method',
        rl,
      );

    let result: ListResult;
    const q = url.searchParams;
    const members = /^\/api\/v1\/groups\/([^/]+)\/users$/.exec(path);
    const user = /^\/api\/v1\/users\/([^/]+)$/.exec(path);
    const userGroups = /^\/api\/v1\/users\/([^/]+)\/groups$/.exec(path);
    const group = /^\/api\/v1\/groups\/([^/]+)$/.exec(path);
    const arg = (m: RegExpExecArray) => decodeURIComponent(m[1] as string);
    if (path === '/api/v1/users') result = listUsers(org, index, base, q, stamps);
    else if (path === '/api/v1/groups') result = listGroups(org, base, q, stamps);
    else if (members) result = listGroupUsers(org, index, base, arg(members), q, stamps);
    else if (path === '/api/v1/logs') result = listLogs(store, base, q);
    else if (path === '/api/v1/org') result = getOrg(store, base);
    else if (userGroups) result = listUserGroups(store, base, arg(userGroups));
    else if (user) result = getUser(store, base, arg(user), q);
    else if (group) result = getGroup(store, base, arg(group), q);
    else return sendOktaError(res, 404, 'E0000007', `Not found: Resource not found: ${path} (Resource)`, rl);

    if (result.error)
      return sendOktaError(
        res,
        result.status,
        result.error.code,
        result.error.summary,
        rl,
        result.error.causes,
      );
    const headers = { ...rl, ...result.headers };
    switch (pickFault(url)) {
      case 'error':
        return sendOktaError(res, 500, 'E0000009', 'Internal Server Error', rl);
      case 'timeout':
        return hang(res);
      case 'reset':
        return reset(res);
      case 'truncate':
        return truncate(res, 200, headers, JSON.stringify(result.body));
      default:
        return sendJson(res, result.status, result.body, headers);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent)
        sendJson(res, 500, {
          errorCode: 'E0000009',
          errorSummary: `emulator error: ${(e as Error).message}`,
        });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const addr = server.address() as AddressInfo;
  base = `http://${addr.address}:${addr.port}`;

  const privatePem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const connectorAuth =
    (opts.auth ?? 'apiToken') === 'apiToken'
      ? { type: 'apiToken', token: { env: 'DIRSYNC_OKTA_API_TOKEN' } }
      : { type: 'privateKey', clientId, keyId, privateKey: { env: 'DIRSYNC_OKTA_PRIVATE_KEY' } };

  const emu: OktaEmulator = {
    kind: 'okta',
    url: base,
    org,
    stamps,
    store,
    auth,
    connector: { name: 'okta-emulator', kind: 'okta', orgUrl: base, auth: connectorAuth },
    env: { DIRSYNC_OKTA_API_TOKEN: apiToken, DIRSYNC_OKTA_PRIVATE_KEY: privatePem },
    requestCount: () => requests,
    setFaults: (f) => {
      faults = f;
    },
    setFaultRule: (r) => {
      rule = r ? { ...r, left: r.times ?? Number.POSITIVE_INFINITY } : null;
    },
    setLatency: (ms) => {
      latencyMs = ms;
    },
    throttle: (count) => {
      limiter.forced = Math.max(0, count);
    },
    expireTokens: () => auth.expireTokens(),
    setTokenTtl: (s) => {
      auth.tokenTtlSeconds = s;
    },
    setRateLimits: (limits, windowMs) => {
      limiter.limits = { ...limiter.limits, ...limits };
      if (windowMs !== undefined) limiter.windowMs = windowMs;
    },
    corrupt: (id, fields) => {
      if (fields) stamps.overrides.set(id, fields);
      else stamps.overrides.delete(id);
    },
    stats: () => ({ requests, tokenRequests, throttled, byFamily: { ...byFamily } }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return emu;
}
