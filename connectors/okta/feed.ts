/**
 * The Okta change feed: what changed since a cursor time T, as {@link ChangeItem}s.
 *
 * 1. System Log, polling (`GET /api/v1/logs?since=T&sortOrder=ASCENDING&filter=eventType eq ...`,
 *    until an empty page): user and group deletions, and membership additions/removals.
 * 2. Groups with `lastUpdated gt T or lastMembershipUpdated gt T` (`filter`, consistent).
 * 3. Users with `search=lastUpdated gt T` (every status, DEPROVISIONED included).
 *
 * Membership: a membership event is an edge addition or removal. For each (group, user) pair the
 * last event in the window wins, so a re-read overlap gives the same result. Reading the member
 * lists of every group whose `lastMembershipUpdated` moved would cost one request per touched
 * group (at 1% of 1M memberships moved: ~10,000 requests); the log carries the same changes in
 * ~20 pages. A whole member list is re-read (`members-reset` + its edges) only where the log cannot
 * account for a group: its `lastMembershipUpdated` lies after its last membership event in the
 * window (membership written without events, e.g. by an import, or events not ingested yet), or a
 * rename may have moved it into the configured group selection.
 *
 * Decisions use the final state, never a single event: an edge is yielded only when its group
 * and user are ones the full read would yield (synced type and status, group filter push-down).
 * Order: upserts, edges, member-list resets, then deletions (a deletion wins over anything earlier).
 */
import { DirsyncError, isDirsyncError } from '../../src/errors.js';
import type { ChangeItem, ConnectorContext, SourceStats } from '../types.js';
import type { OktaApi } from './client.js';
import { USER_STATUSES, type OktaConfig } from './config.js';
import { mapGroup, mapUser } from './map.js';
import { literal, groupSelector, wantedStatuses } from './query.js';
import { readMembers } from './read.js';
import { EVERYONE_GROUP_TYPE, LOG_EVENT_TYPES, parseLogEvent, type FeedEvent } from './feed-events.js';

type Obj = Record<string, unknown>;

/**
 * How far a group's `lastMembershipUpdated` may lie after its last logged membership event and
 * still count as explained by it (the two are stamped by different writes of one change).
 */
const EVENT_SLACK_MS = 1000;

interface GroupState {
  wanted: boolean;
  builtIn: boolean;
  lastUpdated: number;
  lastMembershipUpdated: number;
}

const time = (v: unknown): number => (typeof v === 'string' ? Date.parse(v) : Number.NaN);

/** Reads the System Log since `sinceIso`; Okta's refusal of an old `since` means the cursor expired. */
async function readLog(
  api: OktaApi,
  sinceIso: string,
  limit: number,
  ctx: ConnectorContext,
): Promise<FeedEvent[]> {
  const events: FeedEvent[] = [];
  const filter = LOG_EVENT_TYPES.map((t) => `eventType eq ${literal(t)}`).join(' or ');
  try {
    for await (const page of api.pages(
      '/api/v1/logs',
      { since: sinceIso, sortOrder: 'ASCENDING', limit, filter },
      { stopOnEmpty: true },
    )) {
      for (const raw of page.items) {
        const e = parseLogEvent(raw);
        if (e) events.push(e);
      }
      ctx.progress({ phase: 'log', done: events.length });
    }
  } catch (e) {
    if (isDirsyncError(e) && e.status === 400 && e.vendorCode === 'E0000001' && /since/i.test(e.message)) {
      throw new DirsyncError(
        'DIRSYNC_E_CURSOR_EXPIRED',
        `Okta no longer serves System Log events since ${sinceIso} (retention is 90 days)`,
        { cause: e },
      );
    }
    if (isDirsyncError(e, 'DIRSYNC_E_IDP_FORBIDDEN')) {
      throw new DirsyncError(
        'DIRSYNC_E_FEED_UNAVAILABLE',
        'Okta refused to read the System Log: grant okta.logs.read (service app) or use an admin role that can read it',
        { cause: e },
      );
    }
    throw e;
  }
  // Okta orders by `published`; ties and late ingestion keep their log order (a stable sort).
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.published - b.e.published || a.i - b.i)
    .map((x) => x.e);
}

