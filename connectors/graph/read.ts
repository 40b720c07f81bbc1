/**
 * Walks a tenant: users, then groups, then every group's direct members through `$batch`
 * (20 member-list requests per call, `concurrency` calls in flight), following each inner
 * response's nextLink and re-queueing inner 429/5xx after their Retry-After. Records are yielded
 * as pages arrive; only group ids are held. Nested groups are read as direct `group` edges:
 * a cycle is just an edge that points back, and each group's members are read once.
 * https://learn.microsoft.com/graph/json-batching  https://learn.microsoft.com/graph/api/group-list-members
 */
import { DirsyncError } from '../../src/errors.js';
import type { ConnectorContext, SnapshotItem, SourceStats } from '../types.js';
import { abortableSleep } from './budget.js';
import {
  backoffMs,
  graphError,
  retryAfterMs,
  toPage,
  type BatchRequest,
  type GraphClient,
  type RetryPolicy,
} from './client.js';
import type { GraphConfig } from './config.js';
import { groupFilters } from './filter.js';
import { GROUP_SELECT, mapGroup, mapMember, mapUser, USER_SELECT } from './map.js';

interface ReadDeps {
  client: GraphClient;
  config: GraphConfig;
  ctx: ConnectorContext;
  stats: SourceStats;
  retry: RetryPolicy;
}

const enc = (s: string) => encodeURIComponent(s).replace(/%2C/g, ',');

/**
 * Users are listed while groups and member lists are read: the user listing is one chain of
 * sequential pages (about 100 at 100k users), which would otherwise add its whole duration.
 */
export function readTenant(d: ReadDeps): AsyncGenerator<SnapshotItem> {
  return merge(readUsers(d), readGroupsAndMembers(d));
}

/** Yields the items of several generators as each produces them; the first failure ends all. */
export async function* merge<T>(...its: AsyncGenerator<T>[]): AsyncGenerator<T> {
  const pending = new Map<number, Promise<{ i: number; r: IteratorResult<T> }>>();
  const pull = (i: number) => {
    const p = (its[i] as AsyncGenerator<T>).next().then((r) => ({ i, r }));
    // A failure is handled through the race below; this keeps it from counting as unhandled.
    p.catch(() => {});
    pending.set(i, p);
  };
  its.forEach((_, i) => pull(i));
  try {
    while (pending.size > 0) {
      const { i, r } = await Promise.race(pending.values());
      if (r.done) {
        pending.delete(i);
        continue;
      }
      pull(i);
      yield r.value;
    }
  } finally {
    for (const i of pending.keys()) void (its[i] as AsyncGenerator<T>).return(undefined).catch(() => {});
  }
}

async function* readGroupsAndMembers(d: ReadDeps): AsyncGenerator<SnapshotItem> {
  const groupIds: string[] = [];
  const known = new Set<string>();
  const filters = groupFilters(d.ctx.groupFilter);
  for await (const item of readGroups(d, filters)) {
    if (item.kind === 'group' && !known.has(item.externalId)) {
      known.add(item.externalId);
      groupIds.push(item.externalId);
      yield item;
    } else if (item.kind !== 'group') yield item;
  }
  // With an include filter, subgroups of included groups are not in the filtered listing:
  // fetch each one as the member lists reveal it.
  yield* readMembers(d, groupIds, known, filters !== null);
}

async function* readUsers(d: ReadDeps): AsyncGenerator<SnapshotItem> {
  const { config, ctx } = d;
  const path = `/users?$select=${USER_SELECT.join(',')}&$top=${config.pageSize}`;
  // `filters.users.activeOnly` is not pushed down as `accountEnabled eq true`: Graph does not match
  // a null accountEnabled with it, so such users would be absent and deactivated. Every user is
  // read; the pipeline's filter leaves out the disabled ones and keeps those of unknown state.
  let done = 0;
  ctx.progress({ phase: 'users', done });
  for await (const page of d.client.pages(path)) {
    for (const raw of page.value) yield mapUser(raw);
    done += page.value.length;
    ctx.progress({ phase: 'users', done });
  }
}

