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
