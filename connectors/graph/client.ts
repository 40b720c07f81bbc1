/**
 * The Graph client: the official SDK (`Client.initWithMiddleware`) with our own middleware in front
 * of its HTTP handler, so every attempt is counted, drawn from the tenant's request budget, sent
 * with a current token, and retried on 429/5xx/timeouts/resets with backoff that honours
 * Retry-After. Failures surface as DirsyncErrors; a page never silently comes back short.
 * https://learn.microsoft.com/graph/sdks/customize-client  https://learn.microsoft.com/graph/throttling
 */
import {
  Client,
  GraphError,
  HTTPMessageHandler,
  ResponseType,
  TelemetryHandler,
  type Context,
  type Middleware,
  type MiddlewareOptions,
} from '@microsoft/microsoft-graph-client';
import type { TokenCredential } from '@azure/identity';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { Agent } from 'undici';
import { DirsyncError } from '../../src/errors.js';
import type { SourceStats } from '../types.js';
import { abortableSleep, cancelled, type RequestBudget } from './budget.js';
import { diagnoseAuthority, tokenError } from './credentials.js';
import type { GraphConfig } from './config.js';

/** Per-request notes shared between the caller and the middleware (SDK middleware options). */
class RequestNote implements MiddlewareOptions {
  /** Budget units this request takes (a `$batch` takes one per inner request). */
  cost = 1;
  /** Set when the request never got an HTTP answer after all retries. */
  transportError: unknown = null;
  /** A DirsyncError raised inside the middleware (token, budget, cancel): the SDK would wrap it. */
  failure: DirsyncError | null = null;
}

