/**
 * The request executor handed to the Okta SDK (`new Client({ requestExecutor })`): every request the
 * SDK sends, token requests included, passes through here.
 *
 * It replaces the SDK's DefaultRequestExecutor, whose retry only covers a 429 that carries both
 * `X-Rate-Limit-Reset` and `Date` (2 retries, no jitter, nothing for 5xx, resets or timeouts). Here:
 * - every request waits for the org's {@link RateBudget} (concurrency, pacing, reserve);
 * - 429s wait for the announced reset (plus jitter), 5xx/timeouts/resets/truncated JSON back off
 *   exponentially with full jitter, honouring Retry-After; all bounded by `maxRetries` and counted;
 * - 401/403/404 and other 4xx are returned at once (the SDK turns them into OktaApiError);
 * - JSON bodies are read and parsed once here, so a body cut off mid-way is retried like a reset
 *   connection instead of surfacing as a parse error after the fact;
 * - for DPoP-bound tokens, a fresh DPoP proof is signed for every attempt (a proof's `jti` may be
 *   used once, so a retried request cannot reuse the SDK's).
 */
// The SDK's transport (node-fetch) alone, not the package's index: see client.ts.
import RequestExecutor from '@okta/okta-sdk-nodejs/src/request-executor.js';
import { DirsyncError } from '../../src/errors.js';
import type { SourceStats } from '../types.js';
import { familyOf, readRateLimit, type RateBudget } from './budget.js';
import { cancelled, sleep } from './sleep.js';

/** The parts of node-fetch's Response this module uses (node-fetch is the SDK's, not ours). */
export interface FetchResponse {
  status: number;
  statusText: string;
  url: string;
  ok: boolean;
  headers: { get(name: string): string | null; raw(): Record<string, string[]> };
  buffer(): Promise<Buffer>;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

export interface ExecutorRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeout?: number;
  signal?: AbortSignal;
  [k: string]: unknown;
}

export interface RetryPolicy {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Signs DPoP proofs for API requests when the access token is DPoP-bound. */
export interface DpopSigner {
  readonly bound: boolean;
  proof(method: string, url: string, accessToken: string | null): string;
  /** The access token in use now. */
  current(): string | null;
}

const parsedBodies = new WeakMap<object, unknown>();

/** The JSON body the executor already parsed for a response, if any. */
export function parsedBody(res: object): { value: unknown } | null {
  return parsedBodies.has(res) ? { value: parsedBodies.get(res) } : null;
}

export class OktaRequestExecutor extends RequestExecutor {
  /** Set once the private-key token provider exists (it needs this executor first). */
  dpop: DpopSigner | null = null;

  constructor(
    private readonly budget: RateBudget,
    private readonly stats: SourceStats,
    private readonly policy: RetryPolicy,
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal,
    private readonly onRetry: (info: {
      url: string;
      attempt: number;
      reason: string;
      waitMs: number;
    }) => void = () => {},
  ) {
    super();
  }

  override async fetch(request: ExecutorRequest): Promise<FetchResponse> {
    const url = new URL(request.url);
    const family = familyOf(url.pathname);
    const method = (request.method ?? 'GET').toUpperCase();
    let lastReason = '';
    let token: string | null = null;
    for (let attempt = 0; ; attempt++) {
      if (this.signal.aborted) throw cancelled();
      if (attempt > this.policy.maxRetries) throw this.exhausted(lastReason, url);
      const release = await this.budget.acquire(family, this.signal);
      let res: FetchResponse;
      let body: Buffer;
      try {
        const headers = { ...(request.headers ?? {}) };
        if (token !== null) headers.Authorization = `Bearer ${token}`;
        this.authorize(headers, method, url);
        this.stats.requests++;
        // node-fetch (the SDK's transport) takes `timeout` and `signal`.
        res = (await super.fetch({
          ...request,
          headers,
          timeout: this.timeoutMs,
          signal: this.signal,
        } as never)) as FetchResponse;
        body = await res.buffer();
      } catch (e) {
        release();
        if (this.signal.aborted) throw cancelled();
        lastReason = networkReason(e);
        await this.backoff(attempt, null, url, lastReason);
        continue;
      }
      release();
      const rl = readRateLimit((n) => res.headers.get(n));
      const limitKind = rl ? this.budget.observe(family, rl, res.status === 429) : 'window';

      if (res.status === 429) {
        this.stats.throttled++;
        lastReason = 'HTTP 429 (rate limited)';
        const until = rl ? rl.resetAt : Date.now() + this.delay(attempt);
        this.budget.block(family, until, limitKind === 'window');
        if (attempt >= this.policy.maxRetries) throw this.throttledError(rl, url);
        // Concurrent requests all see the same reset: spread their return over a second.
        const wait = Math.min(this.policy.maxDelayMs, Math.max(0, until - Date.now()) + Math.random() * 1000);
        this.onRetry({ url: redact(url), attempt, reason: lastReason, waitMs: Math.round(wait) });
        await sleep(wait, this.signal);
        continue;
      }
      if (res.status === 401 && this.dpop && url.pathname !== '/oauth2/v1/token') {
        // Concurrent requests that went out with a token another request has since replaced:
        // resend with the new one rather than make the SDK fetch yet another token.
        const used = (request.headers?.Authorization ?? '').replace(/^(Bearer|DPoP)\s+/i, '');
        const current = this.dpop.current();
        if (current !== null && current !== (token ?? used) && attempt < this.policy.maxRetries) {
          token = current;
          lastReason = 'HTTP 401 with a replaced token';
          continue;
        }
      }
      if (res.status >= 500 && res.status !== 501) {
        lastReason = `HTTP ${res.status}`;
        await this.backoff(attempt, retryAfterMs(res.headers.get('retry-after')), url, lastReason);
        continue;
      }
      const Ctor = res.constructor as new (body: Buffer, init: object) => FetchResponse;
      const copy = new Ctor(body, {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers.raw(),
        url: res.url,
      });
      if (res.ok && /json/i.test(res.headers.get('content-type') ?? '') && body.length > 0) {
        try {
          parsedBodies.set(copy, JSON.parse(body.toString('utf8')));
        } catch {
          lastReason = `HTTP ${res.status} with a cut-off or invalid JSON body`;
          await this.backoff(attempt, null, url, lastReason);
          continue;
        }
      }
      return copy;
    }
  }

