/**
 * Walks a Keycloak realm and streams it as snapshot items: users, the group tree (subgroups become
 * group-in-group edges, since a Keycloak group has exactly one parent) and direct members.
 *
 * Work is split into jobs (a page of users, the subgroups of a group, the members of a group) run
 * by `concurrency` workers into a bounded channel; records are yielded as pages arrive, and only
 * ids are remembered (to de-duplicate and to check completeness).
 *
 * Filter push-down (the pipeline filters again, so this only has to keep a superset):
 * - `activeUsersOnly` → `GET /users?enabled=true`.
 * - group include list → the matching groups are found with `GET /groups?search=` (or `/groups/{id}`)
 *   and only their subtrees are walked; users are then taken from those groups' member lists, so
 *   the rest of the realm's users are never downloaded.
 * - group exclude list → excluded groups and their subtrees are neither walked nor listed.
 */
import { DirsyncError } from '../../src/errors.js';
import type { ConnectorContext, GroupSelector, SnapshotItem } from '../types.js';
import type { KeycloakApi, UserQuery } from './client.js';
import {
  isObj,
  isServiceAccount,
  mapGroup,
  mapMember,
  mapUser,
  mayHaveChildren,
  subgroupEdge,
  type Obj,
} from './map.js';
import { Channel } from './pool.js';

export interface ReadOptions {
  pageSize: number;
  concurrency: number;
  /** Filled with subgroup id → parent id as the tree is walked (the feed cursor keeps it). */
  tree?: Map<string, string>;
  /** Called once the read completed and passed its completeness checks. */
  onComplete?: () => void;
}

type Matcher = (group: Obj) => boolean;

/** Same semantics as the pipeline's group filter: exact names and globs case-insensitively, ids exactly. */
export function compileSelectors(selectors: readonly GroupSelector[]): Matcher | null {
  if (selectors.length === 0) return null;
  const ids = new Set<string>();
  const names = new Set<string>();
  const globs: RegExp[] = [];
  for (const s of selectors) {
    if ('id' in s) ids.add(s.id);
    else if ('name' in s) names.add(s.name.toLowerCase());
    else globs.push(globToRegExp(s.glob));
  }
  return (g) =>
    (typeof g.id === 'string' && ids.has(g.id)) ||
    (typeof g.name === 'string' &&
      (names.has(g.name.toLowerCase()) || globs.some((re) => re.test(g.name as string))));
}

export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'is');
}

/** The literal text a glob starts with: a name search for it finds every group the glob can match. */
function globPrefix(glob: string): string {
  const i = glob.search(/[*?]/);
  return i < 0 ? glob : glob.slice(0, i);
}

type Job = () => Promise<void>;

