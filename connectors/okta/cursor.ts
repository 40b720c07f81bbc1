/**
 * The Okta feed cursor: a time on the org's clock (`okta:v1:<ISO 8601>`). A feed reads what changed
 * at or after it: users and groups by `lastUpdated` / `lastMembershipUpdated`, the System Log by
 * `since`. The cursor a read hands on is the read's start on the org's clock minus the overlap, so
 * the next feed re-reads the overlap (idempotently) and nothing that happened during the read is lost.
 */
import { DirsyncError } from '../../src/errors.js';

const PREFIX = 'okta:v1:';

export function encodeCursor(orgTimeMs: number): string {
  return `${PREFIX}${new Date(Math.max(0, Math.floor(orgTimeMs))).toISOString()}`;
}

/** The cursor's time; an unreadable cursor is treated as expired (the pipeline then reads in full). */
export function decodeCursor(cursor: string): number {
  const t = cursor.startsWith(PREFIX) ? Date.parse(cursor.slice(PREFIX.length)) : Number.NaN;
  if (!Number.isFinite(t)) {
    throw new DirsyncError(
      'DIRSYNC_E_CURSOR_EXPIRED',
      `not an Okta feed cursor: ${JSON.stringify(cursor.slice(0, 40))}`,
    );
  }
  return t;
}

/** Remembers when a read started, to hand on its cursor once the org's clock is known. */
export class ReadClock {
  private readonly startedLocal = Date.now();

  constructor(
    private readonly overlapMs: number,
    private readonly serverOffsetMs: () => number,
  ) {}

  /** The read's start on the org's clock, minus the overlap. */
  cursor(): string {
    // The offset errs low (Date has whole seconds and is stamped before the response travels),
    // which only widens the overlap.
    return encodeCursor(this.startedLocal + this.serverOffsetMs() - this.overlapMs);
  }
}
