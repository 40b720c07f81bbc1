/**
 * The Keycloak change feed: the realm's admin events since the cursor
 * (`GET /admin/realms/{realm}/admin-events?dateFrom=<epoch ms>&direction=asc&resourceTypes=USER&
 * resourceTypes=GROUP&resourceTypes=GROUP_MEMBERSHIP&resourceTypes=REALM&first&max`), turned into
 * change items.
 *
 * What is trusted and what is re-read (AdminEventRepresentation: time, operationType, resourceType,
 * resourcePath, representation only when the realm includes representations):
 * - GROUP_MEMBERSHIP `users/{uid}/groups/{gid}` CREATE/DELETE are applied as edge additions and
 *   removals, in event order, without any request: Keycloak records them only when the membership
 *   really changed (UserResource.joinGroup/removeMembership), the path names both ends, and the last
 *   event of an edge in the window decides it, so re-reading an overlap is idempotent. Re-reading
 *   every member list instead would cost a request per touched group: a 1% membership change would
 *   read nearly every group. Two conflicting events of the same edge in the same millisecond (an
 *   order Keycloak cannot tell) are settled by reading that user's groups.
 * - USER events name a user; the user is re-read (`GET users/{id}`, 404: removed), since an UPDATE's
 *   representation is whatever the admin sent (often partial) and is absent when the realm does not
 *   include representations. Many touched users are re-read by listing all users instead, when that
 *   takes fewer requests.
 * - GROUP events name a group in their path (`groups/{id}`) or, for subgroup creation and moves
 *   (`groups/{parent}/children`, `groups`), in their representation. Named groups are re-read
 *   (`GET groups/{id}`); the parent edge is derived from the group's `parentId` against the tree
 *   kept in the cursor; a deleted group takes its subtree with it (Keycloak deletes subgroups with
 *   their parent and records one event). A renamed or moved group's subtree is re-listed, because
 *   every descendant's `path` changed. When a structural event names no group (representations
 *   off) the whole tree is walked and compared with the cursor's.
 * - REALM events on the realm or `events/config` may have switched admin events off and on again,
 *   leaving a gap: the cursor is then expired (a full read follows).
 * - REALM_ROLE_MAPPING is not read: Dirsync syncs groups, not roles.
 *
 * Changes that Keycloak makes without an admin event are not seen here: LDAP/Kerberos federation
 * imports and syncs, identity-provider mappers on brokered logins, self-registration and account
 * console edits. The pipeline's scheduled reconcile (a full read) catches those.
 */
import { DirsyncError } from '../../src/errors.js';
import type { ChangeItem, ConnectorContext, SourceUser, SourceProblem } from '../types.js';
import type { KeycloakApi, UserQuery } from './client.js';
import type { FeedCursor } from './cursor.js';
import { isObj, isServiceAccount, mapGroup, mapUser, type Obj } from './map.js';

export interface FeedOptions {
  pageSize: number;
  /** Requests in flight at once (the client enforces it; the feed sizes its windows by it). */
  concurrency: number;
  /** Events are read from `cursor.time - overlapMs`. */
  overlapMs: number;
}

const RESOURCE_TYPES = ['USER', 'GROUP', 'GROUP_MEMBERSHIP', 'REALM'];
/** Admin events per page: they are small, and fewer round trips keep an unchanged feed cheap. */
const EVENT_PAGE = 1000;

interface Event {
  id: string | undefined;
  time: number;
  op: string;
  type: string;
  path: string;
  rep: Obj | undefined;
}

function parseEvent(raw: unknown): Event | null {
  if (!isObj(raw) || typeof raw.time !== 'number' || typeof raw.resourcePath !== 'string') return null;
  let rep: Obj | undefined;
  if (typeof raw.representation === 'string') {
    try {
      const v: unknown = JSON.parse(raw.representation);
      if (isObj(v)) rep = v;
    } catch {
      // A representation that is not JSON names nothing; the event is handled without it.
    }
  }
  return {
    id: typeof raw.id === 'string' ? raw.id : undefined,
    time: raw.time,
    op: String(raw.operationType ?? ''),
    type: String(raw.resourceType ?? ''),
    path: raw.resourcePath.replace(/^\/+|\/+$/g, ''),
    rep,
  };
}