export interface RetryPolicy {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Exponential backoff with full jitter on the upper half, capped. */
export function backoffMs(attempt: number, p: RetryPolicy): number {
  const ceiling = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** `Retry-After` as seconds or an HTTP date, in ms. */
export function retryAfterMs(value: string | null | undefined): number | null {
  if (value === null || value === undefined || value === '') return null;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

const RETRYABLE = new Set([429, 500, 502, 503, 504]);

/** Holds the credential; a 401 from Graph replaces it so the next token does not come from cache. */
export class TokenSource {
  private credential: TokenCredential;

  constructor(
    private readonly make: () => TokenCredential,
    private readonly scope: string,
    private readonly config: GraphConfig,
    private readonly ca: string[] | undefined,
  ) {
    this.credential = make();
  }

  async token(signal: AbortSignal): Promise<string> {
    let t;
    try {
      t = await this.credential.getToken(this.scope, { abortSignal: signal });
    } catch (e) {
      if (signal.aborted) throw cancelled(signal);
      if (/endpoints_resolution_error/.test((e as Error)?.message ?? '')) {
        throw await diagnoseAuthority(this.config, this.ca);
      }
      throw tokenError(e, this.config);
    }
    if (!t) throw new DirsyncError('DIRSYNC_E_IDP_AUTH', 'the credential returned no token');
    return t.token;
  }

  /** Which credential `token()` used last; a 401 renews only if no other request renewed since. */
  get generation(): TokenCredential {
    return this.credential;
  }

  /**
   * Starts from a fresh credential, unless `used` (the credential the rejected token came from) was
   * already replaced: concurrent requests rejected by one revocation renew once, not each.
   */
  renew(used: TokenCredential = this.credential): void {
    if (used === this.credential) this.credential = this.make();
  }
}

interface PolicyDeps {
  tokens: TokenSource;
  budget: RequestBudget;
  stats: SourceStats;
  retry: RetryPolicy;
  timeoutMs: number;
  signal: AbortSignal;
  logger: Logger;
}

/** The middleware: auth header, budget, counting, timeouts and retries, per attempt. */
class DirsyncPolicy implements Middleware {
  private next: Middleware | undefined;

  constructor(private readonly d: PolicyDeps) {}

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    const note = context.middlewareControl?.getMiddlewareOptions(RequestNote) as RequestNote | undefined;
    try {
      await this.attempts(context, note);
    } catch (e) {
      if (note && e instanceof DirsyncError) note.failure = e;
      throw e;
    }
  }

  private async attempts(context: Context, note: RequestNote | undefined): Promise<void> {
    const { d } = this;
    const options = (context.options ??= {});
    const headers = (options.headers ??= {}) as Record<string, string>;
    let renewed = false;
    for (let attempt = 0; ; attempt++) {
      await d.budget.take(note?.cost ?? 1, d.signal);
      const credential = d.tokens.generation;
      headers.Authorization = `Bearer ${await d.tokens.token(d.signal)}`;
      options.signal = AbortSignal.any([d.signal, AbortSignal.timeout(d.timeoutMs)]);
      d.stats.requests++;
      context.response = undefined;
      let failure: unknown = null;
      try {
        await this.next?.execute(context);
      } catch (e) {
        failure = e;
      }
      if (d.signal.aborted) throw cancelled(d.signal);
      const res = context.response as Response | undefined;
      if (res && failure === null) {
        if (res.status === 401 && !renewed) {
          // A token can be revoked or expire early (clock skew, key rollover) while MSAL still
          // caches it: start from a fresh credential once, then give up.
          renewed = true;
          await res.body?.cancel();
          d.tokens.renew(credential);
          continue;
        }
        if (res.status === 429 || res.status === 503) d.stats.throttled++;
        if (!RETRYABLE.has(res.status) || attempt >= d.retry.maxRetries) return;
        const wait = retryAfterMs(res.headers.get('retry-after')) ?? backoffMs(attempt, d.retry);
        d.logger.debug({ status: res.status, attempt, wait }, 'graph: retrying');
        await res.body?.cancel();
        await abortableSleep(wait, d.signal);
        continue;
      }
      if (attempt >= d.retry.maxRetries) {
        if (note) note.transportError = failure ?? new Error('no response');
        throw failure ?? new Error('no response');
      }
      d.logger.debug({ err: (failure as Error)?.name, attempt }, 'graph: transport error, retrying');
      await abortableSleep(backoffMs(attempt, d.retry), d.signal);
    }
  }
}

export interface GraphPage {
  value: Record<string, unknown>[];
  nextLink: string | null;
}

export interface BatchRequest {
  id: string;
  method: 'GET';
  url: string;
}

export interface BatchResponse {
  id: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export class GraphClient {
  readonly sdk: Client;
  private readonly dispatcher: Agent | undefined;
  /** `https://graph.microsoft.com/v1.0`: what nextLinks start with. */
  readonly root: string;

  constructor(
    private readonly config: GraphConfig,
    private readonly d: PolicyDeps,
    ca: string[] | undefined,
  ) {
    // One secure context for every connection: passing `ca` per connection re-parses the ~150 public
    // roots for each new socket (over a second of CPU per read at high concurrency).
    this.dispatcher = ca ? new Agent({ connect: { secureContext: createSecureContext({ ca }) } }) : undefined;
    const base = new URL(config.graphBaseUrl);
    this.root = `${base.origin}/v1.0`;
    // The SDK's telemetry handler (client-request-id, SdkVersion) once per request, then our
    // policy per attempt, then the SDK's fetch.
    const telemetry = new TelemetryHandler();
    const policy = new DirsyncPolicy(d);
    telemetry.setNext(policy);
    policy.setNext(new HTTPMessageHandler());
    this.sdk = Client.initWithMiddleware({
      middleware: telemetry,
      baseUrl: base.origin,
      defaultVersion: 'v1.0',
      // Graph's SDK recognises its own hosts only; a national cloud or emulator must be named.
      customHosts: new Set([base.hostname]),
      ...(this.dispatcher ? { fetchOptions: { dispatcher: this.dispatcher } as RequestInit } : {}),
    });
  }

  /** GET a path (relative to the version) or an absolute nextLink; parses and checks the body. */
  async get(pathOrUrl: string, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
    return this.send('GET', pathOrUrl, undefined, 1, headers);
  }

  /** Follows `@odata.nextLink`s from a first request; throws (never ends early) on failure. */
  async *pages(path: string): AsyncGenerator<GraphPage> {
    let next: string | null = path;
    while (next !== null) {
      const body = await this.get(next);
      const page = toPage(body, next);
      this.d.stats.pages++;
      yield page;
      next = page.nextLink;
    }
  }

  /** POST /$batch (≤ 20 requests); the caller handles each inner response. */
  async batch(requests: BatchRequest[]): Promise<BatchResponse[]> {
    const body = await this.send('POST', '/$batch', { requests }, requests.length);
    const responses = body.responses;
    if (!Array.isArray(responses)) {
      throw new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', 'Graph $batch answered without "responses"');
    }
    return responses as BatchResponse[];
  }

  /** A nextLink made relative to the version, for use inside a `$batch`. */
  relative(link: string): string {
    return link.startsWith(this.root) ? link.slice(this.root.length) : link;
  }

  private async send(
    method: 'GET' | 'POST',
    pathOrUrl: string,
    payload: unknown,
    cost: number,
    headers: Record<string, string> = {},
  ): Promise<Record<string, unknown>> {
    // A page cut off mid-body (a proxy or the service dropping the stream) parses as invalid
    // JSON with a 200 status: retry it like a transport error, then fail the read.
    for (let attempt = 0; ; attempt++) {
      const note = new RequestNote();
      note.cost = cost;
      // Always parse as JSON: the SDK would otherwise pick a parser by Content-Type and hand back
      // an unread stream for anything unexpected (a proxy's error page, a mangled header).
      const req = this.sdk
        .api(pathOrUrl)
        .middlewareOptions([note])
        .headers(headers)
        .responseType(ResponseType.JSON);
      try {
        const body = (method === 'GET' ? await req.get() : await req.post(payload)) as unknown;
        if (typeof body !== 'object' || body === null) {
          throw new DirsyncError(
            'DIRSYNC_E_IDP_BAD_RESPONSE',
            `${method} ${describe(pathOrUrl)}: empty or non-JSON body`,
          );
        }
        return body as Record<string, unknown>;
      } catch (e) {
        const err = this.toError(e, note, method, pathOrUrl);
        if (err.code === 'DIRSYNC_E_IDP_BAD_RESPONSE' && err.retryable && attempt < this.d.retry.maxRetries) {
          this.d.logger.debug({ attempt }, 'graph: unreadable body, retrying');
          await abortableSleep(backoffMs(attempt, this.d.retry), this.d.signal);
          continue;
        }
        throw err;
      }
    }
  }

  private toError(e: unknown, note: RequestNote, method: string, pathOrUrl: string): DirsyncError {
    if (e instanceof DirsyncError) return e;
    if (note.failure !== null) return note.failure;
    if (this.d.signal.aborted) return cancelled(this.d.signal);
    const what = `${method} ${describe(pathOrUrl)}`;
    if (note.transportError !== null) {
      const name = (note.transportError as Error)?.name ?? 'error';
      return new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', `${what}: no answer after retries (${name})`, {
        cause: note.transportError,
      });
    }
    if (e instanceof GraphError) {
      if (e.statusCode >= 200 && e.statusCode < 300) {
        return new DirsyncError(
          'DIRSYNC_E_IDP_BAD_RESPONSE',
          `${what}: unreadable ${e.statusCode} body (${e.code ?? 'parse error'})`,
          {
            status: e.statusCode,
          },
        );
      }
      return graphError(e.statusCode, e.code ?? undefined, e.message, e.headers?.get('retry-after'), what);
    }
    return new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', `${what}: ${(e as Error)?.name ?? 'error'}`, {
      cause: e,
    });
  }

  async close(): Promise<void> {
    await this.dispatcher?.close();
  }
}

