/**
 * The Okta API as the connector uses it: the official SDK's `Http` layer (auth headers, the
 * private-key token flow hook, the request executor, its error objects) and a pager over it.
 *
 * Why `Http` on its own, not the SDK's `Client`: the package's index (which `Client` needs) loads
 * every generated API and model, about 2,500 modules: importing the connector took 1.6–1.9 s on
 * a 2-core machine at load ~2.5 (0.6–0.8 s without them), at the start of a sync's fetch phase,
 * for classes the connector never calls. `src/http.js` and `src/request-executor.js` are the two
 * modules the connector runs (types in sdk-modules.d.ts); what `Client` adds around them is set
 * here: the SSWS header and the SDK's User-Agent.
 *
 * Why not the SDK's typed collections (`userApi.listUsers()` ...): they deserialize each record into
 * a model class, which silently turns malformed records into plausible ones (a user without an id
 * becomes `User {}`, a string profile becomes `{"0":"n","1":"o",...}`), they hide page boundaries,
 * and an empty page (or a `null` element) surfaces as a `null` item. The pager below reads raw JSON
 * pages and follows Okta's `Link: <...>; rel="next"` itself, so map.ts can report bad records.
 */
import { Http } from '@okta/okta-sdk-nodejs/src/http.js';
import { createRequire } from 'node:module';
import { getMaxListeners, setMaxListeners } from 'node:events';
import { platform, release } from 'node:os';
import type { Logger } from 'pino';
import { resolveSecret } from '../../config/secrets.js';
import { DirsyncError, isDirsyncError } from '../../src/errors.js';
import type { SourceStats } from '../types.js';
import { budgetFor } from './budget.js';
import type { OktaConfig } from './config.js';
import { OktaRequestExecutor, parsedBody, redact, type FetchResponse } from './executor.js';
import { cancelled } from './sleep.js';
import { parsePrivateKey, PrivateKeyTokenProvider } from './token.js';

export interface Page {
  items: unknown[];
  /** Absolute URL of the next page, when Okta sent `rel="next"`. */
  next: string | null;
}

export interface PageOptions {
  /**
   * Stop after the first empty page instead of following its `rel="next"`. For System Log polling
   * requests, where every page (the last, empty one included) links to a next page.
   */
  stopOnEmpty?: boolean;
}

export interface OktaApi {
  /** Pages of a list endpoint (`path` with its query), following `rel="next"` links. */
  pages(
    path: string,
    query: Record<string, string | number | undefined>,
    opts?: PageOptions,
  ): AsyncGenerator<Page>;
  /** One object (`GET path`); a 404 throws `DIRSYNC_E_IDP_NOT_FOUND`. */
  getObject(path: string, query?: Record<string, string | number | undefined>): Promise<unknown>;
  /**
   * The org's clock as last seen in a response's `Date` header, as an offset to ours in ms
   * (0 until a response arrived). Dates are whole seconds: the offset errs by up to -1 s.
   */
  serverOffsetMs(): number;
  close(): Promise<void>;
}

/** What the SDK's `Client` sends (`okta-sdk-nodejs/<version> node/<version> <platform>/<release>`). */
const USER_AGENT = `okta-sdk-nodejs/${
  (createRequire(import.meta.url)('@okta/okta-sdk-nodejs/package.json') as { version: string }).version
} node/${process.versions.node} ${platform()}/${release()}`;

interface SdkHttp {
  defaultHeaders: Record<string, string>;
  http(
    uri: string,
    request: Record<string, unknown>,
    context: { isCollection: boolean; resources: string[] },
  ): Promise<FetchResponse>;
}