/**
 * Checks the realm's admin-event settings before anything is read: events off → FEED_UNAVAILABLE
 * (the admin is told what to switch on), retention shorter than the cursor's age → CURSOR_EXPIRED.
 */
export async function checkRealm(
  api: KeycloakApi,
  cursor: FeedCursor,
  opts: FeedOptions,
  now: number,
): Promise<void> {
  const realm = await api.realm();
  if (realm.adminEventsEnabled === undefined) {
    throw new DirsyncError(
      'DIRSYNC_E_FEED_UNAVAILABLE',
      `Keycloak did not show realm "${cursor.realm}"'s event settings: grant the service account the realm-management roles view-realm and view-events to enable incremental sync; full reads are used meanwhile`,
    );
  }
  if (realm.adminEventsEnabled !== true) {
    throw new DirsyncError(
      'DIRSYNC_E_FEED_UNAVAILABLE',
      `admin events are disabled in Keycloak realm "${cursor.realm}": enable them (Realm settings → Events → Admin events settings → Save events, ideally with "Include representation") for incremental sync; full reads are used meanwhile`,
    );
  }
  const attrs = isObj(realm.attributes) ? realm.attributes : {};
  const expiration = Number(attrs.adminEventsExpiration);
  if (
    Number.isFinite(expiration) &&
    expiration > 0 &&
    cursor.time - opts.overlapMs < now - expiration * 1000
  ) {
    throw new DirsyncError(
      'DIRSYNC_E_CURSOR_EXPIRED',
      `the Keycloak cursor (${new Date(cursor.time).toISOString()}) is older than realm "${cursor.realm}"'s admin-event retention (${expiration} s); a full read is needed`,
    );
  }
}

/** All admin events since `from`, oldest first, de-duplicated. */
async function readEvents(api: KeycloakApi, from: number, ctx: ConnectorContext): Promise<Event[]> {
  const raw: unknown[] = [];
  for (let first = 0; ; first += EVENT_PAGE) {
    let page: unknown[];
    try {
      page = await api.adminEvents({ dateFrom: from, first, max: EVENT_PAGE, resourceTypes: RESOURCE_TYPES });
    } catch (e) {
      if (e instanceof DirsyncError && e.code === 'DIRSYNC_E_IDP_FORBIDDEN') {
        throw new DirsyncError(
          'DIRSYNC_E_FEED_UNAVAILABLE',
          'Keycloak refused to list admin events: grant the service account the realm-management role view-events to enable incremental sync; full reads are used meanwhile',
          { cause: e },
        );
      }
      throw e;
    }
    raw.push(...page);
    ctx.progress({ phase: 'events', done: raw.length });
    if (page.length < EVENT_PAGE) break;
  }
  const events: Event[] = [];
  for (const r of raw) {
    const e = parseEvent(r);
    if (e === null) {
      throw new DirsyncError(
        'DIRSYNC_E_IDP_BAD_RESPONSE',
        'Keycloak returned an admin event without time or resourcePath',
      );
    }
    events.push(e);
  }
  // A server that ignores `direction` answers newest first (paging then never skips, new events
  // only push old ones further): turn it around, keeping same-millisecond events in their order.
  if (events.length > 1 && (events[0] as Event).time > (events[events.length - 1] as Event).time)
    events.reverse();
  const seen = new Set<string>();
  const unique = events.filter(
    (e) => e.id === undefined || (seen.has(e.id) ? false : (seen.add(e.id), true)),
  );
  return unique
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.time - b.e.time || a.i - b.i)
    .map((x) => x.e);
}

interface Plan {
  /** `gid uid` → the last membership event of that edge. */
  edges: Map<string, { add: boolean; time: number; conflict: boolean }>;
  users: Set<string>;
  /** Groups named by an event, with whether they were renamed (`UPDATE groups/{id}`). */
  groups: Map<string, { renamed: boolean }>;
  deletedGroups: Set<string>;
  /** A structural group event named no group: walk the tree. */
  walk: boolean;
}

