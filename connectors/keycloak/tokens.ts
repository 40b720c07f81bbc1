/**
 * Access tokens for the admin API, kept fresh by authenticating again before they expire.
 *
 * Why not the SDK's own refresh: `KeycloakAdminClient.getAccessToken()` refreshes only with a
 * refresh token, and Keycloak issues none for client credentials (RFC 6749 §4.4.3), so a long read
 * would fail with "Cannot refresh token" once the token (60 s in the master realm by default)
 * expires. The SDK decodes expiry from the JWT `exp` without checking the signature; we do the
 * same, but measure the lifetime as `exp - iat` from our own clock so server clock skew does not
 * matter.
 */
import type KcAdminClient from '@keycloak/keycloak-admin-client';
import type { SourceStats } from '../types.js';
import { classify } from './errors.js';
import { backoffDelay, cancelled, sleep } from './pool.js';

/** What `KeycloakAdminClient.auth()` takes (the SDK does not export the type from its entry point). */
export type Credentials = Parameters<KcAdminClient['auth']>[0];

export interface TokenRetry {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

interface Claims {
  exp?: unknown;
  iat?: unknown;
}

function decodeClaims(jwt: string): Claims {
  const part = jwt.split('.')[1];
  if (!part) return {};
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Claims;
  } catch {
    return {};
  }
}

/**
 * How long a fresh token can be used: its lifetime less a quarter (at most 30 s) as margin. `exp`
 * and `iat` are whole seconds, so one second is taken off first: a token issued at x.999 s with
 * `exp - iat = 60` is good for just over 59 s.
 */
export function refreshDelayMs(jwt: string, now = Date.now()): number {
  const { exp, iat } = decodeClaims(jwt);
  if (typeof exp !== 'number') return 60_000;
  const lifetimeMs = (exp - (typeof iat === 'number' ? iat : now / 1000) - 1) * 1000;
  return Math.max(0, lifetimeMs - Math.min(30_000, lifetimeMs / 4));
}

export class TokenManager {
  private token: string | undefined;
  private refreshAt = 0;
  private inflight: Promise<string> | null = null;

  constructor(
    private readonly authClient: KcAdminClient,
    private readonly credentials: () => Credentials,
    private readonly retry: TokenRetry,
    private readonly signal: AbortSignal,
    /** Token requests are HTTP requests too: counted with the rest. */
    private readonly stats: SourceStats,
  ) {}

  /** A token valid for a while yet; authenticates (once, for all callers) when needed. */
  async get(): Promise<string> {
    if (this.token !== undefined && Date.now() < this.refreshAt) return this.token;
    this.inflight ??= this.fetch().finally(() => (this.inflight = null));
    return this.inflight;
  }

  /** Drops `token` after the server refused it (revoked, or expired early); later calls re-authenticate. */
  invalidate(token: string): void {
    if (this.token === token) this.token = undefined;
  }

  private async fetch(): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      this.stats.requests++;
      try {
        // Credentials are resolved per attempt and never kept on `this`: a rotated secret file is
        // picked up, and no secret sits in a long-lived object that might get logged.
        await this.authClient.auth(this.credentials());
        const token = this.authClient.accessToken;
        if (typeof token !== 'string' || token === '')
          throw new TypeError('token response had no access_token');
        this.token = token;
        this.refreshAt = Date.now() + refreshDelayMs(token);
        return token;
      } catch (e) {
        if (this.signal.aborted) throw cancelled(this.signal);
        const f = classify(e, 'get an access token', 'token');
        if (f.throttled) this.stats.throttled++;
        if (!f.retry || attempt >= this.retry.maxAttempts) throw f.error;
        await sleep(
          backoffDelay(attempt, this.retry.baseDelayMs, this.retry.maxDelayMs, f.error.retryAfterMs),
          this.signal,
        );
      }
    }
  }
}
