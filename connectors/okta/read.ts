/**
 * Walks an Okta org: users, then groups, then each group's members (bounded concurrency), yielding
 * records as pages arrive. Okta has no nested groups, so every edge is a user edge.
 */
import { isDirsyncError } from '../../src/errors.js';
import type { ConnectorContext, SnapshotItem, SourceStats } from '../types.js';
import type { OktaApi } from './client.js';
import type { OktaConfig } from './config.js';
import { mapGroup, mapMember, mapUser } from './map.js';
import { excludedBy, groupQuery, userQueries, wantedStatuses } from './query.js';

export async function* readOrg(
  api: OktaApi,
  config: OktaConfig,
  ctx: ConnectorContext,
  stats: SourceStats,
): AsyncGenerator<SnapshotItem> {
  const wanted = wantedStatuses(config.userStatuses, ctx.activeUsersOnly === true);
  // Ids of the users in this snapshot: a user can show up twice (deprovisioned between the plain
  // listing and the DEPROVISIONED filter), and edges must only name users of this snapshot.
  const userIds = new Set<string>();
  let done = 0;
  for (const query of userQueries(wanted)) {
    for await (const page of api.pages('/api/v1/users', { limit: config.pageSize.users, ...query })) {
      for (const raw of page.items) {
        const { item, status } = mapUser(raw);
        if (item.kind === 'user') {
          if (userIds.has(item.externalId) || !wanted.has(status as string)) continue;
          userIds.add(item.externalId);
        } else if (item.externalId !== null) {
          // The pipeline holds a user it got a problem for; keep its memberships too.
          userIds.add(item.externalId);
        }
        yield item;
      }
      done += page.items.length;
      ctx.progress({ phase: 'users', done });
    }
  }

  const groupIds: string[] = [];
  const types = new Set<string>(config.groupTypes);
  const excluded = excludedBy(ctx.groupFilter);
  done = 0;
  const query = groupQuery(config.groupTypes, ctx.groupFilter, config.groupNamePushDown);
  for await (const page of api.pages('/api/v1/groups', { limit: config.pageSize.groups, ...query })) {
    for (const raw of page.items) {
      const { item, type } = mapGroup(raw);
      if (item.kind === 'group') {
        if (!types.has(type as string) || excluded(item.externalId, item.name)) continue;
        groupIds.push(item.externalId);
      }
      yield item;
    }
    done += page.items.length;
    ctx.progress({ phase: 'groups', done });
  }

  // Edges only to users of this snapshot: a member whose status is not synced, or who appeared
  // after the users were read, is skipped.
  yield* readMembers(api, config, ctx, stats, groupIds, (userId) => userIds.has(userId));
}

/**
 * Member lists of many groups at once; edges come back through a bounded buffer (backpressure).
 * `keep` decides per member (its id and raw Okta user) whether its edge belongs to the snapshot;
 * skipped members are counted in `stats.skipped`. As many lists are read at once as the org's
 * {@link RateBudget} lets through (`memberConcurrency` caps it): the budget paces each endpoint
 * family from Okta's `X-Rate-Limit-*` headers and keeps the reserve, so the worker count only
 * needs to be large enough to use what the budget allows.
 */
export async function* readMembers(
  api: OktaApi,
  config: OktaConfig,
  ctx: ConnectorContext,
  stats: SourceStats,
  groupIds: string[],
  keep: (userId: string, raw: unknown) => boolean,
): AsyncGenerator<SnapshotItem> {
  const buffer: SnapshotItem[][] = [];
  const HIGH_WATER = 64; // pages waiting to be consumed before workers pause
  let wakeConsumer: (() => void) | null = null;
  const producersWaiting: (() => void)[] = [];
  let failure: unknown = null;
  let next = 0;
  let finished = 0;
  let stopped = false;

  const wake = () => {
    wakeConsumer?.();
    wakeConsumer = null;
  };
  const push = async (items: SnapshotItem[]) => {
    buffer.push(items);
    wake();
    while (buffer.length > HIGH_WATER && !stopped) await new Promise<void>((r) => producersWaiting.push(r));
  };

  async function worker(): Promise<void> {
    while (!stopped && failure === null && next < groupIds.length) {
      const groupId = groupIds[next++] as string;
      try {
        for await (const page of api.pages(`/api/v1/groups/${encodeURIComponent(groupId)}/users`, {
          limit: config.pageSize.members,
        })) {
          if (stopped) return;
          const items: SnapshotItem[] = [];
          for (const raw of page.items) {
            const m = mapMember(groupId, raw);
            if (m.item.kind === 'edge' && !keep(m.item.memberId, raw)) {
              stats.skipped++;
              continue;
            }
            items.push(m.item);
          }
          await push(items);
        }
      } catch (e) {
        if (isDirsyncError(e, 'DIRSYNC_E_IDP_NOT_FOUND')) {
          // Deleted after the group listing: keep what the directory knows of its members.
          await push([
            {
              kind: 'problem',
              objectType: 'edge',
              externalId: groupId,
              reason: `group ${groupId} disappeared while its members were read`,
            },
          ]);
        } else {
          failure ??= e;
          wake();
          return;
        }
      }
      finished++;
      ctx.progress({ phase: 'members', done: finished, total: groupIds.length });
      wake();
    }
  }

  const width = config.memberConcurrency ?? config.rateLimit.maxConcurrent;
  const workers = Array.from({ length: Math.min(width, groupIds.length) }, () => worker());
  const all = Promise.all(workers).then(() => {
    stopped = true;
    wake();
  });
  try {
    for (;;) {
      if (failure !== null) throw failure;
      const items = buffer.shift();
      if (items) {
        producersWaiting.shift()?.();
        yield* items;
        continue;
      }
      if (stopped) break;
      await new Promise<void>((r) => (wakeConsumer = r));
    }
    await all;
    if (failure !== null) throw failure;
  } finally {
    // On failure or when the consumer stops early: let the workers run out and wait for them, so
    // no request outlives the read.
    stopped = true;
    for (const r of producersWaiting.splice(0)) r();
    await all.catch(() => {});
  }
}
