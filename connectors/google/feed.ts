/**
 * The Google change feed: the Admin console audit log (Reports API activities.list,
 * `applicationName=admin`) since the cursor, then a re-read of only what it names.
 *
 * Admin events name users and groups by address, never by id, and a user's address can change
 * (RENAME_USER), be freed (DELETE_USER) and be taken again (CREATE_USER). So the events are read
 * whole, put in time order, and each address an event names is followed forward through the later
 * renames and deletions of the window to the address that names the same object now (or to
 * "gone"). Then:
 * 1. deleted users: `users.list?showDeleted=true` (ids of users deleted since the window began,
 *    straight from the Directory, so a late DELETE_USER event cannot hide one) → `removed`;
 * 2. groups, when anything happened: `groups.list` again, compared with the cursor's group hashes
 *    → `removed` for ids gone, upserts for groups new or changed (a member added or a user deleted
 *    changes `directMembersCount` without a group event);
 * 3. users named by user events: `users.get` by address (or, when more are named than a full
 *    listing has pages, one `users.list` walk) → upserts;
 * 4. member events, in time order → `edge` / `edge-removed` between the ids resolved above
 *    (addresses that are groups become nested-group edges; unknown ones, such as consumer
 *    accounts, are skipped as a full read skips them).
 *
 * Re-reading is idempotent: upserts carry current state, and each edge ends in the state of the
 * last event that touched it, so a window that overlaps the previous one gives the same result.
 */
import { DirsyncError } from '../../src/errors.js';
import type { ChangeItem, ConnectorContext, SourceStats } from '../types.js';
import type { DirectoryClient, RawUser } from './client.js';
import { recordHash, type FeedCursor } from './cursor.js';
import { mapGroup, mapUser } from './map.js';

/**
 * How old a cursor may be. Google keeps admin events 180 days, but deleted users are listed with
 * `showDeleted=true` for 20 days only, and the feed needs their ids: older cursors need a full read.
 */
export const MAX_CURSOR_AGE_MS = 19 * 24 * 3600 * 1000;

