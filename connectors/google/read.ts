/**
 * Walks a Workspace account: users, then groups, then every group's direct members, yielding
 * records as pages arrive. Only ids are held (users, to recognise external members; groups, to
 * fetch their members and to spot nested groups outside the listing).
 *
 * Directory API has no delta feed for groups or members, so every run reads everything.
 */
import { DirsyncError } from '../../src/errors.js';
import type { ConnectorContext, SnapshotItem, SourceStats } from '../types.js';
import type { DirectoryClient, RawMember } from './client.js';
import { mapGroup, mapMember, mapUser } from './map.js';
import { recordHash } from './cursor.js';
import type { GroupPlan } from './pushdown.js';

export interface ReadOptions {
  client: DirectoryClient;
  ctx: ConnectorContext;
  stats: SourceStats;
  concurrency: number;
  groups: GroupPlan;
  userQuery?: string;
  /** Filled while reading, for the change-feed cursor: users read, and group id → record hash. */
  record?: { users: number; groups: Record<string, string> };
}

type PageResult = { groupId: string; page: RawMember[] | null };

export async function* readSnapshot(o: ReadOptions): AsyncGenerator<SnapshotItem> {
  const { client, ctx, stats } = o;
  const skipped = new Map<string, number>();
  const skip = (reason: string) => {
    stats.skipped++;
    skipped.set(reason, (skipped.get(reason) ?? 0) + 1);
  };

  // 1. Users. Ids of records that became problems are kept too: the pipeline holds those users,
  //    so their memberships must not vanish either.
  const userIds = new Set<string>();
  let done = 0;
  for await (const page of client.userPages(o.userQuery)) {
    for (const raw of page) {
      const item = mapUser(raw);
      if (item.externalId !== null) userIds.add(item.externalId);
      if (o.record) o.record.users++;
      yield item;
    }
    done += page.length;
    ctx.progress({ phase: 'users', done });
  }

  // 2. Groups: all of them, or (push-down) those the include filter names.
  const groupIds: string[] = [];
  const seenGroups = new Set<string>();
  const addGroup = (raw: unknown): SnapshotItem | null => {
    const item = mapGroup(raw);
    const id = item.externalId;
    if (id !== null) {
      if (seenGroups.has(id)) return null; // matched by two include queries
      seenGroups.add(id);
      groupIds.push(id);
      if (o.record) o.record.groups[id] = recordHash(item);
    }
    return item;
  };
  const groupQueries = o.groups.all ? [undefined] : o.groups.queries;
  for (const query of groupQueries) {
    for await (const page of client.groupPages(query)) {
      for (const raw of page) {
        const item = addGroup(raw);
        if (item) yield item;
      }
      ctx.progress({ phase: 'groups', done: groupIds.length });
    }
  }
  if (!o.groups.all) {
    for (const id of o.groups.ids) {
      if (seenGroups.has(id)) continue;
      const raw = await client.getGroup(id);
      if (raw === null) {
        ctx.logger.warn({ groupId: id }, 'google: a group named by the include filter does not exist');
        continue;
      }
      const item = addGroup(raw);
      if (item) yield item;
    }
  }

  // 3. Members, `concurrency` groups at a time. Each group is an async iterator of pages with at
  //    most one page in flight; a slow consumer therefore slows the fetching down (backpressure).
  const active = new Map<string, { pages: AsyncGenerator<RawMember[]>; next: Promise<PageResult> }>();
  let queued = 0;
  let finished = 0;
  const pull = (groupId: string, pages: AsyncGenerator<RawMember[]>): Promise<PageResult> =>
    pages.next().then(
      (r) => ({ groupId, page: r.done ? null : r.value }),
      (e: unknown) => {
        // The group was deleted after it was listed: its members went with it.
        if (e instanceof DirsyncError && e.code === 'DIRSYNC_E_IDP_NOT_FOUND') {
          ctx.logger.warn({ groupId }, 'google: group disappeared while its members were read');
          return { groupId, page: null };
        }
        throw e;
      },
    );
  try {
    for (;;) {
      // The limit drops while Google throttles and climbs back (pacing.ts, AdaptiveLimit).
      while (active.size < client.concurrency() && queued < groupIds.length) {
        const groupId = groupIds[queued++] as string;
        const pages = client.memberPages(groupId);
        active.set(groupId, { pages, next: pull(groupId, pages) });
      }
      if (active.size === 0) break;
      const { groupId, page } = await Promise.race([...active.values()].map((a) => a.next));
      const slot = active.get(groupId) as { pages: AsyncGenerator<RawMember[]>; next: Promise<PageResult> };
      if (page === null) {
        active.delete(groupId);
        ctx.progress({ phase: 'members', done: ++finished, total: groupIds.length });
        continue;
      }
      slot.next = pull(groupId, slot.pages); // fetch the next page while this one is consumed
      for (const raw of page) {
        const r = mapMember(groupId, raw);
        if (r.kind === 'skip') {
          skip(r.reason);
          continue;
        }
        if (r.kind === 'edge' && r.memberType === 'user' && !userIds.has(r.memberId)) {
          // A consumer account outside this Workspace, a user created after the users were
          // listed (the next run has it), or one the activeOnly push-down left out.
          skip('member user not in the users listed');
          continue;
        }
        if (r.kind === 'edge' && r.memberType === 'group' && !seenGroups.has(r.memberId)) {
          // A nested group outside the listing (push-down, another domain, created meanwhile):
          // include it, so the nesting below an included group is complete.
          seenGroups.add(r.memberId);
          const raw = await client.getGroup(r.memberId).catch((e: unknown) => {
            if (e instanceof DirsyncError && e.code === 'DIRSYNC_E_IDP_FORBIDDEN') return null;
            throw e;
          });
          if (raw === null) {
            skip('member group not readable');
            continue;
          }
          const item = mapGroup(raw);
          if (o.record && item.externalId !== null) o.record.groups[item.externalId] = recordHash(item);
          yield item;
          groupIds.push(r.memberId);
        }
        yield r;
      }
    }
  } finally {
    // On failure or an early stop, let go of the other groups' pages (their requests settle alone).
    for (const a of active.values()) a.next.catch(() => {});
  }
  if (skipped.size > 0) ctx.logger.info({ skipped: Object.fromEntries(skipped) }, 'google: members skipped');
}