async function* readGroups(d: ReadDeps, filters: string[] | null): AsyncGenerator<SnapshotItem> {
  const base = `/groups?$select=${GROUP_SELECT.join(',')}&$top=${d.config.pageSize}`;
  const paths = filters === null ? [base] : filters.map((f) => `${base}&$filter=${enc(f)}`);
  let done = 0;
  d.ctx.progress({ phase: 'groups', done });
  for (const path of paths) {
    for await (const page of d.client.pages(path)) {
      for (const raw of page.value) yield mapGroup(raw);
      done += page.value.length;
      d.ctx.progress({ phase: 'groups', done });
    }
  }
}

interface Job {
  groupId: string;
  /** Relative to the version: `/groups/{id}/members?...` or a continuation. */
  url: string;
  retries: number;
  notBefore: number;
}

/** Member-list jobs: a FIFO of ready jobs, and jobs waiting out a Retry-After. */
class JobQueue {
  private ready: Job[] = [];
  private head = 0;
  private delayed: Job[] = [];

  get size(): number {
    return this.ready.length - this.head + this.delayed.length;
  }

  push(job: Job): void {
    if (job.notBefore > 0) this.delayed.push(job);
    else this.ready.push(job);
  }

  /** Up to `n` jobs that may run now. */
  take(n: number, now: number): Job[] {
    if (this.delayed.length > 0) {
      const due = this.delayed.filter((j) => j.notBefore <= now);
      if (due.length > 0) {
        this.delayed = this.delayed.filter((j) => j.notBefore > now);
        this.ready.push(...due);
      }
    }
    const out = this.ready.slice(this.head, this.head + n);
    this.head += out.length;
    if (this.head > 1024 && this.head * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  /** When the earliest waiting job may run. */
  nextDue(): number {
    return Math.min(...this.delayed.map((j) => j.notBefore));
  }
}

type Outcome =
  | { job: Job; kind: 'page'; value: Record<string, unknown>[]; next: string | null }
  | { job: Job; kind: 'retry'; waitMs: number; status: number }
  | { job: Job; kind: 'gone' };

async function* readMembers(
  d: ReadDeps,
  groupIds: string[],
  known: Set<string>,
  closeOverSubgroups: boolean,
): AsyncGenerator<SnapshotItem> {
  const { client, config, ctx, stats } = d;
  const membersUrl = (id: string) => `/groups/${id}/members?$select=id&$top=${config.pageSize}`;
  const queue = new JobQueue();
  for (const groupId of groupIds) queue.push({ groupId, url: membersUrl(groupId), retries: 0, notBefore: 0 });
  let total = groupIds.length;
  let done = 0;
  // Additive increase after an unthrottled batch, halving after a throttled one (AIMD).
  let limit = Math.min(config.concurrency, config.maxConcurrency);
  let throttledSeen = stats.throttled;
  const inflight = new Map<number, Promise<Outcome[]>>();
  let seq = 0;
  ctx.progress({ phase: 'members', done, total });

  const launch = (jobs: Job[]) => {
    const key = seq++;
    const requests: BatchRequest[] = jobs.map((j, i) => ({ id: String(i + 1), method: 'GET', url: j.url }));
    const p = client.batch(requests).then((responses) => {
      const byId = new Map(responses.map((r) => [String(r.id), r]));
      return jobs.map((job, i): Outcome => {
        const r = byId.get(String(i + 1));
        if (!r) throw new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', `$batch answer lacks response ${i + 1}`);
        return innerOutcome(job, r.status, r.headers ?? {}, r.body, d.retry);
      });
    });
    // Keep the key with the result so the finished batch can be removed from the race.
    inflight.set(
      key,
      p.then(
        (o) => (inflight.delete(key), o),
        (e: unknown) => {
          inflight.delete(key);
          throw e;
        },
      ),
    );
  };

  try {
    while (queue.size > 0 || inflight.size > 0) {
      const now = Date.now();
      while (inflight.size < limit) {
        const ready = queue.take(config.batchSize, now);
        if (ready.length === 0) break;
        launch(ready);
      }
      if (inflight.size === 0) {
        // Only throttled jobs are left: wait for the earliest Retry-After.
        await abortableSleep(Math.max(1, queue.nextDue() - Date.now()), ctx.signal);
        continue;
      }
      const outcomes = await Promise.race(inflight.values());
      // Throttled inner responses, or whole calls the client retried after a 429/503.
      const throttledNow =
        stats.throttled > throttledSeen ||
        outcomes.some((o) => o.kind === 'retry' && (o.status === 429 || o.status === 503));
      throttledSeen = stats.throttled;
      limit = throttledNow ? Math.max(1, Math.floor(limit / 2)) : Math.min(config.maxConcurrency, limit + 1);
      for (const o of outcomes) {
        if (o.kind === 'retry') {
          if (o.status === 429 || o.status === 503) stats.throttled++;
          if (o.job.retries >= d.retry.maxRetries) {
            throw graphError(
              o.status,
              undefined,
              'member list still failing after retries',
              null,
              `GET ${o.job.url.split('?')[0]}`,
            );
          }
          queue.push({ ...o.job, retries: o.job.retries + 1, notBefore: Date.now() + o.waitMs });
          continue;
        }
        if (o.kind === 'gone') {
          // Deleted between listing groups and reading members: hold what the directory has.
          yield {
            kind: 'problem',
            objectType: 'group',
            externalId: o.job.groupId,
            reason: `group ${o.job.groupId} disappeared while its members were read`,
          };
          done++;
          continue;
        }
        stats.pages++;
        for (const raw of o.value) {
          const item = mapMember(o.job.groupId, raw);
          if (item === null) {
            stats.skipped++;
            continue;
          }
          yield item;
          if (
            closeOverSubgroups &&
            item.kind === 'edge' &&
            item.memberType === 'group' &&
            !known.has(item.memberId)
          ) {
            known.add(item.memberId);
            total++;
            yield* fetchGroup(d, item.memberId);
            queue.push({ groupId: item.memberId, url: membersUrl(item.memberId), retries: 0, notBefore: 0 });
          }
        }
        if (o.next !== null)
          queue.push({ groupId: o.job.groupId, url: client.relative(o.next), retries: 0, notBefore: 0 });
        else done++;
        ctx.progress({ phase: 'members', done, total });
      }
    }
  } finally {
    // On failure, let batches still in flight settle quietly; their results are discarded.
    for (const p of inflight.values()) p.catch(() => {});
  }
}

async function* fetchGroup(d: ReadDeps, id: string): AsyncGenerator<SnapshotItem> {
  try {
    const body = await d.client.get(`/groups/${id}?$select=${GROUP_SELECT.join(',')}`);
    d.stats.pages++;
    yield mapGroup(body);
  } catch (e) {
    if (e instanceof DirsyncError && e.code === 'DIRSYNC_E_IDP_NOT_FOUND') {
      yield {
        kind: 'problem',
        objectType: 'group',
        externalId: id,
        reason: `subgroup ${id} disappeared during the read`,
      };
      return;
    }
    throw e;
  }
}

function header(headers: Record<string, string>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** Interprets one inner response of a `$batch`. */
function innerOutcome(
  job: Job,
  status: number,
  headers: Record<string, string>,
  body: unknown,
  retry: RetryPolicy,
): Outcome {
  if (status >= 200 && status < 300) {
    const page = toPage((body ?? {}) as Record<string, unknown>, job.url);
    return { job, kind: 'page', value: page.value, next: page.nextLink };
  }
  if (status === 404) return { job, kind: 'gone' };
  if (status === 429 || status >= 500) {
    return {
      job,
      kind: 'retry',
      status,
      waitMs: retryAfterMs(header(headers, 'retry-after')) ?? backoffMs(job.retries, retry),
    };
  }
  const err = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  throw graphError(
    status,
    err?.code,
    err?.message ?? 'inner request failed',
    null,
    `GET ${job.url.split('?')[0]}`,
  );
}
