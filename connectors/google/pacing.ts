/**
 * Request pacing: a per-run request budget and retry backoff.
 *
 * Google's Directory API quota is counted per minute per user (the impersonated admin) per
 * project, 2,400 by default; a batch of n calls counts as n. Spacing request starts evenly keeps
 * any 60-second window under the budget without a burst that the server-side window would punish.
 * https://developers.google.com/workspace/admin/directory/v1/limits
 */
import { DirsyncError } from '../../src/errors.js';

/** Resolves after `ms`, or rejects with the abort reason when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled(signal));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(cancelled(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The error for an aborted read: the run's own reason when it gave one (e.g. the pipeline's
 * DIRSYNC_E_RUN_TIMEOUT), DIRSYNC_E_RUN_CANCELLED otherwise.
 */
export function cancelled(signal?: AbortSignal): DirsyncError {
  const reason: unknown = signal?.reason;
  if (reason instanceof DirsyncError) return reason;
  return new DirsyncError('DIRSYNC_E_RUN_CANCELLED', 'reading Google Workspace was cancelled');
}

/** Hands out request start times at most `perMinute` per minute, evenly spaced; 0 = unlimited. */
export class RequestBudget {
  private next = 0;
  private readonly intervalMs: number;

  constructor(perMinute: number) {
    this.intervalMs = perMinute > 0 ? 60_000 / perMinute : 0;
  }

  async take(signal?: AbortSignal): Promise<void> {
    if (this.intervalMs === 0) return;
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + this.intervalMs;
    if (at > now) await sleep(at - now, signal);
  }

  /** Pushes every later start back (after a throttling answer: the server's window is full). */
  pause(ms: number): void {
    this.next = Math.max(this.next, Date.now() + ms);
  }
}

/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"),
 * never shorter than a server-requested Retry-After, capped at `maxMs`.
 */
export function backoffMs(
  attempt: number,
  retryAfterMs: number | undefined,
  maxMs: number,
  baseMs = 250,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  const jittered = ceiling / 2 + Math.random() * (ceiling / 2);
  return Math.min(maxMs, Math.max(jittered, retryAfterMs ?? 0));
}

/**
 * How many member lists are read at once, adapting to throttling (additive increase,
 * multiplicative decrease, as TCP does): a throttling answer halves the limit, and each run of
 * `current` successes raises it by one, up to the configured `max`. Google sends no rate-limit
 * headers to steer by, only 403 `userRateLimitExceeded` / 429 `rateLimitExceeded` answers; the
 * request budget (RequestBudget) keeps the rate within the documented quota, this keeps the
 * number in flight within what the server accepts.
 */
export class AdaptiveLimit {
  private limit: number;
  private streak = 0;
  /** Answers since the last cut: throttled answers to requests sent before it do not cut again. */
  private sinceCut = Infinity;
  private lastCutFrom = 0;

  constructor(readonly max: number) {
    this.limit = Math.max(1, max);
  }

  get current(): number {
    return this.limit;
  }

  onSuccess(): void {
    this.sinceCut++;
    if (this.limit >= this.max) return;
    if (++this.streak >= this.limit) {
      this.limit++;
      this.streak = 0;
    }
  }

  onThrottle(): void {
    this.sinceCut++;
    this.streak = 0;
    // The requests in flight when the limit was cut were sent at the old limit: their throttled
    // answers say nothing new.
    if (this.sinceCut < this.lastCutFrom) return;
    this.lastCutFrom = this.limit;
    this.limit = Math.max(1, Math.floor(this.limit / 2));
    this.sinceCut = 0;
  }
}
