/**
 * The Entra ID change feed: `/users/delta` and `/groups/delta?$select=...,members`, from the two
 * delta links a cursor holds, each followed through its `@odata.nextLink`s to the new
 * `@odata.deltaLink`. Changed users and groups come whole (Graph returns every selected property
 * of a changed object); `@removed` users and groups become removals whatever the reason
 * (`changed`: soft-deleted, restorable for 30 days, `deleted`: gone for good: either way they
 * are no longer listed by `/users` or `/groups`); `members@delta` entries become edge additions,
 * or removals when they carry `@removed`. A group may appear several times in one round, each
 * time with part of its members, anywhere in the round: every item is applied on its own.
 * An expired token answers 410 (`resyncRequired`, with a `Location` to start over):
 * `DIRSYNC_E_CURSOR_EXPIRED`, and the pipeline reads in full.
 * https://learn.microsoft.com/graph/delta-query-overview  https://learn.microsoft.com/graph/delta-query-groups
 *
 * Push-down: none for users (read.ts reads every user whatever `activeUsersOnly` says; a cursor
 * saved by an older read of enabled users only is expired, so the next read is full). A group
 * filter is not continued by the feed (a renamed group entering the filter would need its whole
 * subgroup closure read again): such a connector reads in full (`DIRSYNC_E_FEED_UNAVAILABLE`).
 */
import { DirsyncError } from '../../src/errors.js';
import type { ChangeFeed, ChangeItem, ConnectorContext } from '../types.js';
import type { GraphClient } from './client.js';
import type { GraphConfig } from './config.js';
import { groupFilters } from './filter.js';
import { GROUP_SELECT, mapGroup, mapMember, mapUser, USER_SELECT } from './map.js';
import { openSession, type GraphSession } from './session.js';

/** What a Graph cursor holds. */
export interface FeedLinks {
  v: 1;
  /** The `@odata.deltaLink` (or, for a full read through delta, the first link) of each round. */
  users: string;
  groups: string;
  /** Whether the read this continues listed enabled users only (older versions did; now never). */
  activeOnly: boolean;
}

const PREFIX = 'graph-delta:';
/** Delta pages as large as Graph serves them: fewer round trips for the same changes. */
const PAGE_PREFER = { Prefer: 'odata.maxpagesize=999' };

const userDelta = () => `/users/delta?$select=${USER_SELECT.join(',')}`;
const groupDelta = () => `/groups/delta?$select=${[...GROUP_SELECT, 'members'].join(',')}`;

/** Whether this read's context can be continued by the feed. */
export function feedPushDown(ctx: ConnectorContext): { feedable: boolean; activeOnly: boolean } {
  return { feedable: groupFilters(ctx.groupFilter) === null, activeOnly: false };
}

export function encodeCursor(links: FeedLinks): string {
  return PREFIX + Buffer.from(JSON.stringify(links)).toString('base64url');
}

function expired(message: string, cause?: unknown): DirsyncError {
  return new DirsyncError('DIRSYNC_E_CURSOR_EXPIRED', message, cause === undefined ? {} : { cause });
}

/** Reads a cursor back; one that is unreadable, or for another Graph endpoint, is treated as expired. */
export function decodeCursor(cursor: string, root: string): FeedLinks {
  let links: FeedLinks;
  try {
    if (!cursor.startsWith(PREFIX)) throw new Error('no prefix');
    links = JSON.parse(Buffer.from(cursor.slice(PREFIX.length), 'base64url').toString('utf8')) as FeedLinks;
  } catch (e) {
    throw expired('the saved Graph cursor is unreadable', e);
  }
  const ok = (l: unknown) => typeof l === 'string' && (l.startsWith(`${root}/`) || l.startsWith('/'));
  if (links?.v !== 1 || !ok(links.users) || !ok(links.groups) || typeof links.activeOnly !== 'boolean') {
    throw expired('the saved Graph cursor is not for this Graph endpoint or version');
  }
  return links;
}

/** Links to the current state (`$deltatoken=latest`): two requests, no objects. */
export async function latestCursor(
  client: GraphClient,
  _config: GraphConfig,
  _ctx: ConnectorContext,
): Promise<FeedLinks> {
  const link = async (path: string) => {
    const body = await client.get(`${path}&$deltatoken=latest`);
    const l = body['@odata.deltaLink'];
    if (typeof l !== 'string') {
      throw new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', `GET ${path.split('?')[0]}: no @odata.deltaLink`);
    }
    return l;
  };
  return {
    v: 1,
    users: await link(userDelta()),
    groups: await link(groupDelta()),
    activeOnly: false,
  };
}

/**
 * A cursor that starts an initial delta round: the feed from it is a full read through delta
 * (applied to nothing, it yields the whole tenant). The bench compares it with a full read.
 */
export function initialCursor(_ctx: ConnectorContext): string {
  return encodeCursor({
    v: 1,
    users: userDelta(),
    groups: groupDelta(),
    activeOnly: false,
  });
}

