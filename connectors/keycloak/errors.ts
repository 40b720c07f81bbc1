/**
 * Turns what the Keycloak admin client throws into typed {@link DirsyncError}s, and decides what is
 * worth retrying.
 *
 * The SDK throws `NetworkError` for any non-2xx answer (with the `Response` and the parsed body),
 * a `TypeError("fetch failed")` for transport failures, and returns the raw text instead of
 * throwing when a 2xx body is not JSON (a truncated page) - the caller checks the shape for that.
 *
 * Keycloak's error bodies: the admin API answers `{"error":"HTTP 401 Unauthorized"}`,
 * `{"error":"HTTP 403 Forbidden"}`, `{"error":"Could not find group by id"}`; the token endpoint
 * answers OAuth errors such as `{"error":"unauthorized_client","error_description":"Invalid client
 * or Invalid client credentials"}` or `{"error":"invalid_grant","error_description":"Invalid user
 * credentials"}`. None of these carries a secret, so they are safe to put in messages.
 */
import { NetworkError } from '@keycloak/keycloak-admin-client';
import { DirsyncError } from '../../src/errors.js';

export interface Failure {
  error: DirsyncError;
  retry: boolean;
  /** The server said it is overloaded (503) or throttling (429). */
  throttled: boolean;
  /** A 401 from the admin API: the token may have expired or been revoked early. */
  unauthorized: boolean;
}

/** Raised by the client when a 2xx body does not have the expected shape (e.g. a cut-off page). */
export class BadShapeError extends Error {}

type Obj = Record<string, unknown>;

function field(data: unknown, key: string): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const v = (data as Obj)[key];
  return typeof v === 'string' ? v.slice(0, 200) : undefined;
}

/** `Retry-After` as seconds or an HTTP date; Keycloak itself never sends it, proxies in front may. */
export function retryAfterMs(header: string | null | undefined): number | undefined {
  if (!header) return undefined;
  const s = Number(header);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(header);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

function transportCode(e: unknown): string | undefined {
  for (let c: unknown = e, depth = 0; c && depth < 4; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * Classifies a failure of `what` (e.g. "list members of group 42"). `phase` is `token` for the
 * token endpoint, where every 400/401 means the credentials (or the client setup) are wrong.
 */
export function classify(e: unknown, what: string, phase: 'token' | 'api'): Failure {
  const ok = (error: DirsyncError, retry: boolean, throttled = false, unauthorized = false): Failure => ({
    error,
    retry,
    throttled,
    unauthorized,
  });
  if (e instanceof DirsyncError) return ok(e, false);
  if (e instanceof NetworkError) {
    const status = e.response.status;
    const code = field(e.responseData, 'error') ?? field(e.responseData, 'errorMessage');
    const desc = field(e.responseData, 'error_description');
    const detail = `${what}: HTTP ${status}${code ? ` ${code}` : ''}${desc ? ` (${desc})` : ''}`;
    const opts = { status, cause: e, ...(code ? { vendorCode: code } : {}) };
    if (phase === 'token') {
      if (status === 400 || status === 401 || status === 403) {
        return ok(new DirsyncError('DIRSYNC_E_IDP_AUTH', detail, opts), false);
      }
      if (status === 404) {
        return ok(
          new DirsyncError('DIRSYNC_E_IDP_AUTH', `${detail}: is the auth realm name right?`, opts),
          false,
        );
      }
    }
    if (status === 401) return ok(new DirsyncError('DIRSYNC_E_IDP_AUTH', detail, opts), false, false, true);
    if (status === 403) {
      return ok(
        new DirsyncError(
          'DIRSYNC_E_IDP_FORBIDDEN',
          `${detail}: grant the service account the realm-management roles view-users and query-groups`,
          opts,
        ),
        false,
      );
    }
    if (status === 404) return ok(new DirsyncError('DIRSYNC_E_IDP_NOT_FOUND', detail, opts), false);
    const wait = retryAfterMs(e.response.headers.get('retry-after'));
    const waitOpt = wait === undefined ? {} : { retryAfterMs: wait };
    if (status === 429)
      return ok(new DirsyncError('DIRSYNC_E_IDP_THROTTLED', detail, { ...opts, ...waitOpt }), true, true);
    if (status >= 500) {
      // 503 is how Keycloak sheds load (http-max-queued-requests); 502/504 come from proxies.
      return ok(
        new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', detail, { ...opts, ...waitOpt }),
        true,
        status === 503,
      );
    }
    return ok(new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', detail, { ...opts, retryable: false }), false);
  }
  if (e instanceof BadShapeError || e instanceof SyntaxError) {
    return ok(new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', `${what}: ${e.message}`, { cause: e }), true);
  }
  const code = transportCode(e);
  const message = e instanceof Error ? e.message : String(e);
  if (
    (code !== undefined && TRANSIENT_CODES.has(code)) ||
    (code === undefined && e instanceof TypeError && /fetch failed|terminated|socket/i.test(message))
  ) {
    return ok(
      new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', `${what}: ${message}${code ? ` (${code})` : ''}`, {
        cause: e,
      }),
      true,
    );
  }
  if (code !== undefined) {
    // TLS verification failures, bad URLs, unknown hosts: configuration, not a passing fault.
    return ok(
      new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', `${what}: ${message} (${code})`, {
        cause: e,
        retryable: false,
      }),
      false,
    );
  }
  return ok(new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', `${what}: ${message}`, { cause: e }), true);
}
