/**
 * An emulator of Microsoft Entra ID as Microsoft Graph v1.0 and the Microsoft identity platform
 * show it to a daemon app: HTTPS with a certificate made at start, the OpenID configuration and
 * token endpoints (client secret or certificate), Bearer checks on every Graph call, directory
 * listings with Graph's paging, `$select`/`$top`/`$filter` rules, `$batch`, delta queries,
 * per-tenant throttling, fault injection, and an admin API under `/__emulator/`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OrgMutationError } from '../../emulator-kit/mutate.js';
import { drawFault, hang, reset, sleep, truncate, type Fault } from '../../emulator-kit/faults.js';
import { generateOrg, orgShape, type Org } from '../../emulator-kit/org.js';
import type { EmulatorOptions, FaultOptions, RunningEmulator } from '../../emulator-kit/types.js';
import { handleAdmin, type EmulatorControl, type FaultRule } from './admin.js';
import { AadError, TokenService } from './auth.js';
import { DeltaService } from './delta.js';
import { handleGraph, type GraphRequestContext } from './graph.js';
import { errorEnvelope, errorResponse, GraphHttpError, readBody, send, type GraphResponse } from './http.js';
import { graphId } from './ids.js';
import { GraphStore, truthOf, type GraphTruth } from './store.js';
import { TenantThrottle, type ThrottleOptions } from './throttle.js';
import { makeEmulatorTls } from './tls.js';

export { graphId } from './ids.js';
export type { GraphTruth } from './store.js';
export type { FaultRule } from './admin.js';

/** Environment variable names the printed connector config refers to. */
export const GRAPH_SECRET_ENV = 'DIRSYNC_GRAPH_CLIENT_SECRET';
export const GRAPH_CERTIFICATE_ENV = 'DIRSYNC_GRAPH_CERTIFICATE';

export interface GraphEmulatorOptions extends EmulatorOptions {
  /** Per-tenant throttling (default 8,000 requests per 10 s, a large tenant's quota). */
  throttle?: Partial<ThrottleOptions>;
  /** Lifetime of issued access tokens in seconds (default 3599). */
  tokenLifetimeSec?: number;
  /**
   * Change-log entries kept for delta rounds (default 500,000); a delta token older than the
   * oldest kept change answers 410 `resyncRequired`.
   */
  changeLogEntries?: number;
}

export interface GraphEmulator extends RunningEmulator, EmulatorControl {
  org: Org;
  tenantId: string;
  clientId: string;
  /** PEM file of the emulator's self-signed certificate (trust it with `tls.caFile`). */
  caFile: string;
  /** PEM file holding a client certificate and its key, registered on the app (certificate auth). */
  clientCertificateFile: string;
  /** Lifetime of tokens issued from now on (seconds). */
  setTokenLifetime(sec: number): void;
  /** Application permissions (roles) carried by tokens issued from now on. */
  setRoles(roles: string[]): void;
  /** Serves a record with some fields replaced (malformed-record tests); `null` clears. */
  setOverride(orgId: string, patch: Record<string, unknown> | null): void;
}

/** When the emulated tenant was created (`/organization`). */
const TENANT_CREATED = '2019-06-01T09:00:00Z';

/** Profile photos are served by the profile service and not counted in the directory's budget. */
const PHOTO_PATH = /^\/v1\.0\/users\/[^/]+\/photos?(\/|$)/;