export function createOktaApi(
  config: OktaConfig,
  stats: SourceStats,
  signal: AbortSignal,
  logger: Logger,
): OktaApi {
  // A trailing slash would make the SDK build `//api/v1/...` URLs (and DPoP `htu` claims that
  // Okta rejects); the org URL is an origin.
  const orgUrl = new URL(config.orgUrl).origin;
  // Every request in flight listens on the run's signal (node-fetch's abort): allow as many
  // listeners as requests can be in flight, so Node does not warn of a leak that is none.
  setMaxListeners(Math.max(getMaxListeners(signal), config.rateLimit.maxConcurrent * 2 + 16), signal);
  const budget = budgetFor(orgUrl, config.rateLimit.maxConcurrent, config.rateLimit.reservePercent / 100);
  const executor = new OktaRequestExecutor(
    budget,
    stats,
    config.retry,
    config.requestTimeoutMs,
    signal,
    (info) => logger.debug(info, 'okta: retrying request'),
  );
  let oauth: PrivateKeyTokenProvider | undefined;
  if (config.auth.type === 'privateKey') {
    const { key, kid } = parsePrivateKey(resolveSecret(config.auth.privateKey));
    oauth = new PrivateKeyTokenProvider(
      orgUrl,
      config.auth.clientId,
      key,
      config.auth.keyId ?? kid,
      config.auth.scopes,
      executor,
    );
    executor.dpop = oauth;
  }
  // The SDK's Http asks `oauth` for a token before every request and clears it on a 401; with no
  // `oauth` it sends the default headers alone. `cacheMiddleware: null`: the default keeps every
  // GET response in memory, useless for a sync.
  const http = new Http({
    requestExecutor: executor,
    oauth: oauth as never,
    cacheMiddleware: null,
  }) as unknown as SdkHttp;
  if (config.auth.type === 'apiToken')
    http.defaultHeaders.Authorization = `SSWS ${resolveSecret(config.auth.token)}`;
  http.defaultHeaders['User-Agent'] = USER_AGENT;
  let offset: number | null = null;

  const urlOf = (path: string, query: Record<string, string | number | undefined>) => {
    const u = new URL(path, orgUrl);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  };

  async function get(url: string, isCollection: boolean): Promise<FetchResponse> {
    if (signal.aborted) throw cancelled();
    let res: FetchResponse;
    try {
      res = await http.http(
        url,
        { method: 'get', headers: { Accept: 'application/json' } },
        { isCollection, resources: [] },
      );
    } catch (e) {
      throw toDirsyncError(e, new URL(url));
    }
    const date = Date.parse(res.headers.get('date') ?? '');
    if (offset === null && Number.isFinite(date)) offset = date - Date.now();
    return res;
  }

  async function getObject(
    path: string,
    query: Record<string, string | number | undefined> = {},
  ): Promise<unknown> {
    const url = urlOf(path, query);
    const res = await get(url, false);
    const parsed = parsedBody(res);
    if (!parsed) {
      throw new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', `Okta ${redact(new URL(url))}: expected JSON`, {
        status: res.status,
      });
    }
    return parsed.value;
  }

  async function* pages(
    path: string,
    query: Record<string, string | number | undefined>,
    opts: PageOptions = {},
  ): AsyncGenerator<Page> {
    let url: string | null = urlOf(path, query);
    while (url !== null) {
      const res = await get(url, true);
      const parsed = parsedBody(res);
      const body = parsed ? parsed.value : null;
      if (!Array.isArray(body)) {
        throw new DirsyncError(
          'DIRSYNC_E_IDP_BAD_RESPONSE',
          `Okta ${redact(new URL(url))}: expected a JSON array`,
          {
            status: res.status,
          },
        );
      }
      stats.pages++;
      if (opts.stopOnEmpty && body.length === 0) {
        yield { items: body, next: null };
        return;
      }
      const next = nextLink(res.headers.get('link'));
      // A next link that points back at this page would loop for ever.
      if (next !== null && next === url) {
        throw new DirsyncError(
          'DIRSYNC_E_IDP_BAD_RESPONSE',
          `Okta ${redact(new URL(url))}: rel="next" repeats the page`,
        );
      }
      url = next;
      yield { items: body, next };
    }
  }

  return { pages, getObject, serverOffsetMs: () => offset ?? 0, close: async () => {} };
}

/** The `rel="next"` target of an RFC 8288 Link header (Okta sends `self` and `next` as separate links). */
export function nextLink(header: string | null): string | null {
  if (!header) return null;
  for (const link of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(link);
    if (!m) continue;
    for (const param of (m[2] as string).split(';')) {
      const [name, value = ''] = param.split('=').map((x) => x.trim());
      if (name?.toLowerCase() === 'rel' && value.replace(/"/g, '').split(/\s+/).includes('next'))
        return m[1] as string;
    }
  }
  return null;
}

interface OktaErrorLike {
  name?: string;
  status?: number;
  errorCode?: string;
  errorSummary?: string;
  errorCauses?: { errorSummary?: string }[];
  headers?: { get?(n: string): string | null };
}

/** Maps what the SDK throws (OktaApiError, HttpError, FetchError) to a DirsyncError; never quotes credentials. */
export function toDirsyncError(e: unknown, url: URL): DirsyncError {
  if (isDirsyncError(e)) return e;
  const err = e as OktaErrorLike;
  const where = `Okta ${redact(url)}`;
  if (typeof err?.status === 'number') {
    const status = err.status;
    const vendor = err.errorCode;
    const causes = err.errorCauses?.map((c) => c.errorSummary).filter(Boolean) ?? [];
    const summary = [vendor, err.errorSummary, ...causes].filter(Boolean).join(' ') || `HTTP ${status}`;
    const detail = `${where}: ${status} ${summary}`;
    const opts = { status, ...(vendor ? { vendorCode: vendor } : {}) };
    if (status === 401) return new DirsyncError('DIRSYNC_E_IDP_AUTH', detail, opts);
    if (status === 403) return new DirsyncError('DIRSYNC_E_IDP_FORBIDDEN', detail, opts);
    if (status === 404) return new DirsyncError('DIRSYNC_E_IDP_NOT_FOUND', detail, opts);
    if (status === 429) return new DirsyncError('DIRSYNC_E_IDP_THROTTLED', detail, opts);
    if (status >= 500) return new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', detail, opts);
    return new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', detail, opts);
  }
  const kind = (e as { type?: string; code?: string })?.code ?? (e as { type?: string })?.type ?? 'error';
  return new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', `${where}: request failed (${kind})`);
}
