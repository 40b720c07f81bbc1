/**
 * The Google change-feed cursor: a time, plus what the audit log cannot tell. Admin events name
 * groups by address only, so a deleted group's id, and a group whose `directMembersCount` changed
 * because a member user was deleted (no group event at all), can only be found by comparing the
 * group list with the previous one. The cursor therefore carries each read group's id and a short
 * hash of its mapped record (about 20 bytes a group before compression), and an estimate of the
 * user count (to choose between re-reading named users one by one and re-listing them all).
 *
 * Encoded as `g1.` + base64url(gzip(JSON)); opaque to the pipeline.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DirsyncError } from '../../src/errors.js';

export interface FeedCursor {
  /** Milliseconds since the epoch: changes after this time (minus the overlap) are still to read. */
  t: number;
  /** Users in the directory at `t` (an estimate; only steers how named users are re-read). */
  users: number;
  /** Group id → hash of its mapped record (or of its problem record). */
  groups: Record<string, string>;
}

const PREFIX = 'g1.';

/** A short, stable hash of a mapped record. */
export function recordHash(item: unknown): string {
  return createHash('sha1').update(JSON.stringify(item)).digest('base64url').slice(0, 10);
}

export function encodeCursor(c: FeedCursor): string {
  return PREFIX + gzipSync(JSON.stringify({ v: 1, ...c })).toString('base64url');
}

/** Decodes a cursor; one that is not ours (or is damaged) is rejected as expired: read in full. */
export function decodeCursor(s: string): FeedCursor {
  const rejected = () =>
    new DirsyncError('DIRSYNC_E_CURSOR_EXPIRED', 'google: the saved cursor is not a Google feed cursor');
  if (!s.startsWith(PREFIX)) throw rejected();
  let o: unknown;
  try {
    o = JSON.parse(gunzipSync(Buffer.from(s.slice(PREFIX.length), 'base64url')).toString('utf8'));
  } catch {
    throw rejected();
  }
  const c = o as Partial<FeedCursor> & { v?: unknown };
  if (
    c.v !== 1 ||
    typeof c.t !== 'number' ||
    !Number.isFinite(c.t) ||
    typeof c.users !== 'number' ||
    typeof c.groups !== 'object' ||
    c.groups === null ||
    Array.isArray(c.groups) ||
    !Object.values(c.groups).every((h) => typeof h === 'string')
  ) {
    throw rejected();
  }
  return { t: c.t, users: c.users, groups: c.groups };
}