export async function* readFeed(
  api: OktaApi,
  config: OktaConfig,
  ctx: ConnectorContext,
  stats: SourceStats,
  since: number,
): AsyncGenerator<ChangeItem> {
  const sinceIso = new Date(since).toISOString();
  const wanted = wantedStatuses(config.userStatuses, ctx.activeUsersOnly === true);
  const allStatuses = USER_STATUSES.every((s) => wanted.has(s));
  const select = groupSelector(config.groupTypes, ctx.groupFilter, config.groupNamePushDown);

  const events = await readLog(api, sinceIso, config.feed.logPageSize, ctx);

  // Groups changed since T: their records, and whether the full read would yield them.
  const groups = new Map<string, GroupState>();
  const items: ChangeItem[] = [];
  const tExpr = literal(sinceIso);
  for await (const page of api.pages('/api/v1/groups', {
    filter: `lastUpdated gt ${tExpr} or lastMembershipUpdated gt ${tExpr}`,
    limit: config.pageSize.groups,
  })) {
    for (const raw of page.items) {
      const { item, type } = mapGroup(raw);
      if (item.kind !== 'group') {
        yield item;
        continue;
      }
      const isWanted = select.wanted(item.externalId, item.name, type as string);
      groups.set(item.externalId, {
        wanted: isWanted,
        builtIn: type === EVERYONE_GROUP_TYPE,
        lastUpdated: time((raw as Obj).lastUpdated),
        lastMembershipUpdated: time((raw as Obj).lastMembershipUpdated),
      });
      if (isWanted) yield item;
      // Out of the selection after a rename: the full read no longer yields it.
      else if (select.byName && config.groupTypes.includes(type as never))
        items.push({ kind: 'removed', objectType: 'group', externalId: item.externalId });
    }
    ctx.progress({ phase: 'groups', done: groups.size });
  }

  // Users changed since T, every status (`search` returns DEPROVISIONED users too).
  const users = new Map<string, boolean>();
  const newlyWanted: string[] = [];
  for await (const page of api.pages('/api/v1/users', {
    search: `lastUpdated gt ${tExpr}`,
    limit: config.pageSize.users,
  })) {
    for (const raw of page.items) {
      const { item, status } = mapUser(raw);
      if (item.kind === 'user') {
        const isWanted = wanted.has(status as string);
        users.set(item.externalId, isWanted);
        if (isWanted) {
          yield item;
          // With only some statuses synced, a user whose status changed may have just entered
          // the selection: its memberships were never read.
          if (!allStatuses && time((raw as Obj).statusChanged) > since) newlyWanted.push(item.externalId);
        } else yield { kind: 'removed', objectType: 'user', externalId: item.externalId };
      } else {
        // The pipeline holds a user it gets a problem for; its edges stay.
        if (item.externalId !== null) users.set(item.externalId, true);
        yield item;
      }
    }
    ctx.progress({ phase: 'users', done: users.size });
  }
  yield* items.splice(0);

  // Deletions, and the last membership event per (group, user).
  const deletedUsers = new Set<string>();
  const deletedGroups = new Set<string>();
  const lastEdge = new Map<string, { groupId: string; userId: string; add: boolean }>();
  // Per group, the time of its last membership event in the window.
  const groupsWithEvents = new Map<string, number>();
  for (const e of events) {
    // An object the searches above returned exists now, whatever the log says happened to it
    // earlier in the window: "exists" wins over an older deletion.
    if (e.kind === 'user-deleted') {
      if (!users.has(e.userId)) deletedUsers.add(e.userId);
    } else if (e.kind === 'group-deleted') {
      if (!groups.has(e.groupId)) deletedGroups.add(e.groupId);
    } else {
      groupsWithEvents.set(e.groupId, Math.max(e.published, groupsWithEvents.get(e.groupId) ?? 0));
      lastEdge.set(`${e.groupId}|${e.userId}`, {
        groupId: e.groupId,
        userId: e.userId,
        add: e.kind === 'member-added',
      });
    }
  }

  // Groups named by events but unchanged since T (an event at the edge of the window): read each.
  for (const groupId of groupsWithEvents.keys()) {
    if (groups.has(groupId) || deletedGroups.has(groupId)) continue;
    try {
      const { item, type } = mapGroup(await api.getObject(`/api/v1/groups/${encodeURIComponent(groupId)}`));
      const ok = item.kind === 'group' && select.wanted(item.externalId, item.name, type as string);
      groups.set(groupId, {
        wanted: ok,
        builtIn: type === EVERYONE_GROUP_TYPE,
        lastUpdated: 0,
        lastMembershipUpdated: 0,
      });
    } catch (err) {
      if (!isDirsyncError(err, 'DIRSYNC_E_IDP_NOT_FOUND')) throw err;
      deletedGroups.add(groupId);
    }
  }

  // Users named by membership events whose status the feed has not seen: look them up in batches
  // (`filter=id eq ... or ...`), only when some statuses are not synced.
  if (!allStatuses) {
    const unknown = [...new Set([...lastEdge.values()].map((x) => x.userId))].filter(
      (id) => !users.has(id) && !deletedUsers.has(id),
    );
    for (let i = 0; i < unknown.length; i += 40) {
      const chunk = unknown.slice(i, i + 40);
      for (const id of chunk) users.set(id, false); // absent from the answer: gone
      for await (const page of api.pages('/api/v1/users', {
        filter: chunk.map((id) => `id eq ${literal(id)}`).join(' or '),
        limit: config.pageSize.users,
      })) {
        for (const raw of page.items) {
          const { item, status } = mapUser(raw);
          if (item.externalId !== null)
            users.set(item.externalId, item.kind !== 'user' || wanted.has(status as string));
        }
      }
    }
  }
  const userWanted = (id: string) => !deletedUsers.has(id) && (users.get(id) ?? allStatuses);

  // Member lists to re-read whole: membership moved without events, or possibly newly selected.
  const resets: string[] = [];
  for (const [id, g] of groups) {
    if (!g.wanted || g.builtIn || deletedGroups.has(id)) continue;
    // Membership moved after the group's last event the log shows (or it shows none).
    const unexplained =
      g.lastMembershipUpdated > since &&
      g.lastMembershipUpdated > (groupsWithEvents.get(id) ?? Number.NEGATIVE_INFINITY) + EVENT_SLACK_MS;
    const renamed = select.byName && g.lastUpdated > since;
    if (unexplained || renamed) resets.push(id);
  }
  const reset = new Set(resets);

  for (const { groupId, userId, add } of lastEdge.values()) {
    const g = groups.get(groupId);
    if (!g?.wanted || g.builtIn || reset.has(groupId) || deletedGroups.has(groupId)) continue;
    if (add) {
      if (userWanted(userId)) yield { kind: 'edge', groupId, memberType: 'user', memberId: userId };
    } else yield { kind: 'edge-removed', groupId, memberType: 'user', memberId: userId };
  }

  // `Everyone` (when synced) holds every user: Okta logs no membership events for it.
  for (const [id, g] of groups) {
    if (!g.wanted || !g.builtIn) continue;
    for (const [userId, ok] of users)
      if (ok && !deletedUsers.has(userId))
        yield { kind: 'edge', groupId: id, memberType: 'user', memberId: userId };
  }

  // Users that entered the selection: every group they are in.
  for (const userId of newlyWanted) {
    for await (const page of api.pages(`/api/v1/users/${encodeURIComponent(userId)}/groups`, {})) {
      for (const raw of page.items) {
        const { item, type } = mapGroup(raw);
        if (
          item.kind === 'group' &&
          type !== EVERYONE_GROUP_TYPE &&
          select.wanted(item.externalId, item.name, type as string)
        )
          yield { kind: 'edge', groupId: item.externalId, memberType: 'user', memberId: userId };
      }
    }
  }

  if (resets.length > 0) {
    for (const groupId of resets) yield { kind: 'members-reset', groupId };
    const keep = (userId: string, raw: unknown) => {
      const known = users.get(userId);
      if (known !== undefined) return known && !deletedUsers.has(userId);
      const status = (raw as Obj | null)?.status;
      return typeof status !== 'string' || wanted.has(status);
    };
    yield* readMembers(api, config, ctx, stats, resets, keep);
  }

  for (const id of deletedUsers) yield { kind: 'removed', objectType: 'user', externalId: id };
  for (const id of deletedGroups) yield { kind: 'removed', objectType: 'group', externalId: id };
}
