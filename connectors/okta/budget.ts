/**
 * A per-org request budget. Okta rate-limits per org and per endpoint family (list users, list
 * groups, token, ...), plus an org-wide cap on concurrent requests; every integration of the org
 * draws from the same buckets. So everything one Dirsync process does against an org goes through
 * one budget: it caps requests in flight, paces each family so the window's remaining requests are
 * spread to its reset, stops at a reserve left for other integrations, and blocks a family after a
 * 429 until the reset Okta announced.
 * https://developer.okta.com/docs/reference/rl-best-practices/
 */
import { sleep } from './sleep.js';

/** Endpoint families as Okta buckets them (https://developer.okta.com/docs/reference/rl-global-mgmt/). */
export type Family = 'users' | 'user' | 'groups' | 'group' | 'logs' | 'token' | 'other';

export function familyOf(pathname: string): Family {
  if (pathname === '/oauth2/v1/token') return 'token';
  if (pathname === '/api/v1/users') return 'users';
  if (pathname === '/api/v1/logs') return 'logs';
  // A user by id or login, and its sub-resources (`/groups`), are the `/api/v1/users/{id}` bucket.
  if (pathname.startsWith('/api/v1/users/')) return 'user';
  // `/api/v1/groups/{id}` alone is its own bucket; lists, including a group's members, are "/api/v1/groups".
  if (/^\/api\/v1\/groups\/[^/]+$/.test(pathname)) return 'group';
  if (pathname.startsWith('/api/v1/groups')) return 'groups';
  return 'other';
}

interface FamilyState {
  limit?: number;
  remaining?: number;
  /** Local clock time at which the current window resets. */
  resetAt?: number;
  inFlight: number;
  /** After a 429: no request of this family starts before this time. */
  blockedUntil: number;
  /** Earliest start of the next request (pacing). */
  nextStart: number;
}

export interface RateLimitHeaders {
  limit: number;
  remaining: number;
  /** Local clock time of the reset (already corrected by the response's Date header). */
  resetAt: number;
}

/** Reads X-Rate-Limit-* and converts the reset (server epoch seconds) to the local clock via `Date`. */
export function readRateLimit(
  get: (name: string) => string | null,
  now = Date.now(),
): RateLimitHeaders | null {
  const limit = Number(get('x-rate-limit-limit'));
  const remaining = Number(get('x-rate-limit-remaining'));
  const resetRaw = get('x-rate-limit-reset');
  // Duplicate headers arrive comma-joined (OKTA-112507): unusable, like the SDK treats them.
  if (resetRaw === null || resetRaw.includes(',') || !Number.isFinite(limit) || !Number.isFinite(remaining))
    return null;
  const reset = Number(resetRaw) * 1000;
  if (!Number.isFinite(reset)) return null;
  const date = Date.parse(get('date') ?? '');
  // Measured against the response's Date (the server clock), not ours. Date is truncated to the
  // second, so `reset - date` can only overestimate; a small margin covers rounding. (The SDK adds
  // a whole second per retry.)
  const resetAt = (Number.isFinite(date) ? now + (reset - date) : reset) + 100;
  return { limit, remaining, resetAt: Math.max(now, resetAt) };
}

