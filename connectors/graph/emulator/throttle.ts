/**
 * Per-tenant throttling. Entra ID limits each app+tenant pair to a resource-unit quota per 10 s
 * (3,500 / 5,000 / 8,000 for small / medium / large tenants); every request of a `$batch` is
 * counted on its own. This emulator costs every request 1 unit (the real cost table charges some
 * endpoints more), answers 429 with `Retry-After` in whole seconds, and can also force a storm of
 * 429s for tests.
 * https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits
 */
export interface ThrottleOptions {
  /** Units per window; 0 disables the limit. */
  limit: number;
  windowMs: number;
}

export class TenantThrottle {
  private windowStart = 0;
  private used = 0;
  private forced = 0;
  private forcedRetryAfter = 1;
  throttled = 0;

  constructor(private opts: ThrottleOptions = { limit: 8000, windowMs: 10_000 }) {}

  get options(): ThrottleOptions {
    return this.opts;
  }

  /** Changes the limit and starts a fresh window. */
  configure(o: Partial<ThrottleOptions>): void {
    this.opts = { ...this.opts, ...o };
    this.windowStart = 0;
    this.used = 0;
  }

  /** The next `n` requests answer 429 with this Retry-After (seconds). */
  force(n: number, retryAfterSec = 1): void {
    this.forced = n;
    this.forcedRetryAfter = retryAfterSec;
  }

  /** Takes one unit; returns the Retry-After in seconds when the request must be throttled. */
  take(now = Date.now()): number | null {
    if (this.forced > 0) {
      this.forced--;
      this.throttled++;
      return this.forcedRetryAfter;
    }
    const { limit, windowMs } = this.opts;
    if (limit <= 0) return null;
    if (now - this.windowStart >= windowMs) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used >= limit) {
      this.throttled++;
      return Math.max(1, Math.ceil((this.windowStart + windowMs - now) / 1000));
    }
    this.used++;
    return null;
  }
}