function planEvents(events: Event[], cursorTime: number): Plan {
  const plan: Plan = {
    edges: new Map(),
    users: new Set(),
    groups: new Map(),
    deletedGroups: new Set(),
    walk: false,
  };
  const touch = (id: string, renamed = false) => {
    const g = plan.groups.get(id);
    if (g) g.renamed ||= renamed;
    else plan.groups.set(id, { renamed });
  };
  for (const e of events) {
    const p = e.path.split('/');
    if (e.type === 'REALM') {
      // Only changes after the cursor's read began: an earlier one (in the overlap) was already
      // in force when that read ran, and must not expire every cursor for the overlap's length.
      if ((e.path === '' || e.path === 'events/config') && e.time >= cursorTime) {
        throw new DirsyncError(
          'DIRSYNC_E_CURSOR_EXPIRED',
          'the Keycloak realm or its event settings changed since the cursor (admin events may have been off for a while); a full read is needed',
        );
      }
    } else if (e.type === 'GROUP_MEMBERSHIP') {
      if (
        p.length === 4 &&
        p[0] === 'users' &&
        p[2] === 'groups' &&
        (e.op === 'CREATE' || e.op === 'DELETE')
      ) {
        const key = `${p[3]} ${p[1]}`;
        const add = e.op === 'CREATE';
        const prev = plan.edges.get(key);
        plan.edges.set(key, {
          add,
          time: e.time,
          conflict: prev !== undefined && prev.time === e.time && prev.add !== add,
        });
      }
    } else if (e.type === 'USER') {
      // `users/{id}` and sub-resources (`users/{id}/reset-password`, ...): re-read the user.
      if (p[0] === 'users' && p[1]) plan.users.add(p[1]);
    } else if (e.type === 'GROUP') {
      if (p[0] !== 'groups') continue;
      const repId = typeof e.rep?.id === 'string' ? e.rep.id : undefined;
      if (p.length === 1 || (p.length === 3 && p[2] === 'children')) {
        // Subgroup created or moved (`groups/{parent}/children`), or moved to the top (`groups`).
        if (repId) touch(repId);
        else plan.walk = true;
      } else if (p.length >= 2 && p[1]) {
        if (e.op === 'DELETE' && p.length === 2) plan.deletedGroups.add(p[1]);
        touch(p[1], e.op === 'UPDATE' && p.length === 2);
      }
    }
  }
  return plan;
}

/** Group records of the feed have the shape of the full read's (brief listings: no attributes). */
function briefGroup(raw: unknown) {
  if (!isObj(raw)) return mapGroup(raw);
  const { attributes: _a, ...rest } = raw;
  return mapGroup(rest);
}

