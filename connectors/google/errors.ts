/**
 * Turns what the SDK throws (gaxios errors, mostly) into {@link DirsyncError}s with a code,
 * status, Google's `reason` and a Retry-After when one was sent.
 *
 * The raw gaxios error is never kept as `cause`: its config holds the bearer token (API calls)
 * or the signed assertion (token calls), and a logger serialising causes would print them.
 *
 * Error format: https://developers.google.com/workspace/admin/directory/v1/limits and
 * https://cloud.google.com/apis/design/errors (`{"error":{"code","message","errors":[{"reason"}],"status"}}`).
 */
import { DirsyncError } from '../../src/errors.js';

/** 403 reasons that mean "slow down", not "you may not". The SDK does not retry 403s at all. */
export const RATE_LIMIT_REASONS = new Set(['userRateLimitExceeded', 'rateLimitExceeded', 'quotaExceeded']);

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  name?: unknown;
  config?: { url?: unknown };
  response?: { status?: unknown; data?: unknown; headers?: unknown };
}

function header(headers: unknown, name: string): string | null {
  if (!headers) return null;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  const v = (headers as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : null;
}

/** Retry-After as milliseconds (seconds or an HTTP date), or undefined. */
export function retryAfterMs(headers: unknown, now = Date.now()): number | undefined {
  const v = header(headers, 'retry-after');
  if (v === null) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** Google's API error body: first `errors[].reason` and the message. */
function apiError(data: unknown): { reason?: string; message?: string; status?: string } {
  if (typeof data !== 'object' || data === null) return {};
  const e = (data as { error?: unknown }).error;
  if (typeof e !== 'object' || e === null) return {};
  const o = e as { message?: unknown; status?: unknown; errors?: unknown };
  const first = Array.isArray(o.errors) ? (o.errors[0] as { reason?: unknown } | undefined) : undefined;
  return {
    ...(typeof first?.reason === 'string' ? { reason: first.reason } : {}),
    ...(typeof o.message === 'string' ? { message: o.message.slice(0, 300) } : {}),
    ...(typeof o.status === 'string' ? { status: o.status } : {}),
  };
}

/** An OAuth token endpoint error body: `{"error":"invalid_grant","error_description":"..."}`. */
function oauthError(data: unknown): { error?: string; description?: string } {
  if (typeof data !== 'object' || data === null) return {};
  const o = data as { error?: unknown; error_description?: unknown };
  return {
    ...(typeof o.error === 'string' ? { error: o.error } : {}),
    ...(typeof o.error_description === 'string' ? { description: o.error_description.slice(0, 300) } : {}),
  };
}

/** A private key OpenSSL cannot read (not PEM, cut, wrong type): thrown while signing the JWT. */
function isKeyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_OSSL')) return true;
  const msg = (err as { message?: unknown } | null)?.message;
  return (
    typeof msg === 'string' && /DECODER routines|PEM routines|asn1|secretOrPrivateKey|private key/i.test(msg)
  );
}

/** True when the failed request was the OAuth token request (not an API call). */
export function isTokenRequest(err: unknown, tokenUrl: string): boolean {
  const url = (err as ErrorLike | null)?.config?.url;
  return url !== undefined && String(url).split('?')[0] === tokenUrl;
}

/**
 * Classifies a failure of one request. `what` names the call for the message
 * (e.g. `members.list(groupKey=...)`); it must not hold secrets.
 */
export function classifyError(err: unknown, what: string, tokenUrl: string): DirsyncError {
  if (err instanceof DirsyncError) return err;
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as ErrorLike;
  if (isKeyError(err)) {
    // The JWT could not be signed: no request was sent, and no retry can fix the key.
    return new DirsyncError(
      'DIRSYNC_E_IDP_AUTH',
      `${what}: the service account key's private_key cannot be used to sign (${(err as Error).message.slice(0, 120)})`,
      { cause: err },
    );
  }
  const status = typeof e.response?.status === 'number' ? e.response.status : undefined;
  const after = retryAfterMs(e.response?.headers);
  const opts = (vendorCode?: string) => ({
    ...(status !== undefined ? { status } : {}),
    ...(vendorCode ? { vendorCode } : {}),
    ...(after !== undefined ? { retryAfterMs: after } : {}),
  });

  if (isTokenRequest(e, tokenUrl)) {
    const o = oauthError(e.response?.data);
    const detail = `token request to ${tokenUrl} failed${status ? ` with ${status}` : ''}${
      o.error ? `: ${o.error}${o.description ? ` (${o.description})` : ''}` : ''
    }`;
    if (status === 400 || status === 401 || status === 403) {
      return new DirsyncError('DIRSYNC_E_IDP_AUTH', detail, opts(o.error));
    }
    if (status === 429) return new DirsyncError('DIRSYNC_E_IDP_THROTTLED', detail, opts(o.error));
    if (status === undefined) {
      return new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', `${detail}: ${networkReason(e)}`, opts());
    }
    return new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', detail, opts(o.error));
  }

  if (status === undefined) {
    // No response: refused, reset, timed out, or a body that broke mid-way.
    return new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', `${what}: ${networkReason(e)}`);
  }
  const a = apiError(e.response?.data);
  const detail = `${what} answered ${status}${a.reason ? ` ${a.reason}` : ''}${a.message ? `: ${a.message}` : ''}`;
  if (status === 401) return new DirsyncError('DIRSYNC_E_IDP_AUTH', detail, opts(a.reason));
  if (status === 429 || (status === 403 && a.reason !== undefined && RATE_LIMIT_REASONS.has(a.reason))) {
    return new DirsyncError('DIRSYNC_E_IDP_THROTTLED', detail, opts(a.reason));
  }
  if (status === 403) return new DirsyncError('DIRSYNC_E_IDP_FORBIDDEN', detail, opts(a.reason));
  if (status === 404) return new DirsyncError('DIRSYNC_E_IDP_NOT_FOUND', detail, opts(a.reason));
  if (status >= 500) return new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', detail, opts(a.reason));
  if (status === 408) return new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', detail, opts(a.reason));
  // 400 and other 4xx: our request is wrong (bad customer id, bad query); trying again cannot help.
  return new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', detail, { ...opts(a.reason), retryable: false });
}

function networkReason(e: ErrorLike): string {
  const code = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'error';
  const msg = typeof e.message === 'string' ? e.message.slice(0, 200) : '';
  return `no response (${code}${msg ? `: ${msg}` : ''})`;
}
