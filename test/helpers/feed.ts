/**
 * The change-feed invariant, in memory: the records of a full read, patched with a feed, must equal
 * the records of a fresh full read. Each IdP's feed tests use this before any database is involved;
 * the pipeline's own tests then check the same through Postgres.
 */
import { expect } from 'vitest';
import type {
  ChangeFeed,
  ChangeItem,
  SnapshotItem,
  Source,
  SourceGroup,
  SourceProblem,
  SourceUser,
} from '../../connectors/types.js';

/** A connector's records as maps: users and groups by id, edges as `group>u:id` / `group>g:id`. */
export interface RecordSet {
  users: Map<string, SourceUser>;
  groups: Map<string, SourceGroup>;
  edges: Set<string>;
  /** Problems by `type:id` (id-less problems under `type:?n`). */
  problems: Map<string, SourceProblem>;
}

export const edgeKey = (groupId: string, memberType: 'user' | 'group', memberId: string) =>
  `${groupId}>${memberType === 'user' ? 'u' : 'g'}:${memberId}`;

export function emptyRecordSet(): RecordSet {
  return { users: new Map(), groups: new Map(), edges: new Set(), problems: new Map() };
}

let anonymous = 0;

/** Applies one snapshot or feed item to `set`, with the feed semantics of `connectors/types.ts`. */
export function applyItem(set: RecordSet, item: SnapshotItem | ChangeItem): void {
  switch (item.kind) {
    case 'user':
      set.users.set(item.externalId, item);
      set.problems.delete(`user:${item.externalId}`);
      return;
    case 'group':
      set.groups.set(item.externalId, item);
      set.problems.delete(`group:${item.externalId}`);
      return;
    case 'edge':
      set.edges.add(edgeKey(item.groupId, item.memberType, item.memberId));
      return;
    case 'edge-removed':
      set.edges.delete(edgeKey(item.groupId, item.memberType, item.memberId));
      return;
    case 'members-reset':
      for (const k of [...set.edges]) if (k.startsWith(`${item.groupId}>`)) set.edges.delete(k);
      return;
    case 'removed':
      if (item.objectType === 'user') {
        set.users.delete(item.externalId);
        for (const k of [...set.edges]) if (k.endsWith(`>u:${item.externalId}`)) set.edges.delete(k);
      } else {
        set.groups.delete(item.externalId);
        for (const k of [...set.edges])
          if (k.startsWith(`${item.externalId}>`) || k.endsWith(`>g:${item.externalId}`)) set.edges.delete(k);
      }
      set.problems.delete(`${item.objectType}:${item.externalId}`);
      return;
    case 'problem':
      set.problems.set(`${item.objectType}:${item.externalId ?? `?${anonymous++}`}`, item);
      return;
  }
}

/** Drains a full read into a record set. */
export async function readAll(source: Source): Promise<RecordSet> {
  const set = emptyRecordSet();
  try {
    for await (const item of source.read()) applyItem(set, item);
  } finally {
    await source.close();
  }
  return set;
}

/** Drains a feed into `set` (mutated) and returns the feed's next cursor and the items read. */
export async function applyFeed(
  set: RecordSet,
  feed: ChangeFeed,
): Promise<{ cursor: string; items: number }> {
  let items = 0;
  try {
    for await (const item of feed.read()) {
      applyItem(set, item);
      items++;
    }
    return { cursor: feed.cursor(), items };
  } finally {
    await feed.close();
  }
}

/** Comparable form: records as sorted JSON, so a failure shows which record differs. */
export function comparable(set: RecordSet) {
  const sortObj = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sortObj)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>)
              .sort(([a], [b]) => (a < b ? -1 : 1))
              .map(([k, x]) => [k, sortObj(x)]),
          )
        : v;
  return {
    users: [...set.users.values()].map((u) => JSON.stringify(sortObj(u))).sort(),
    groups: [...set.groups.values()].map((g) => JSON.stringify(sortObj(g))).sort(),
    edges: [...set.edges].sort(),
  };
}

/** Asserts that a patched record set equals a fresh full read (users, groups, edges). */
export function expectSameRecords(patched: RecordSet, fresh: RecordSet): void {
  const a = comparable(patched);
  const b = comparable(fresh);
  expect(a.users.length, 'user count').toBe(b.users.length);
  expect(a.groups.length, 'group count').toBe(b.groups.length);
  expect(a.edges.length, 'edge count').toBe(b.edges.length);
  expect(a.users).toEqual(b.users);
  expect(a.groups).toEqual(b.groups);
  expect(a.edges).toEqual(b.edges);
}