export async function* readFeed(
  api: KeycloakApi,
  cursor: FeedCursor,
  opts: FeedOptions,
  ctx: ConnectorContext,
  done: (next: FeedCursor) => void,
): AsyncGenerator<ChangeItem> {
  const start = Date.now();
  const events = await readEvents(api, cursor.time - opts.overlapMs, ctx);
  const plan = planEvents(events, cursor.time);
  const tree = new Map(cursor.tree);
  const userQuery: UserQuery = ctx.activeUsersOnly ? { enabled: true } : {};
  const max = opts.pageSize;

  // 1. Memberships, in event order.
  for (const [key, last] of plan.edges) {
    const [gid, uid] = key.split(' ') as [string, string];
    let add = last.add;
    if (last.conflict) add = await userInGroup(api, uid, gid, max);
    yield add
      ? { kind: 'edge', groupId: gid, memberType: 'user', memberId: uid }
      : { kind: 'edge-removed', groupId: gid, memberType: 'user', memberId: uid };
  }

  // 2. Groups.
  const childrenOf = () => {
    const m = new Map<string, string[]>();
    for (const [c, p] of tree) {
      const l = m.get(p);
      if (l) l.push(c);
      else m.set(p, [c]);
    }
    return m;
  };
  if (plan.walk) {
    // Groups named by membership events count as known too: one created and deleted (with its
    // parent) inside the window is named nowhere else when events carry no representation.
    const known = new Set(plan.deletedGroups);
    for (const key of plan.edges.keys()) known.add(key.split(' ')[0] as string);
    yield* walkTree(api, tree, known, max);
  } else if (plan.groups.size > 0) {
    // Doomed: deleted groups and, per the tree, everything below them (checked, not assumed:
    // a subgroup moved out before its old parent was deleted still exists). A group found gone
    // without a delete event of its own went with an ancestor (perhaps one it was moved under in
    // this window, which the tree does not know yet): what is below it is checked too.
    const kids = childrenOf();
    const check = new Map(plan.groups);
    const found = new Map<string, unknown>();
    const below = new Set<string>();
    let doomed = [...plan.deletedGroups];
    for (;;) {
      const stack = [...doomed];
      while (stack.length > 0) {
        const id = stack.pop() as string;
        if (below.has(id)) continue;
        below.add(id);
        for (const c of kids.get(id) ?? []) {
          if (!check.has(c)) check.set(c, { renamed: false });
          stack.push(c);
        }
      }
      const unread = [...check.keys()].filter((id) => !found.has(id));
      if (unread.length === 0) break;
      const got = await Promise.all(unread.map(async (id) => [id, await api.group(id)] as const));
      for (const [id, raw] of got) found.set(id, raw);
      doomed = got.filter(([id, raw]) => raw === undefined && !below.has(id)).map(([id]) => id);
    }
    const reads = [...found];
    const removed: string[] = [];
    const relist: string[] = [];
    const upserts: ChangeItem[] = [];
    for (const [id, raw] of reads) {
      if (raw === undefined) {
        removed.push(id);
        continue;
      }
      upserts.push(briefGroup(raw));
      const parent =
        isObj(raw) && typeof raw.parentId === 'string' && raw.parentId !== '' ? raw.parentId : null;
      const old = tree.get(id) ?? null;
      if (old !== null && old !== parent)
        upserts.push({ kind: 'edge-removed', groupId: old, memberType: 'group', memberId: id });
      if (parent !== null) {
        upserts.push({ kind: 'edge', groupId: parent, memberType: 'group', memberId: id });
        tree.set(id, parent);
      } else tree.delete(id);
      if ((old !== parent || check.get(id)?.renamed) && kids.has(id)) relist.push(id);
    }
    for (const id of removed) {
      tree.delete(id);
      yield { kind: 'removed', objectType: 'group', externalId: id };
    }
    for (const it of upserts) yield it;
    // Every descendant's `path` changed with a rename or move.
    for (const id of relist) yield* relistSubtree(api, tree, id, max);
  }

  // 3. Users.
  if (plan.users.size > 0) {
    const count = await api.usersCount(userQuery);
    const listing = Math.ceil(count / max) + 1;
    if (plan.users.size > listing) {
      const seen = new Set<string>();
      // Pages in parallel (the client bounds concurrency), a window at a time to bound memory.
      const offsets: number[] = [];
      for (let first = 0; first < count; first += max) offsets.push(first);
      const window = Math.max(1, opts.concurrency * 2);
      for (let i = 0; i < offsets.length; i += window) {
        const pages = await Promise.all(
          offsets.slice(i, i + window).map((f) => api.users(f, max, userQuery)),
        );
        for (const u of pages.flat()) {
          if (!isObj(u) || typeof u.id !== 'string') continue;
          seen.add(u.id);
          // Only the users the events named: the others did not change, and upserting them would
          // make the pipeline's work grow with the realm instead of with the change.
          if (plan.users.has(u.id) && !isServiceAccount(u)) yield mapUser(u);
        }
      }
      // A complete listing (the count did not move, every user was seen) proves a touched user
      // it lacks is gone; offset paging over a realm that changed meanwhile proves nothing, and
      // with only active users listed a missing user may merely be disabled: ask for those.
      const complete =
        userQuery.enabled === undefined && seen.size === count && (await api.usersCount(userQuery)) === count;
      for (const id of plan.users) {
        if (seen.has(id)) continue;
        if (complete) yield { kind: 'removed', objectType: 'user', externalId: id };
        else yield* rereadUser(api, id, userQuery, max);
      }
    } else {
      const results = await Promise.all(
        [...plan.users].map(async (id) => {
          const items: ChangeItem[] = [];
          for await (const it of rereadUser(api, id, userQuery, max)) items.push(it);
          return items;
        }),
      );
      for (const items of results) yield* items;
    }
  }
  done({ realm: cursor.realm, time: start, tree });
}

async function userInGroup(api: KeycloakApi, uid: string, gid: string, max: number): Promise<boolean> {
  for (let first = 0; ; first += max) {
    let page: unknown[];
    try {
      page = await api.userGroups(uid, first, max);
    } catch (e) {
      if (e instanceof DirsyncError && e.code === 'DIRSYNC_E_IDP_NOT_FOUND') return false;
      throw e;
    }
    if (page.some((g) => isObj(g) && g.id === gid)) return true;
    if (page.length < max) return false;
  }
}