/** Maps a Graph error status/code to the registry. Graph's messages hold no secrets. */
export function graphError(
  status: number,
  code: string | undefined,
  message: string,
  retryAfter: string | null | undefined,
  what: string,
): DirsyncError {
  const detail = `${what}: ${status} ${code ?? ''} ${message}`.trim();
  const opts = { status, ...(code ? { vendorCode: code } : {}) };
  if (status === 401) return new DirsyncError('DIRSYNC_E_IDP_AUTH', detail, opts);
  if (status === 403) return new DirsyncError('DIRSYNC_E_IDP_FORBIDDEN', detail, opts);
  if (status === 404) return new DirsyncError('DIRSYNC_E_IDP_NOT_FOUND', detail, opts);
  if (status === 429) {
    const ms = retryAfterMs(retryAfter);
    return new DirsyncError('DIRSYNC_E_IDP_THROTTLED', detail, {
      ...opts,
      ...(ms !== null ? { retryAfterMs: ms } : {}),
    });
  }
  if (status >= 500 || status <= 0) return new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', detail, opts);
  // Another 4xx means Dirsync asked for something Graph does not accept: trying again won't help.
  return new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', detail, { ...opts, retryable: false });
}

function describe(pathOrUrl: string): string {
  // Keep the path and the query option names; values can be long tokens.
  try {
    const u = new URL(pathOrUrl, 'https://x');
    return u.pathname;
  } catch {
    return pathOrUrl.split('?')[0] ?? pathOrUrl;
  }
}

function toPage(body: Record<string, unknown>, from: string): GraphPage {
  const value = body.value;
  if (!Array.isArray(value)) {
    throw new DirsyncError(
      'DIRSYNC_E_IDP_BAD_RESPONSE',
      `GET ${describe(from)}: the page has no "value" array`,
    );
  }
  const next = body['@odata.nextLink'];
  if (next !== undefined && typeof next !== 'string') {
    throw new DirsyncError(
      'DIRSYNC_E_IDP_BAD_RESPONSE',
      `GET ${describe(from)}: @odata.nextLink is not a string`,
    );
  }
  return { value: value as Record<string, unknown>[], nextLink: next ?? null };
}

export { toPage };