export async function startEmulator(opts: GraphEmulatorOptions): Promise<GraphEmulator> {
  const org = opts.org ?? generateOrg(orgShape(opts));
  const store = new GraphStore(org, { maxEntries: opts.changeLogEntries });
  const tls = makeEmulatorTls();
  const host = opts.host ?? '127.0.0.1';
  const tenantId = graphId(`tenant:${opts.seed}`);
  const clientId = graphId(`client:${opts.seed}`);
  // Entra ID client secrets look like `abc8Q~...` (40 characters).
  const clientSecret = `${randomBytes(3).toString('hex').slice(0, 3)}8Q~${randomBytes(27).toString('base64url').slice(0, 36)}`;
  const throttle = new TenantThrottle({ limit: 8000, windowMs: 10_000, ...opts.throttle });
  const delta = new DeltaService(store);
  let faults: FaultOptions | undefined = opts.faults;
  let latencyMs = opts.latencyMs ?? 0;
  let rules: (FaultRule & { left: number })[] = [];
  const counts = { requests: 0, tokenRequests: 0, graphRequests: 0, batchRequests: 0, innerRequests: 0 };
  let base = '';
  const tokens = new TokenService({ tenantId, clientId, clientSecret, certificates: [tls.client.x509] });
  if (opts.tokenLifetimeSec) tokens.lifetimeSec = opts.tokenLifetimeSec;

  const ruleFault = (target: string): FaultRule | null => {
    for (const r of rules) {
      if (r.left > 0 && r.match.test(target)) {
        r.left--;
        return r;
      }
    }
    return null;
  };

  const faultError = (status: number) =>
    status === 503
      ? new GraphHttpError(503, 'ServiceUnavailable', 'Service is unavailable. Please try again later.')
      : status === 504
        ? new GraphHttpError(504, 'GatewayTimeout', 'The gateway did not receive a timely response.')
        : new GraphHttpError(status, 'UnknownError', 'An internal server error occurred.');

  const throttled = (retryAfter: number) =>
    new GraphHttpError(
      429,
      'TooManyRequests',
      `Too many requests. Please retry after ${retryAfter} seconds.`,
      {
        'Retry-After': String(retryAfter),
      },
    );

  function contextFor(req: IncomingMessage): GraphRequestContext {
    const claims = tokens.checkBearer(req.headers.authorization);
    return {
      base,
      store,
      delta,
      claims,
      headers: req.headers as Record<string, string | undefined>,
      tenantId,
      created: TENANT_CREATED,
    };
  }

  async function batch(req: IncomingMessage, ctx: GraphRequestContext): Promise<GraphResponse> {
    counts.batchRequests++;
    let payload: { requests?: unknown };
    try {
      payload = JSON.parse(await readBody(req)) as { requests?: unknown };
    } catch {
      throw new GraphHttpError(400, 'BadRequest', 'Invalid batch payload format.');
    }
    const list = payload.requests;
    if (!Array.isArray(list) || list.length === 0) {
      throw new GraphHttpError(400, 'BadRequest', 'Invalid batch payload format.');
    }
    // https://learn.microsoft.com/graph/json-batching#batch-size-limitations
    if (list.length > 20) {
      throw new GraphHttpError(
        400,
        'BadRequest',
        'Too many requests in batch. The maximum number of requests is 20.',
      );
    }
    const ids = new Set<string>();
    const responses: unknown[] = [];
    for (const raw of list as Record<string, unknown>[]) {
      const id = String(raw.id ?? '');
      if (id === '' || ids.has(id)) {
        throw new GraphHttpError(400, 'BadRequest', 'Batch request ids must be present and unique.');
      }
      ids.add(id);
      counts.innerRequests++;
      let r: GraphResponse;
      try {
        const url = String(raw.url ?? '');
        if (/^[a-z]+:\/\//i.test(url)) {
          throw new GraphHttpError(400, 'BadRequest', 'Invalid request URL: batch URLs must be relative.');
        }
        const u = new URL(`${base}/v1.0${url.startsWith('/') ? url : `/${url}`}`);
        const rule = ruleFault(u.pathname + u.search);
        if (rule?.fault === 'error') throw faultError(rule.status ?? 500);
        if (drawFault(faults ? { errorRate: faults.errorRate } : undefined) === 'error')
          throw faultError(503);
        const wait = PHOTO_PATH.test(u.pathname) ? null : throttle.take();
        if (wait !== null) throw throttled(wait);
        r = handleGraph(
          String(raw.method ?? 'GET').toUpperCase(),
          u.pathname.slice('/v1.0'.length),
          u.searchParams,
          ctx,
        );
      } catch (e) {
        if (!(e instanceof GraphHttpError)) throw e;
        r = errorResponse(e, undefined);
      }
      // Binary bodies (photo `$value`) travel base64-encoded inside a batch.
      const body = Buffer.isBuffer(r.body) ? r.body.toString('base64') : r.body;
      responses.push({ id, status: r.status, headers: r.headers, body });
    }
    // Graph answers in any order; reversing catches clients that match responses by position.
    responses.reverse();
    return { status: 200, headers: { 'Content-Type': 'application/json' }, body: { responses } };
  }

  async function graph(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    counts.graphRequests++;
    if (latencyMs > 0) await sleep(latencyMs);
    const rule = ruleFault(url.pathname + url.search);
    const fault: Fault | 'unauthorized' | null = rule ? rule.fault : drawFault(faults);
    if (fault === 'timeout') return hang(res, 30_000);
    if (fault === 'reset') return reset(res);
    if (fault === 'error') throw faultError(rule?.status ?? (Math.random() < 0.5 ? 500 : 503));
    if (fault === 'unauthorized')
      throw new GraphHttpError(
        401,
        'InvalidAuthenticationToken',
        'Lifetime validation failed, the token is expired.',
      );
    const ctx = contextFor(req);
    let r: GraphResponse;
    if (url.pathname === '/v1.0/$batch' && req.method === 'POST') r = await batch(req, ctx);
    else {
      const wait = PHOTO_PATH.test(url.pathname) ? null : throttle.take();
      if (wait !== null) throw throttled(wait);
      r = handleGraph(req.method ?? 'GET', url.pathname.slice('/v1.0'.length), url.searchParams, ctx);
    }
    if (fault === 'truncate') {
      const { 'Content-Type': _type, ...rest } = r.headers;
      return truncate(res, r.status, rest, JSON.stringify(r.body));
    }
    send(res, r.status, r.headers, r.body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    counts.requests++;
    const url = new URL(req.url ?? '/', base);
    const path = url.pathname;
    const crid = req.headers['client-request-id'] as string | undefined;
    try {
      if (path.startsWith('/__emulator/')) {
        const r = await handleAdmin(req.method ?? 'GET', path, req, control);
        return send(res, r.status, { 'Content-Type': 'application/json' }, r.body);
      }
      let m = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(path);
      if (m && req.method === 'GET') {
        return send(
          res,
          200,
          { 'Content-Type': 'application/json; charset=utf-8' },
          tokens.openIdConfiguration(m[1] as string),
        );
      }
      m = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);
      if (m && req.method === 'POST') {
        counts.tokenRequests++;
        if (latencyMs > 0) await sleep(latencyMs);
        const form = new URLSearchParams(await readBody(req));
        return send(
          res,
          200,
          { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store, no-cache' },
          tokens.token(m[1] as string, form),
        );
      }
      if (/^\/([^/]+)\/discovery\/v2\.0\/keys$/.test(path)) {
        return send(res, 200, { 'Content-Type': 'application/json' }, { keys: [] });
      }
      if (path.startsWith('/v1.0/')) return await graph(req, res, url);
      throw new GraphHttpError(400, 'BadRequest', 'Invalid version.');
    } catch (e) {
      if (res.headersSent) return void res.destroy();
      if (e instanceof AadError)
        return send(res, e.status, { 'Content-Type': 'application/json; charset=utf-8' }, e.body);
      if (e instanceof GraphHttpError) {
        const r = errorResponse(e, crid);
        return send(res, r.status, r.headers, r.body);
      }
      if (e instanceof OrgMutationError)
        return send(res, e.status, { 'Content-Type': 'application/json' }, { error: e.message });
      if (e instanceof SyntaxError)
        return send(res, 400, { 'Content-Type': 'application/json' }, { error: e.message });
      send(
        res,
        500,
        { 'Content-Type': 'application/json' },
        errorEnvelope('UnknownError', 'An internal server error occurred.', crid),
      );
    }
  }

  const server: Server = createServer({ key: tls.server.key, cert: tls.server.cert }, (req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  base = `https://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  tokens.baseUrl = base;

  const control: EmulatorControl = {
    store,
    setFaults: (f) => void (faults = f),
    setLatency: (ms) => void (latencyMs = ms),
    throttle: (o) => throttle.configure(o),
    throttleNext: (n, retryAfterSec) => throttle.force(n, retryAfterSec),
    addFaultRule: (rule) => void rules.push({ ...rule, left: rule.times ?? Number.POSITIVE_INFINITY }),
    clearFaultRules: () => void (rules = []),
    expireTokens: () => tokens.revokeAll(),
    expireDeltaTokens: () => delta.expireAll(),
    truth: (): GraphTruth => truthOf(store),
    counters: () => ({
      ...counts,
      throttled: throttle.throttled,
      tokensIssued: tokens.tokensIssued,
      // The process's memory, so a bench running the emulator apart can report what it costs.
      rssBytes: process.memoryUsage().rss,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    }),
  };

  return {
    ...control,
    kind: 'graph',
    url: base,
    org,
    tenantId,
    clientId,
    caFile: tls.caFile,
    clientCertificateFile: tls.client.file,
    connector: {
      name: 'graph-emulator',
      kind: 'graph',
      tenantId,
      clientId,
      auth: { type: 'clientSecret', clientSecret: { env: GRAPH_SECRET_ENV } },
      authorityHost: base,
      graphBaseUrl: base,
      tls: { caFile: tls.caFile },
    },
    env: { [GRAPH_SECRET_ENV]: clientSecret, [GRAPH_CERTIFICATE_ENV]: `${tls.client.cert}${tls.client.key}` },
    requestCount: () => counts.requests,
    setTokenLifetime: (sec) => void (tokens.lifetimeSec = sec),
    setRoles: (roles) => void (tokens.roles = roles),
    setOverride: (orgId, patch) => void store.apply({ op: 'override', id: orgId, patch }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      tls.cleanup();
    },
  };
}
