/**
 * Waiting for the database and Redis while a worker starts.
 *
 * A worker often starts together with its database or Redis: a host reboot, `docker compose up`,
 * a deploy that restarts both. For a few seconds they refuse connections, or answer "the database
 * system is starting up". A worker that exits then turns one restart into a crash loop, or into a
 * stopped worker wherever no supervisor restarts it (the fault soak caught a worker dying this way
 * during a Postgres restart). So start-up is retried while its failure is one a restart gives, for
 * a bounded time; any other failure (a wrong password, an unknown host, a refused migration) ends
 * it at once, as before.
 */
import type { Logger } from 'pino';
import { isTransientDatabaseError } from '../src/store/db.js';

/** How long a worker waits at start for its database and Redis (`DIRSYNC_STARTUP_WAIT_MS`). */
export const DEFAULT_STARTUP_WAIT_MS = 60_000;

/**
 * A failure a restarting database or Redis gives: refused or reset (isTransientDatabaseError knows
 * the socket codes of both, as well as Postgres' "starting up"), or Redis' LOADING while it reads
 * its dataset back.
 */
export function isRestartFailure(e: unknown): boolean {
  if (isTransientDatabaseError(e)) return true;
  for (let c: unknown = e, depth = 0; c && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const message = (c as { message?: unknown }).message;
    if (typeof message === 'string' && /^LOADING\b/.test(message)) return true;
  }
  return false;
}

export interface StartupWait {
  /** Give up after this long (ms); the last error is thrown. */
  waitMs: number;
  log: Logger;
}

/**
 * Runs `start` until it succeeds, retrying (250 ms, doubling to 2 s) while it fails with a
 * transient error and `waitMs` has not passed. `start` must clean up after itself when it fails.
 */
export async function startWhenReachable<T>(start: () => Promise<T>, o: StartupWait): Promise<T> {
  const began = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const out = await start();
      if (attempt > 0) o.log.info({ waitedMs: Date.now() - began }, 'database and Redis reachable; starting');
      return out;
    } catch (e) {
      const delay = Math.min(2000, 250 * 2 ** attempt);
      if (!isRestartFailure(e) || Date.now() - began + delay > o.waitMs) throw e;
      if (attempt === 0)
        o.log.warn(
          { err: (e as Error).message, waitMs: o.waitMs },
          'cannot start yet (database or Redis restarting?); retrying',
        );
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