export async function* readRealm(
  api: KeycloakApi,
  opts: ReadOptions,
  ctx: ConnectorContext,
): AsyncGenerator<SnapshotItem> {
  // Fail on bad credentials before anything else happens.
  await api.authenticate();

  const include = compileSelectors(ctx.groupFilter?.include ?? []);
  const exclude = compileSelectors(ctx.groupFilter?.exclude ?? []);
  const userQuery: UserQuery = ctx.activeUsersOnly ? { enabled: true } : {};
  const max = opts.pageSize;
  const out = new Channel<SnapshotItem>(opts.concurrency * 4);
  const jobs: Job[] = [];
  let running = 0;
  let failed = false;

  const seenGroups = new Set<string>();
  const seenUsers = new Set<string>();
  let groupsTotal: number | undefined;
  let membersDone = 0;
  let usersDone = 0;
  let usersTotal: number | undefined;

  /** Users come from member lists (include push-down) instead of `GET /users`. */
  const usersFromMembers = include !== null;

  function enqueue(job: Job): void {
    jobs.push(job);
    pump();
  }

  function pump(): void {
    while (!failed && running < opts.concurrency && jobs.length > 0) {
      const job = jobs.shift() as Job;
      running++;
      job().then(
        () => {
          running--;
          if (jobs.length === 0 && running === 0) out.close();
          else pump();
        },
        (e: unknown) => {
          running--;
          failed = true;
          jobs.length = 0;
          out.fail(e);
        },
      );
    }
  }

  function groupProgress(): void {
    ctx.progress({
      phase: 'groups',
      done: seenGroups.size,
      ...(groupsTotal === undefined ? {} : { total: groupsTotal }),
    });
  }

  /** A group reached by listing, search or id; walks on into its subtree. */
  async function discover(
    raw: unknown,
    parentId: string | null,
    parentIncluded: boolean,
    walkAll: boolean,
  ): Promise<void> {
    if (!isObj(raw) || typeof raw.id !== 'string' || raw.id === '') {
      await out.push([mapGroup(raw)]);
      return;
    }
    if (exclude?.(raw)) return;
    const id = raw.id;
    const included = parentIncluded || include === null || include(raw);
    const batch: SnapshotItem[] = [];
    if (included && parentIncluded && parentId !== null) {
      batch.push(subgroupEdge(parentId, id));
      opts.tree?.set(id, parentId);
    }
    if (!seenGroups.has(id)) {
      seenGroups.add(id);
      if (included) {
        batch.push(mapGroup(raw));
        enqueue(() => readMembers(id));
      }
      if (mayHaveChildren(raw) && (included || walkAll)) enqueue(() => readChildren(id, included, walkAll));
    }
    if (batch.length > 0) await out.push(batch);
  }

  async function readChildren(parentId: string, parentIncluded: boolean, walkAll: boolean): Promise<void> {
    for (let first = 0; ; first += max) {
      const page = await api.children(parentId, first, max);
      for (const child of page) await discover(child, parentId, parentIncluded, walkAll);
      groupProgress();
      if (page.length < max) return;
    }
  }

  async function readMembers(groupId: string): Promise<void> {
    for (let first = 0; ; first += max) {
      const page = await api.members(groupId, first, max, !usersFromMembers);
      const batch: SnapshotItem[] = [];
      for (const m of page) {
        if (usersFromMembers && isObj(m) && typeof m.id === 'string' && !seenUsers.has(m.id)) {
          seenUsers.add(m.id);
          if (isServiceAccount(m)) api.stats.skipped++;
          else batch.push(mapUser(m));
        }
        batch.push(mapMember(groupId, m));
      }
      await out.push(batch);
      if (page.length < max) break;
    }
    ctx.progress({
      phase: 'members',
      done: ++membersDone,
      ...(groupsTotal === undefined ? {} : { total: groupsTotal }),
    });
  }

  async function readUserPage(first: number): Promise<void> {
    const page = await api.users(first, max, userQuery);
    const batch: SnapshotItem[] = [];
    for (const u of page) {
      if (isObj(u) && typeof u.id === 'string') seenUsers.add(u.id);
      // With any filter parameter Keycloak includes service-account users in the list (it leaves
      // them out of a plain listing): they are clients, not people.
      if (userQuery.enabled !== undefined && isServiceAccount(u)) {
        api.stats.skipped++;
        continue;
      }
      batch.push(mapUser(u));
    }
    usersDone += page.length;
    await out.push(batch);
    ctx.progress({
      phase: 'users',
      done: usersDone,
      ...(usersTotal === undefined ? {} : { total: usersTotal }),
    });
  }

  async function readTopGroups(first: number, walkAll: boolean): Promise<void> {
    const page = await api.topGroups(first, max);
    for (const g of page) await discover(g, null, false, walkAll);
    groupProgress();
  }

  async function search(term: string, keep: Matcher): Promise<void> {
    for (let first = 0; ; first += max) {
      const page = await api.searchGroups(term, first, max);
      // The search matches substrings; keep only what the selector itself matches.
      for (const g of page) if (isObj(g) && keep(g)) await discover(g, null, false, false);
      if (page.length < max) return;
    }
  }

  async function byId(id: string): Promise<void> {
    const g = await api.group(id);
    if (g === undefined) ctx.logger.warn({ id }, 'keycloak: an included group id does not exist');
    else await discover(g, null, false, false);
  }

  // Plan, as the first job (so the stream cannot look finished while planning still runs).
  // Counts first: they size the parallel page jobs and are checked again at the end, because
  // offset paging over a realm that changes mid-read can skip records without any error.
  let usersCountBefore: number | undefined;
  const selectors = ctx.groupFilter?.include ?? [];
  const walkAll = include === null || selectors.some((s) => 'glob' in s && globPrefix(s.glob) === '');
  enqueue(async () => {
    if (!usersFromMembers) {
      const count = await api.usersCount(userQuery);
      usersCountBefore = usersTotal = count;
      for (let first = 0; first < count; first += max) {
        const f = first;
        enqueue(() => readUserPage(f));
      }
    }
    if (walkAll) {
      groupsTotal = await api.groupsCount(false);
      const topCount = await api.groupsCount(true);
      for (let first = 0; first < topCount; first += max) {
        const f = first;
        enqueue(() => readTopGroups(f, include !== null));
      }
    } else {
      for (const s of selectors) {
        if ('id' in s) enqueue(() => byId(s.id));
        else if ('name' in s) enqueue(() => search(s.name, compileSelectors([s]) as Matcher));
        else enqueue(() => search(globPrefix(s.glob), compileSelectors([s]) as Matcher));
      }
    }
  });

  try {
    yield* out.drain();
  } finally {
    failed = true;
    jobs.length = 0;
  }

  // Completeness: the counts must still agree, or the realm changed under the offset paging.
  if (usersCountBefore !== undefined) {
    const after = await api.usersCount(userQuery);
    if (after !== usersCountBefore || seenUsers.size !== after) {
      throw new DirsyncError(
        'DIRSYNC_E_SOURCE_FAILED',
        `Keycloak users changed during the read (count ${usersCountBefore} before, ${after} after, ${seenUsers.size} listed); the next run will see a settled realm`,
      );
    }
  }
  if (include === null && exclude === null && groupsTotal !== undefined) {
    const after = await api.groupsCount(false);
    if (after !== groupsTotal || seenGroups.size !== after) {
      throw new DirsyncError(
        'DIRSYNC_E_SOURCE_FAILED',
        `Keycloak groups changed during the read (count ${groupsTotal} before, ${after} after, ${seenGroups.size} found)`,
      );
    }
  }
  opts.onComplete?.();
}
