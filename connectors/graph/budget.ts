import { DirsyncError } from '../../src/errors.js';

/**
 * A per-tenant request budget: at most `capacity` units in any window of `perSeconds` (a sliding
 * window, so it also holds for the fixed windows Graph counts in; a token bucket would allow twice
 * the budget in one window). Graph throttles per app+tenant pair, so every source reading the same
 * tenant with the same app in this process draws from one budget; requests inside a `$batch` each
 * take a unit, as Graph counts them.
 */
export class RequestBudget {
  private readonly windowMs: number;
  private entries: { t: number; cost: number }[] = [];
  private head = 0;
  private used = 0;

  constructor(
    readonly capacity: number,
    perSeconds: number,
  ) {
    this.windowMs = perSeconds * 1000;
  }

  /** Waits until `cost` units fit in the window (a cost above the capacity waits for an empty window). */
  async take(cost: number, signal: AbortSignal): Promise<void> {
    const need = Math.min(cost, this.capacity);
    for (;;) {
      const now = Date.now();
      this.expire(now);
      if (this.used + need <= this.capacity) {
        this.entries.push({ t: now, cost: need });
        this.used += need;
        return;
      }
      // Wait until enough of the oldest units leave the window.
      let freed = 0;
      let i = this.head;
      while (this.used - freed + need > this.capacity && i < this.entries.length) {
        freed += (this.entries[i] as { cost: number }).cost;
        i++;
      }
      const until = (this.entries[i - 1] as { t: number }).t + this.windowMs;
      await abortableSleep(Math.max(1, until - now + 1), signal);
    }
  }

  private expire(now: number): void {
    while (
      this.head < this.entries.length &&
      (this.entries[this.head] as { t: number }).t <= now - this.windowMs
    ) {
      this.used -= (this.entries[this.head] as { cost: number }).cost;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

const budgets = new Map<string, RequestBudget>();

/** The shared budget of one tenant+app (created with the first config that names it). */
export function budgetFor(key: string, requests: number, perSeconds: number): RequestBudget {
  let b = budgets.get(key);
  if (!b || b.capacity !== requests) {
    b = new RequestBudget(requests, perSeconds);
    budgets.set(key, b);
  }
  return b;
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(cancelled(signal));
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(cancelled(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function cancelled(signal: AbortSignal): DirsyncError {
  const reason = signal.reason as unknown;
  if (reason instanceof DirsyncError) return reason;
  return new DirsyncError('DIRSYNC_E_RUN_CANCELLED', 'reading Microsoft Graph was cancelled', {
    cause: reason,
  });
}