  /** Turns the SDK's `Bearer` into `DPoP` + a fresh proof when the token is DPoP-bound. */
  private authorize(headers: Record<string, string>, method: string, url: URL): void {
    if (url.pathname === '/oauth2/v1/token') return; // the token provider signs its own proof
    const auth = headers.Authorization ?? headers.authorization;
    delete headers.DPoP;
    if (!this.dpop?.bound || !auth) return;
    const token = auth.replace(/^(Bearer|DPoP)\s+/i, '');
    delete headers.authorization;
    headers.Authorization = `DPoP ${token}`;
    headers.DPoP = this.dpop.proof(method, `${url.origin}${url.pathname}`, token);
  }

  private delay(attempt: number): number {
    const cap = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** attempt);
    return this.policy.baseDelayMs / 2 + Math.random() * (cap - this.policy.baseDelayMs / 2);
  }

  private async backoff(attempt: number, retryAfter: number | null, url: URL, reason: string): Promise<void> {
    if (attempt >= this.policy.maxRetries) return; // the loop throws with this reason
    const wait = Math.min(this.policy.maxDelayMs, Math.max(retryAfter ?? 0, this.delay(attempt)));
    this.onRetry({ url: redact(url), attempt, reason, waitMs: Math.round(wait) });
    await sleep(wait, this.signal);
  }

  private exhausted(reason: string, url: URL): DirsyncError {
    const status = /^HTTP (\d+)/.exec(reason)?.[1];
    const code = /invalid JSON/.test(reason) ? 'DIRSYNC_E_IDP_BAD_RESPONSE' : 'DIRSYNC_E_IDP_UNAVAILABLE';
    return new DirsyncError(
      code,
      `Okta ${redact(url)}: ${reason}, still failing after ${this.policy.maxRetries} retries`,
      {
        ...(status ? { status: Number(status) } : {}),
      },
    );
  }

  private throttledError(rl: ReturnType<typeof readRateLimit>, url: URL): DirsyncError {
    return new DirsyncError(
      'DIRSYNC_E_IDP_THROTTLED',
      `Okta ${redact(url)}: still rate limited (429 E0000047) after ${this.policy.maxRetries} retries`,
      {
        status: 429,
        vendorCode: 'E0000047',
        ...(rl ? { retryAfterMs: Math.max(0, rl.resetAt - Date.now()) } : {}),
      },
    );
  }
}

/** The URL for messages: path and cursor-free query (cursors are noise; nothing secret is in Okta URLs). */
export function redact(url: URL): string {
  const q = new URLSearchParams(url.search);
  q.delete('after');
  const qs = q.toString();
  return `${url.pathname}${qs ? `?${qs}` : ''}`;
}

function networkReason(e: unknown): string {
  const err = e as { type?: string; code?: string; message?: string };
  if (err?.type === 'request-timeout') return 'request timed out';
  return `network error ${err?.code ?? err?.type ?? ''}`.trim();
}

export function retryAfterMs(v: string | null): number | null {
  if (!v) return null;
  const s = Number(v);
  if (Number.isFinite(s)) return s * 1000;
  const d = Date.parse(v);
  return Number.isFinite(d) ? Math.max(0, d - Date.now()) : null;
}
