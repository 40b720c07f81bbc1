/**
 * The Keycloak feed cursor: the time from which admin events are read next, and the realm's group
 * tree (subgroup → parent) as the last read saw it.
 *
 * Why the tree travels in the cursor: Keycloak records one `DELETE groups/{id}` event when a group
 * is deleted, but deletes its whole subtree with it (JpaRealmProvider.removeGroup), and a subgroup
 * move (`POST groups/{parent}/children` with an existing id) names only the new parent. Without the
 * previous tree the feed could tell neither which subgroups vanished nor which parent edge ended.
 * Only nested groups take room (about 80 bytes each before compression); top-level groups are not
 * listed.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { DirsyncError } from '../../src/errors.js';

export interface FeedCursor {
  /** Realm name the cursor belongs to. */
  realm: string;
  /** Epoch ms (Dirsync's clock) taken before the read that produced the cursor began. */
  time: number;
  /** Subgroup id → parent id. */
  tree: Map<string, string>;
}

const PREFIX = 'kc1.';

export function encodeCursor(c: FeedCursor): string {
  const json = JSON.stringify({ r: c.realm, t: c.time, g: [...c.tree] });
  return PREFIX + deflateRawSync(Buffer.from(json, 'utf8')).toString('base64url');
}

function rejected(why: string, cause?: unknown): DirsyncError {
  return new DirsyncError(
    'DIRSYNC_E_CURSOR_EXPIRED',
    `the saved Keycloak cursor cannot be used (${why}); a full read is needed`,
    cause === undefined ? {} : { cause },
  );
}

/** Parses a cursor of this connector for `realm`; anything else is rejected (the pipeline reads in full). */
export function decodeCursor(text: string, realm: string): FeedCursor {
  if (!text.startsWith(PREFIX)) throw rejected('not a Keycloak cursor');
  let v: unknown;
  try {
    v = JSON.parse(inflateRawSync(Buffer.from(text.slice(PREFIX.length), 'base64url')).toString('utf8'));
  } catch (e) {
    throw rejected('it is corrupt', e);
  }
  const o = v as { r?: unknown; t?: unknown; g?: unknown };
  if (
    typeof o !== 'object' ||
    o === null ||
    typeof o.r !== 'string' ||
    typeof o.t !== 'number' ||
    !Number.isFinite(o.t) ||
    !Array.isArray(o.g) ||
    !o.g.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'string'))
  )
    throw rejected('it is malformed');
  if (o.r !== realm) throw rejected(`it belongs to realm "${o.r}", not "${realm}"`);
  return { realm: o.r, time: o.t, tree: new Map(o.g as [string, string][]) };
}