/**
 * One user as the full read would show it: a record, nothing (a service account), or `removed`
 * (gone, or disabled while only active users are read; its edges stay, as in the full read, whose
 * member lists include disabled users).
 */
async function* rereadUser(
  api: KeycloakApi,
  id: string,
  q: UserQuery,
  max: number,
): AsyncGenerator<ChangeItem> {
  const raw = await api.user(id);
  if (raw === undefined) {
    yield { kind: 'removed', objectType: 'user', externalId: id };
    return;
  }
  if (isServiceAccount(raw)) return;
  if (q.enabled === true && isObj(raw) && raw.enabled === false) {
    yield { kind: 'removed', objectType: 'user', externalId: id };
    for (let first = 0; ; first += max) {
      const page = await api.userGroups(id, first, max);
      for (const g of page)
        if (isObj(g) && typeof g.id === 'string')
          yield { kind: 'edge', groupId: g.id, memberType: 'user', memberId: id };
      if (page.length < max) break;
    }
    return;
  }
  yield mapUser(raw) as SourceUser | SourceProblem;
}

/** Re-lists the subtree below `id` (brief children, as the full read lists them). */
async function* relistSubtree(
  api: KeycloakApi,
  tree: Map<string, string>,
  id: string,
  max: number,
): AsyncGenerator<ChangeItem> {
  const queue = [id];
  while (queue.length > 0) {
    const parent = queue.shift() as string;
    for (let first = 0; ; first += max) {
      const page = await api.children(parent, first, max);
      for (const c of page) {
        yield mapGroup(c);
        if (!isObj(c) || typeof c.id !== 'string') continue;
        tree.set(c.id, parent);
        yield { kind: 'edge', groupId: parent, memberType: 'group', memberId: c.id };
        if (typeof c.subGroupCount !== 'number' || c.subGroupCount > 0) queue.push(c.id);
      }
      if (page.length < max) break;
    }
  }
}

/**
 * The whole group tree, compared with the cursor's: every group is upserted, parent edges that
 * changed are moved, groups that were in the tree (or deleted by an event) and are gone are
 * removed (as are `alsoKnown` ids that are gone). For structural events that name no group.
 */
async function* walkTree(
  api: KeycloakApi,
  tree: Map<string, string>,
  alsoKnown: Set<string>,
  max: number,
): AsyncGenerator<ChangeItem> {
  const seen = new Set<string>();
  const now = new Map<string, string>();
  const items: ChangeItem[] = [];
  let level: string[] = [];
  const total = await api.groupsCount(true);
  for (let first = 0; first < total + max; first += max) {
    const page = await api.topGroups(first, max);
    for (const g of page) {
      items.push(mapGroup(g));
      if (isObj(g) && typeof g.id === 'string') {
        seen.add(g.id);
        if (typeof g.subGroupCount !== 'number' || g.subGroupCount > 0) level.push(g.id);
      }
    }
    if (page.length < max) break;
  }
  while (level.length > 0) {
    const pages = await Promise.all(
      level.map(async (parent) => {
        const all: unknown[] = [];
        for (let first = 0; ; first += max) {
          const page = await api.children(parent, first, max);
          all.push(...page);
          if (page.length < max) return [parent, all] as const;
        }
      }),
    );
    level = [];
    for (const [parent, children] of pages) {
      for (const c of children) {
        items.push(mapGroup(c));
        if (!isObj(c) || typeof c.id !== 'string') continue;
        seen.add(c.id);
        now.set(c.id, parent);
        if (typeof c.subGroupCount !== 'number' || c.subGroupCount > 0) level.push(c.id);
      }
    }
  }
  const known = new Set([...tree.keys(), ...tree.values(), ...alsoKnown]);
  for (const id of known) if (!seen.has(id)) yield { kind: 'removed', objectType: 'group', externalId: id };
  for (const [c, p] of tree) {
    if (seen.has(c) && now.get(c) !== p)
      yield { kind: 'edge-removed', groupId: p, memberType: 'group', memberId: c };
  }
  yield* items;
  for (const [c, p] of now) yield { kind: 'edge', groupId: p, memberType: 'group', memberId: c };
  tree.clear();
  for (const [c, p] of now) tree.set(c, p);
}