export async function openGraphFeed(
  config: GraphConfig,
  ctx: ConnectorContext,
  cursor: string,
): Promise<ChangeFeed> {
  const push = feedPushDown(ctx);
  if (!push.feedable) {
    throw new DirsyncError(
      'DIRSYNC_E_FEED_UNAVAILABLE',
      'the Graph change feed does not continue a read with a group include filter pushed down; full reads are used',
    );
  }
  const session = openSession(config, ctx);
  let links: FeedLinks;
  try {
    links = decodeCursor(cursor, session.client.root);
    if (links.activeOnly !== push.activeOnly) {
      throw expired('the user filter changed since the cursor was saved; a full read is needed');
    }
  } catch (e) {
    await session.client.close();
    throw e;
  }
  let next: FeedLinks | null = null;
  let reading = false;
  return {
    read() {
      if (reading) throw new DirsyncError('DIRSYNC_E_INTERNAL', 'a Graph feed can be read once');
      reading = true;
      return (async function* () {
        const out: FeedLinks = { ...links };
        try {
          yield* readUsers(session, ctx, links, (l) => void (out.users = l));
          yield* readGroups(session, ctx, links, (l) => void (out.groups = l));
        } catch (e) {
          if (e instanceof DirsyncError && e.status === 410) {
            throw expired('Graph no longer serves changes since the saved delta token (410 Gone)', e);
          }
          throw e;
        }
        next = out;
      })();
    },
    cursor() {
      if (next === null)
        throw new DirsyncError('DIRSYNC_E_INTERNAL', 'the feed cursor is known only after a complete read');
      return encodeCursor(next);
    },
    stats: () => session.stats,
    close: () => session.client.close(),
  };
}

/** Pages of one delta round, ending with its new deltaLink handed to `done`; never ends early. */
async function* round(
  s: GraphSession,
  first: string,
  done: (deltaLink: string) => void,
): AsyncGenerator<Record<string, unknown>[]> {
  let link: string | null = first;
  while (link !== null) {
    const body = await s.client.get(link, PAGE_PREFER);
    const value = body.value;
    const nextLink = body['@odata.nextLink'];
    const deltaLink = body['@odata.deltaLink'];
    if (!Array.isArray(value)) {
      throw new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', 'a Graph delta page has no "value" array');
    }
    s.stats.pages++;
    yield value as Record<string, unknown>[];
    if (typeof nextLink === 'string') link = nextLink;
    else if (typeof deltaLink === 'string') {
      done(deltaLink);
      link = null;
    } else {
      // A page with neither link is cut off: taking it as the end would lose the rest.
      throw new DirsyncError(
        'DIRSYNC_E_IDP_BAD_RESPONSE',
        'a Graph delta page has neither nextLink nor deltaLink',
      );
    }
  }
}

const removedOf = (raw: Record<string, unknown>) => raw['@removed'] !== undefined && raw['@removed'] !== null;

async function* readUsers(
  s: GraphSession,
  ctx: ConnectorContext,
  links: FeedLinks,
  done: (l: string) => void,
): AsyncGenerator<ChangeItem> {
  let seen = 0;
  for await (const page of round(s, links.users, done)) {
    for (const raw of page) {
      const id = typeof raw.id === 'string' && raw.id !== '' ? raw.id : null;
      if (removedOf(raw)) {
        if (id !== null) yield { kind: 'removed', objectType: 'user', externalId: id };
        else
          yield {
            kind: 'problem',
            objectType: 'user',
            externalId: null,
            reason: 'a removed user without an id',
          };
      } else yield mapUser(raw);
    }
    seen += page.length;
    ctx.progress({ phase: 'user changes', done: seen });
  }
}

/** Keys of a delta group object that are not properties of the group itself. */
const NOT_PROPERTIES = new Set(['id', '@odata.type', 'members@delta']);

async function* readGroups(
  s: GraphSession,
  ctx: ConnectorContext,
  links: FeedLinks,
  done: (l: string) => void,
): AsyncGenerator<ChangeItem> {
  let seen = 0;
  for await (const page of round(s, links.groups, done)) {
    for (const raw of page) {
      const id = typeof raw.id === 'string' && raw.id !== '' ? raw.id : null;
      if (id === null) {
        yield {
          kind: 'problem',
          objectType: 'group',
          externalId: null,
          reason: 'a group change without an id',
        };
        continue;
      }
      if (removedOf(raw)) {
        yield { kind: 'removed', objectType: 'group', externalId: id };
        continue;
      }
      // An object carrying only its id and members@delta is a membership change alone.
      if (Object.keys(raw).some((k) => !NOT_PROPERTIES.has(k))) yield mapGroup(raw);
      const members = raw['members@delta'];
      if (!Array.isArray(members)) continue;
      for (const m of members as Record<string, unknown>[]) {
        if (!removedOf(m)) {
          const item = mapMember(id, m);
          if (item === null) s.stats.skipped++;
          else yield item;
          continue;
        }
        const mid = typeof m.id === 'string' && m.id !== '' ? m.id : null;
        const type = m['@odata.type'];
        if (mid === null) continue;
        if (type === '#microsoft.graph.user' || type === '#microsoft.graph.group') {
          yield {
            kind: 'edge-removed',
            groupId: id,
            memberType: type === '#microsoft.graph.user' ? 'user' : 'group',
            memberId: mid,
          };
        } else if (type === undefined) {
          // Untyped: ids are unique across the directory, so removing both kinds of edge is exact.
          yield { kind: 'edge-removed', groupId: id, memberType: 'user', memberId: mid };
          yield { kind: 'edge-removed', groupId: id, memberType: 'group', memberId: mid };
        } else s.stats.skipped++;
      }
    }
    seen += page.length;
    ctx.progress({ phase: 'group changes', done: seen });
  }
}