export class RateBudget {
  private readonly families = new Map<Family, FamilyState>();
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private maxConcurrent: number,
    /** 0..0.9: share of each window left unused for the org's other clients. */
    private readonly reserve: number,
  ) {}

  private state(f: Family): FamilyState {
    let s = this.families.get(f);
    if (!s) {
      s = { inFlight: 0, blockedUntil: 0, nextStart: 0 };
      this.families.set(f, s);
    }
    return s;
  }

  /** Waits for a concurrency slot and the family's budget; returns the release function. */
  async acquire(family: Family, signal?: AbortSignal): Promise<() => void> {
    if (this.active >= this.maxConcurrent) {
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else this.active++;
    try {
      await this.waitForBudget(this.state(family), signal);
    } catch (e) {
      this.releaseSlot();
      throw e;
    }
    const s = this.state(family);
    s.inFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      s.inFlight--;
      this.releaseSlot();
    };
  }

  private releaseSlot(): void {
    // After the cap was lowered, slots above it are retired instead of handed on.
    if (this.active > this.maxConcurrent) {
      this.active--;
      return;
    }
    const next = this.queue.shift();
    if (next) next();
    else this.active--;
  }

  private async waitForBudget(s: FamilyState, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = Date.now();
      if (s.blockedUntil > now) {
        await sleep(s.blockedUntil - now, signal);
        continue;
      }
      if (s.resetAt !== undefined && now >= s.resetAt) {
        // A new window: assume it is full until a response says otherwise.
        s.remaining = s.limit;
        s.resetAt = undefined;
        s.nextStart = 0;
      }
      if (s.limit === undefined || s.remaining === undefined || s.resetAt === undefined) return;
      const usable = s.remaining - s.inFlight - Math.ceil(s.limit * this.reserve);
      if (usable <= 0) {
        // Slow down before Okta says 429: wait for the window to reset.
        await sleep(s.resetAt - now, signal);
        continue;
      }
      // Full speed while more than half the window is left; then spread the rest evenly until
      // the reset, so a long sync slows down smoothly instead of hitting the wall.
      if (usable > s.limit / 2) return;
      const interval = (s.resetAt - now) / usable;
      const start = Math.max(now, s.nextStart);
      s.nextStart = start + interval;
      if (start - now >= 1) await sleep(start - now, signal);
      return;
    }
  }

  /** The cap on requests in flight now (lowered when Okta reports a smaller concurrency limit). */
  concurrency(): number {
    return this.maxConcurrent;
  }

  /**
   * Records the rate-limit headers of a response. A 429 whose `X-Rate-Limit-Limit` is below the
   * family's known per-minute limit reports the org's *concurrency* limit instead (Okta answers
   * too many requests in flight that way): the cap on requests in flight drops below it, keeping
   * the reserve for the org's other integrations, and the family's own window is left as it was.
   * https://developer.okta.com/docs/reference/rl2-concurrency/
   */
  observe(family: Family, h: RateLimitHeaders, throttled = false): 'window' | 'concurrency' {
    const s = this.state(family);
    if (throttled && s.limit !== undefined && h.limit < s.limit) {
      this.maxConcurrent = Math.max(
        1,
        Math.min(this.maxConcurrent, Math.floor(h.limit * (1 - this.reserve))),
      );
      return 'concurrency';
    }
    // Responses of the same window arrive out of order under concurrency: keep the lowest remaining.
    if (s.resetAt !== undefined && Math.abs(h.resetAt - s.resetAt) < 1500 && s.remaining !== undefined) {
      s.remaining = Math.min(s.remaining, h.remaining);
    } else s.remaining = h.remaining;
    s.limit = h.limit;
    s.resetAt = h.resetAt;
    return 'window';
  }

  /**
   * After a 429: nothing of this family starts before `until`. A 429 for the concurrency limit
   * leaves the family's window as it was (`windowExhausted` false).
   */
  block(family: Family, until: number, windowExhausted = true): void {
    const s = this.state(family);
    s.blockedUntil = Math.max(s.blockedUntil, until);
    if (windowExhausted) s.remaining = 0;
  }
}

/** One budget per org URL in this process, so two connector entries for one org share it. */
const budgets = new Map<string, RateBudget>();

export function budgetFor(orgUrl: string, maxConcurrent: number, reserve: number): RateBudget {
  const key = `${orgUrl}|${maxConcurrent}|${reserve}`;
  let b = budgets.get(key);
  if (!b) {
    b = new RateBudget(maxConcurrent, reserve);
    budgets.set(key, b);
  }
  return b;
}
