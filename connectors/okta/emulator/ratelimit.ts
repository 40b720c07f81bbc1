/**
 * Okta's org-wide rate limits: a request budget per endpoint family per window (one minute on real
 * orgs), reported on every response as X-Rate-Limit-Limit / -Remaining / -Reset (UTC epoch
 * seconds), plus a cap on concurrent requests. Defaults are a Workforce Identity org's.
 * https://developer.okta.com/docs/reference/rl-global-mgmt/  https://developer.okta.com/docs/reference/rl2-concurrency
 */
import { familyOf, type Family } from '../budget.js';

export type RateLimits = Record<Family, number>;

export const DEFAULT_RATE_LIMITS: RateLimits = {
  users: 600,
  user: 2000,
  groups: 500,
  group: 1000,
  logs: 120,
  token: 600,
  other: 1200,
};

export interface Decision {
  allowed: boolean;
  headers: Record<string, string>;
}

export class OrgRateLimiter {
  private readonly windows = new Map<Family, { start: number; count: number }>();
  private inFlight = 0;
  /** The next N API requests answer 429 whatever the budget (a "storm"). */
  forced = 0;

  constructor(
    public limits: RateLimits,
    public windowMs: number,
    public concurrencyLimit: number,
  ) {}

  /** Counts a request against its family and the concurrency cap; call `done()` when it is answered. */
  admit(pathname: string): Decision & { done: () => void } {
    const family = familyOf(pathname);
    const now = Date.now();
    let w = this.windows.get(family);
    if (!w || now >= w.start + this.windowMs) {
      w = { start: now, count: 0 };
      this.windows.set(family, w);
    }
    const limit = this.limits[family];
    const resetS = Math.ceil((w.start + this.windowMs) / 1000);
    this.inFlight++;
    let finished = false;
    const done = () => {
      if (!finished) {
        finished = true;
        this.inFlight--;
      }
    };
    if (this.inFlight > this.concurrencyLimit) {
      // Over the concurrency cap the headers report the concurrent limit, not the family's.
      return {
        allowed: false,
        done,
        headers: rl(this.concurrencyLimit, 0, Math.ceil(now / 1000) + 1),
      };
    }
    if (this.forced > 0 && family !== 'token') {
      this.forced--;
      return { allowed: false, done, headers: rl(limit, 0, Math.ceil(now / 1000)) };
    }
    if (w.count >= limit) return { allowed: false, done, headers: rl(limit, 0, resetS) };
    w.count++;
    return { allowed: true, done, headers: rl(limit, limit - w.count, resetS) };
  }
}

const rl = (limit: number, remaining: number, reset: number): Record<string, string> => ({
  'X-Rate-Limit-Limit': String(limit),
  'X-Rate-Limit-Remaining': String(remaining),
  'X-Rate-Limit-Reset': String(reset),
});
