/**
 * An emulator of Google Workspace's Admin SDK Directory API and Google's OAuth token endpoint,
 * on node:http. See README.md ("Emulator") for what it does and where it is less faithful.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { drawFault, hang, reset, sleep, truncate } from '../../emulator-kit/faults.js';
import { generateOrg, orgShape } from '../../emulator-kit/org.js';
import { handleAdmin } from './admin.js';
import { ApiError, errorBody, type ApiOptions } from './api.js';
import { GoogleDirectory } from './directory.js';
import { listActivities, REPORTS_PREFIX } from './reports.js';
import { directoryRoute, ENDPOINT_SCOPES, type Family, type Route } from './routes.js';
import { GoogleStore } from './store.js';
import { createServiceAccount, exchangeAssertion, GOOGLE_TOKEN_AUD, type AccessToken } from './token.js';
import type { FailRule, GoogleEmulator, GoogleEmulatorOptions, ThrottleStorm } from './types.js';

export type { FailRule, GoogleEmulator, GoogleEmulatorOptions, ThrottleStorm } from './types.js';

const JSON_TYPE = 'application/json; charset=UTF-8';
const API_PREFIX = '/admin/directory/v1/';

export async function startEmulator(opts: GoogleEmulatorOptions): Promise<GoogleEmulator> {
  const org = opts.org ?? generateOrg(orgShape(opts));
  const directory = new GoogleDirectory(org);
  const adminEmail = `admin@${org.domain}`.toLowerCase();
  const store = new GoogleStore(directory, adminEmail);
  store.log.lagMs = opts.reportsLagMs ?? 0;
  const apiOptions: ApiOptions = { tokenOnFullLastPage: opts.tokenOnFullLastPage ?? true };
  const tokens = new Map<string, AccessToken>();
  const userQpm = opts.userQpm ?? 2400;
  const quotaWindowMs = opts.quotaWindowMs ?? 60_000;
  const windows = new Map<string, number[]>();
  let inFlight = 0;
  let faults = opts.faults;
  let latencyMs = opts.latencyMs ?? 0;
  let storm: ThrottleStorm | null = null;
  let rules: (FailRule & { seen: number; failed: number })[] = [];
  let requests = 0;
  let tokenRequests = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': JSON_TYPE });
        res.end(errorBody(new ApiError(500, 'backendError', `Internal error: ${(e as Error).message}`)));
      } else res.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const addr = server.address() as AddressInfo;
  const url = `http://${opts.host ?? '127.0.0.1'}:${addr.port}`;
  const serviceAccount = createServiceAccount(`${url}/token`);
  const audiences = new Set([GOOGLE_TOKEN_AUD, `${url}/token`]);
  const delegatedScopes = new Set(opts.delegatedScopes ?? [...Object.values(ENDPOINT_SCOPES).flat()]);

  function sendJson(
    res: ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, { 'content-type': JSON_TYPE, vary: 'Origin, X-Origin, Referer', ...headers });
    res.end(body);
  }

  function sendError(res: ServerResponse, e: ApiError): void {
    sendJson(res, e.code, errorBody(e), e.extra.headers ?? {});
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  /**
   * Scripted failures first, then random ones. Answers the request and returns 'answered', or
   * returns 'truncate' (the caller cuts its real body in half), or null for no fault.
   */
  function injectFault(path: string, res: ServerResponse): 'answered' | 'truncate' | null {
    let fault: FailRule['fault'] | null = null;
    let status: number | undefined;
    for (const r of rules) {
      if (!r.path.test(path)) continue;
      r.seen++;
      if (r.seen <= (r.after ?? 0) || r.failed >= (r.times ?? Infinity)) continue;
      r.failed++;
      fault = r.fault;
      status = r.status;
      break;
    }
    fault ??= drawFault(faults);
    if (fault === null) return null;
    if (fault === 'truncate') return 'truncate';
    if (fault === 'timeout') hang(res);
    else if (fault === 'reset') reset(res);
    else {
      const code = status ?? 500;
      sendError(
        res,
        code === 503
          ? new ApiError(503, 'backendError', 'The service is currently unavailable.')
          : new ApiError(code, 'backendError', 'Backend Error'),
      );
    }
    return 'answered';
  }

  /** The per-user sliding-window quota; true when the request is over it. */
  function overQuota(user: string): boolean {
    if (userQpm <= 0) return false;
    const now = Date.now();
    let w = windows.get(user);
    if (!w) windows.set(user, (w = []));
    while (w.length > 0 && (w[0] as number) <= now - quotaWindowMs) w.shift();
    if (w.length >= userQpm) return true;
    w.push(now);
    return false;
  }

  function authenticate(req: IncomingMessage, family: Family): AccessToken {
    const h = req.headers.authorization;
    const bearer = h?.startsWith('Bearer ') ? h.slice(7) : null;
    if (bearer === null) {
      throw new ApiError(401, 'required', 'Login Required.', {
        location: 'Authorization',
        locationType: 'header',
      });
    }
    const t = tokens.get(bearer);
    if (!t || t.expiresAt <= Date.now()) {
      throw new ApiError(
        401,
        'authError',
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        {
          location: 'Authorization',
          locationType: 'header',
          headers: {
            'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"',
          },
        },
      );
    }
    if (!ENDPOINT_SCOPES[family].some((s) => t.scopes.has(s))) {
      throw new ApiError(403, 'insufficientPermissions', 'Request had insufficient authentication scopes.', {
        headers: {
          'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="insufficient_scope"',
        },
      });
    }
    // A token without `sub` (no delegation) or for a non-admin user may not read the directory.
    if (t.sub === null || t.sub !== adminEmail) {
      throw new ApiError(403, 'forbidden', 'Not Authorized to access this resource/api');
    }
    return t;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', url);
    const path = u.pathname;
    if (path.startsWith('/__emulator/')) {
      return handleAdmin(emu, req, res, path.slice('/__emulator/'.length).split('/').filter(Boolean));
    }
    requests++;

    if (path === '/token') {
      if (latencyMs > 0) await sleep(latencyMs);
      tokenRequests++;
      if (req.method !== 'POST') return sendJson(res, 405, JSON.stringify({ error: 'invalid_request' }));
      const body = await readBody(req);
      const fault = injectFault(path, res);
      if (fault === 'answered') return;
      const answer = exchangeAssertion(
        new URLSearchParams(body),
        {
          serviceAccount,
          delegatedScopes,
          admins: new Set([adminEmail]),
          isUser: (email) => directory.findUser(email) !== undefined,
          audiences,
          tokenTtlSec: opts.tokenTtlSec ?? 3599,
        },
        tokens,
      );
      if (!answer.ok) {
        return sendJson(
          res,
          answer.status,
          JSON.stringify({ error: answer.error, error_description: answer.description }),
        );
      }
      const text = JSON.stringify({
        access_token: answer.token,
        expires_in: answer.expiresIn,
        token_type: 'Bearer',
      });
      if (fault === 'truncate') return truncate(res, 200, {}, text);
      return sendJson(res, 200, text, { 'cache-control': 'no-cache, no-store, max-age=0, must-revalidate' });
    }

    const reports = path.startsWith(REPORTS_PREFIX);
    if (!path.startsWith(API_PREFIX) && !reports) {
      return sendError(res, new ApiError(404, 'notFound', `Not Found: ${path}`));
    }
    if (req.method !== 'GET') {
      return sendError(res, new ApiError(405, 'httpMethodNotAllowed', 'Method not emulated (read-only API)'));
    }
    const rest = path
      .slice((reports ? REPORTS_PREFIX : API_PREFIX).length)
      .split('/')
      .map(decodeURIComponent);
    const q = u.searchParams;
    const route: Route | null = reports
      ? { family: 'reports', answer: () => listActivities(store.log, directory.customerId, rest, q) }
      : directoryRoute(directory, rest, q, apiOptions);
    if (route === null) return sendError(res, new ApiError(404, 'notFound', `Not Found: ${path}`));

    // In flight from arrival to answer, latency included: that is what the concurrency limit sees.
    inFlight++;
    try {
      if (latencyMs > 0) await sleep(latencyMs);
      const fault = injectFault(path, res);
      if (fault === 'answered') return;
      const token = authenticate(req, route.family);
      if (storm && storm.count > 0 && (!storm.path || storm.path.test(path))) {
        storm.count--;
        const s = storm;
        const reason = s.reason ?? (s.status === 429 ? 'rateLimitExceeded' : 'userRateLimitExceeded');
        return sendError(
          res,
          new ApiError(
            s.status,
            reason,
            s.status === 429 ? 'Rate Limit Exceeded' : 'User Rate Limit Exceeded',
            {
              domain: 'usageLimits',
              ...(s.retryAfterSec !== undefined
                ? { headers: { 'retry-after': String(s.retryAfterSec) } }
                : {}),
            },
          ),
        );
      }
      if (overQuota(token.sub ?? '')) {
        return sendError(
          res,
          new ApiError(
            403,
            'userRateLimitExceeded',
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com'.",
            { domain: 'usageLimits' },
          ),
        );
      }
      if (opts.maxConcurrent && inFlight > opts.maxConcurrent) {
        return sendError(
          res,
          new ApiError(429, 'rateLimitExceeded', 'Rate Limit Exceeded', { domain: 'usageLimits' }),
        );
      }
      const body = route.answer();
      const text = JSON.stringify(body);
      if (fault === 'truncate') return truncate(res, 200, {}, text);
      sendJson(res, 200, text, { etag: String(body.etag ?? '"0"') });
    } catch (e) {
      if (e instanceof ApiError) return sendError(res, e);
      throw e;
    } finally {
      inFlight--;
    }
  }

  const emu: GoogleEmulator = {
    kind: 'google',
    url,
    org,
    directory,
    store,
    serviceAccount,
    adminEmail,
    connector: {
      name: 'google-emulator',
      kind: 'google',
      serviceAccountKey: { env: 'DIRSYNC_GOOGLE_SA_KEY' },
      subject: adminEmail,
      customer: 'my_customer',
      rootUrl: `${url}/`,
      tokenUrl: `${url}/token`,
    },
    env: { DIRSYNC_GOOGLE_SA_KEY: JSON.stringify(serviceAccount.keyFile) },
    requestCount: () => requests,
    tokenRequests: () => tokenRequests,
    setFaults(f) {
      faults = f;
      return f;
    },
    setLatency(ms) {
      latencyMs = Math.max(0, ms);
      return latencyMs;
    },
    throttle(s) {
      storm = { ...s };
      return s;
    },
    failRequests(rule) {
      rules.push({ ...rule, seen: 0, failed: 0 });
      return rule;
    },
    clearFailures() {
      rules = [];
      storm = null;
    },
    expireTokens() {
      const revoked = tokens.size;
      tokens.clear();
      return { revoked };
    },
    addSubgroup: (parentId, childId) => store.addSubgroup(parentId, childId),
    removeSubgroup: (parentId, childId) => store.removeSubgroup(parentId, childId),
    addExternalMember: (groupId, m) => store.addExternalMember(groupId, m),
    setReportsLag(ms) {
      store.log.lagMs = Math.max(0, ms);
      return store.log.lagMs;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
  return emu;
}