export interface FeedOptions {
  client: DirectoryClient;
  ctx: ConnectorContext;
  stats: SourceStats;
  cursor: FeedCursor;
  overlapMs: number;
  /** The end of this feed's window, taken before it reads: the next cursor's time. */
  now: number;
  concurrency: number;
  /** users.list page size, for the choice between users.get per user and one listing. */
  userPageSize: number;
  userQuery?: string;
  activeUsersOnly: boolean;
  /** Set when the feed ends: the cursor the next feed continues from. */
  next?: FeedCursor;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An admin event reduced to what the feed uses. Addresses are lower-cased. */
interface Event {
  name: string;
  params: Map<string, string>;
}

/** A member event with its addresses followed forward to now (null: the object is gone). */
interface MemberOp {
  add: boolean;
  member: string | null;
  group: string | null;
}

function parseActivity(raw: unknown): Event[] {
  if (!isObj(raw) || !Array.isArray(raw.events)) {
    throw new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', 'activities.list: an activity without events');
  }
  const out: Event[] = [];
  for (const e of raw.events) {
    if (!isObj(e) || typeof e.name !== 'string') {
      throw new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', 'activities.list: an event without a name');
    }
    const params = new Map<string, string>();
    for (const p of Array.isArray(e.parameters) ? e.parameters : []) {
      if (isObj(p) && typeof p.name === 'string' && typeof p.value === 'string') params.set(p.name, p.value);
    }
    out.push({ name: e.name, params });
  }
  return out;
}

const lower = (s: string | undefined) => (s === undefined ? undefined : s.toLowerCase());

/**
 * Walks the events backwards, following each address through the later renames and deletions.
 * Returns the addresses user events name now, and the member operations in time order.
 */
export function resolveEvents(events: Event[]): {
  users: Set<string>;
  unsuspended: Set<string>;
  members: MemberOp[];
} {
  const fate = new Map<string, string | null>();
  const now = (e: string | undefined): string | null =>
    e === undefined ? null : fate.has(e) ? (fate.get(e) as string | null) : e;
  const users = new Set<string>();
  const unsuspended = new Set<string>();
  const members: MemberOp[] = [];
  for (let i = events.length - 1; i >= 0; i--) {
    const { name, params } = events[i] as Event;
    const user = lower(params.get('USER_EMAIL'));
    const group = lower(params.get('GROUP_EMAIL'));
    const next = lower(params.get('NEW_VALUE'));
    switch (name) {
      case 'ADD_GROUP_MEMBER':
      case 'REMOVE_GROUP_MEMBER':
        if (user !== undefined)
          members.push({ add: name === 'ADD_GROUP_MEMBER', member: now(user), group: now(group) });
        continue;
      case 'RENAME_USER':
        if (user !== undefined && next !== undefined) {
          fate.set(user, now(next));
          const n = now(next);
          if (n !== null) users.add(n);
        }
        continue;
      case 'CHANGE_GROUP_EMAIL':
        if (group !== undefined && next !== undefined) fate.set(group, now(next));
        continue;
      case 'DELETE_USER':
        if (user !== undefined) fate.set(user, null);
        continue;
      case 'DELETE_GROUP':
        if (group !== undefined) fate.set(group, null);
        continue;
      default:
        if (user !== undefined && !group) {
          const n = now(user);
          if (n !== null) {
            users.add(n);
            if (name === 'UNSUSPEND_USER') unsuspended.add(n);
          }
        }
    }
  }
  members.reverse();
  return { users, unsuspended, members };
}

/** The feed's items; sets `o.next` when done. */
export async function* readFeed(o: FeedOptions): AsyncGenerator<ChangeItem> {
  const { client, ctx, cursor } = o;
  const since = cursor.t - o.overlapMs;

  // 1. The audit log, whole (newest first on the wire), then in time order.
  const events: Event[] = [];
  for await (const page of client.activityPages(new Date(since), new Date(o.now))) {
    for (const raw of page) events.push(...parseActivity(raw).reverse());
    ctx.progress({ phase: 'audit log', done: events.length });
  }
  events.reverse();
  const named = resolveEvents(events);

  // 2. Users deleted since the window began, by id.
  const deleted: string[] = [];
  for await (const page of client.deletedUserPages()) {
    for (const raw of page) {
      if (!isObj(raw) || typeof raw.id !== 'string') continue;
      const at = typeof raw.deletionTime === 'string' ? Date.parse(raw.deletionTime) : NaN;
      // Without a readable deletion time, removing again is harmless (idempotent).
      if (!(at < since)) deleted.push(raw.id);
    }
  }
  for (const id of deleted) yield { kind: 'removed', objectType: 'user', externalId: id };

  // 3. Groups, when anything happened: compare the listing with the cursor's hashes.
  let groups = cursor.groups;
  const groupByEmail = new Map<string, string>();
  if (events.length > 0 || deleted.length > 0) {
    const now: Record<string, string> = {};
    const changed: ChangeItem[] = [];
    for await (const page of client.groupPages()) {
      for (const raw of page) {
        const item = mapGroup(raw);
        if (item.externalId === null) {
          changed.push(item);
          continue;
        }
        const h = recordHash(item);
        now[item.externalId] = h;
        if (isObj(raw) && typeof raw.email === 'string')
          groupByEmail.set(raw.email.toLowerCase(), item.externalId);
        if (cursor.groups[item.externalId] !== h) changed.push(item);
      }
      ctx.progress({ phase: 'groups', done: Object.keys(now).length });
    }
    for (const id of Object.keys(cursor.groups)) {
      if (!(id in now)) yield { kind: 'removed', objectType: 'group', externalId: id };
    }
    yield* changed;
    groups = now;
  }

  // 4. Users: those user events name, and the members member events name.
  const wanted = new Set(named.users);
  for (const m of named.members) if (m.member !== null && !groupByEmail.has(m.member)) wanted.add(m.member);
  const found = new Map<string, RawUser>();
  let users = cursor.users - deleted.length;
  const pages = Math.ceil(Math.max(cursor.users, 1) / o.userPageSize);
  if (wanted.size > pages) {
    // Cheaper in requests and quota to walk the whole list than to get each one.
    let listed = 0;
    for await (const page of client.userPages(o.userQuery)) {
      for (const raw of page) {
        listed++;
        if (isObj(raw) && typeof raw.primaryEmail === 'string') {
          const e = raw.primaryEmail.toLowerCase();
          if (wanted.has(e)) found.set(e, raw);
        }
      }
      ctx.progress({ phase: 'users', done: listed });
    }
    users = listed;
    // Named users missing from a push-down listing may have been suspended: get them to know their id.
    if (o.activeUsersOnly)
      await getEach(
        [...named.users].filter((e) => !found.has(e)),
        found,
        o,
      );
  } else {
    await getEach([...wanted], found, o);
  }
  const present = new Map<string, string>(); // address → user id, for users a full read would list
  for (const email of named.users) {
    const raw = found.get(email);
    if (raw === undefined) continue; // gone (deleted, or renamed away and named again later)
    const item = mapUser(raw);
    if (o.activeUsersOnly && isObj(raw) && raw.suspended === true) {
      // The push-down leaves suspended users out of a full read: here they go.
      if (item.externalId !== null)
        yield { kind: 'removed', objectType: 'user', externalId: item.externalId };
      continue;
    }
    yield item;
  }
  for (const [email, raw] of found) {
    if (o.activeUsersOnly && isObj(raw) && raw.suspended === true) continue;
    if (isObj(raw) && typeof raw.id === 'string') present.set(email, raw.id);
  }
  users += events.filter((e) => e.name === 'CREATE_USER').length;

  // 5. Member events, in time order, between the ids resolved above.
  let skipped = 0;
  for (const m of named.members) {
    const groupId = m.group === null ? undefined : groupByEmail.get(m.group);
    if (groupId === undefined || m.member === null) continue; // group or member gone: removals cover it
    const childGroup = groupByEmail.get(m.member);
    const userId = childGroup === undefined ? present.get(m.member) : undefined;
    if (childGroup === undefined && userId === undefined) {
      skipped++; // a consumer account or another organisation's user: a full read skips it too
      continue;
    }
    const edge = {
      groupId,
      memberType: childGroup !== undefined ? ('group' as const) : ('user' as const),
      memberId: (childGroup ?? userId) as string,
    };
    yield m.add ? { kind: 'edge', ...edge } : { kind: 'edge-removed', ...edge };
  }
  if (skipped > 0) o.stats.skipped += skipped;

  // 6. Push-down of active users only: a user unsuspended is back, with every membership it has.
  if (o.activeUsersOnly) {
    for (const email of named.unsuspended) {
      const id = present.get(email);
      if (id === undefined) continue;
      for await (const page of client.groupsOfUserPages(id)) {
        for (const raw of page) {
          if (isObj(raw) && typeof raw.id === 'string' && raw.id in groups) {
            yield { kind: 'edge', groupId: raw.id, memberType: 'user', memberId: id };
          }
        }
      }
    }
  }

  o.next = { t: o.now, users: Math.max(0, users), groups };
}

/** users.get for each address, `concurrency` at a time; found ones land in `found`. */
async function getEach(emails: string[], found: Map<string, RawUser>, o: FeedOptions): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < emails.length) {
      const email = emails[next++] as string;
      const raw = await o.client.getUser(email);
      if (raw !== null) found.set(email, raw);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, emails.length) }, worker));
  o.ctx.progress({ phase: 'users', done: found.size });
}
