/**
 * Incremental ≡ full in the database, for an IdP emulator: randomized rounds of changes made over
 * HTTP through the emulator's admin API (`POST /__emulator/mutate` plus its per-object routes),
 * each followed by an incremental run (the connector's change feed) into one database and a full
 * run into another (test/helpers/equivalence.ts). Each IdP's `incremental-db.test.ts` supplies its
 * emulator's admin routes; the rounds, the seed and the checks are shared here.
 */
import { readFileSync } from 'node:fs';
import { Agent, request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectorConfig } from '../../config/load.js';
import type { ConnectorConfig } from '../../config/schema.js';
import { prng, type Org, type OrgGroup, type OrgUser } from '../../connectors/emulator-kit/org.js';
import { planMutations, type PlanOptions } from '../../connectors/emulator-kit/plan.js';
import type { Connector } from '../../connectors/types.js';
import type { RunSummary } from '../../src/pipeline/run.js';
import { createTestDatabase } from '../helpers/db.js';
import { expectIncrementalEqualsFull, OPEN_GUARD } from '../helpers/equivalence.js';

/** The emulator's admin routes the rounds use; each call must succeed (2xx). */
export interface EmulatorAdmin {
  /** `POST /__emulator/mutate`: the emulator draws and applies the seeded plan itself. */
  mutate(plan: PlanOptions): Promise<void>;
  addUser(user: OrgUser): Promise<void>;
  updateUser(id: string, patch: Partial<Omit<OrgUser, 'id'>>): Promise<void>;
  removeUser(id: string): Promise<void>;
  addMember(groupId: string, userId: string): Promise<void>;
  removeMember(groupId: string, userId: string): Promise<void>;
  addGroup(group: OrgGroup): Promise<void>;
  removeGroup(id: string): Promise<void>;
  /** Moves a group in the tree (an IdP whose groups nest: the tree is rendered as nesting). */
  moveGroup?(id: string, parentId: string | null): Promise<void>;
  /** A group put in a further group beyond the tree (Graph, Google); may close a cycle. */
  nest?(parentId: string, childId: string): Promise<void>;
  unnest?(parentId: string, childId: string): Promise<void>;
  /** The group-in-group edges beyond the tree now (parent, child), to pick one to take away. */
  extraNesting?(): [string, string][];
  /**
   * Runs before each sync round, after the mutations: an IdP whose change log lags waits here until
   * what was just changed is visible, as an operator's next scheduled run would find it.
   */
  settle?(): Promise<void>;
}

/** One call to the emulator's admin API (`/__emulator/<path>`); it must succeed (2xx). */
export type AdminCall = (
  method: 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
) => Promise<void>;

/**
 * Calls to the admin API of the emulator at `url()`, through `dispatcher()` when it gives one (a
 * TLS trust); both read at each call, so the caller can make this before its emulator starts.
 */
function adminCaller(url: () => string, dispatcher: () => Dispatcher | undefined): AdminCall {
  return async (method, path, body) => {
    const d = dispatcher();
    const res = await request(`${url()}/__emulator/${path}`, {
      method,
      ...(d ? { dispatcher: d } : {}),
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.body.text();
    expect(res.statusCode, `${method} ${path}: ${text}`).toBeLessThan(300);
  };
}

/**
 * The admin routes every emulator serves alike: the seeded plan, users, groups and leaving a
 * group. Joining one differs: `PUT groups/{id}/members/{userId}` (Okta, Keycloak) or
 * `POST groups/{id}/members {userId}` (Graph, Google). Tree moves and nesting are the IdP's own.
 */
export function commonAdminRoutes(
  call: AdminCall,
  join: 'PUT' | 'POST',
): Omit<EmulatorAdmin, 'moveGroup' | 'nest' | 'unnest' | 'extraNesting' | 'settle'> {
  return {
    mutate: (plan) => call('POST', 'mutate', plan),
    addUser: (user) => call('POST', 'users', user),
    updateUser: (id, patch) => call('PATCH', `users/${id}`, patch),
    removeUser: (id) => call('DELETE', `users/${id}`),
    addMember: (groupId, userId) =>
      join === 'PUT'
        ? call('PUT', `groups/${groupId}/members/${userId}`)
        : call('POST', `groups/${groupId}/members`, { userId }),
    removeMember: (groupId, userId) => call('DELETE', `groups/${groupId}/members/${userId}`),
    addGroup: (group) => call('POST', 'groups', group),
    removeGroup: (id) => call('DELETE', `groups/${id}`),
  };
}

/**
 * The group-in-group edges beyond the tree (parent to children, as the emulator keeps them) whose
 * two groups still exist: what {@link EmulatorAdmin.extraNesting} answers.
 */
export function liveNesting(org: Org, nesting: ReadonlyMap<string, ReadonlySet<string>>): [string, string][] {
  const live = new Set(org.groups.map((g) => g.id));
  return [...nesting].flatMap(([p, kids]) =>
    live.has(p) ? [...kids].filter((c) => live.has(c)).map((c): [string, string] => [p, c]) : [],
  );
}

export interface RoundsOptions {
  /** Printed with every assertion: `DIRSYNC_EQUIV_SEED=<seed>` reproduces a failure. */
  seed: number;
  rounds: number;
  connector: Connector;
  /** The connector entry (name, emulator settings) merged under the test's guard and deletion settings. */
  config: (extra: Record<string, unknown>) => ConnectorConfig;
  /** The emulator's live org, read (never changed) to pick what the next change targets. */
  org: () => Org;
  admin: EmulatorAdmin;
  /** Share of users and memberships each seeded plan changes, and its group changes (a count). */
  plan?: Omit<PlanOptions, 'seed'>;
}

export interface RoundsResult {
  modes: Record<string, number>;
  /** Changes by kind over all rounds (plans and the extra changes). */
  ops: Record<string, number>;
  /** Directory changes the incremental runs made, summed over the rounds. */
  changed: number;
  /** Each incremental run's mode reason when it was not incremental, by round. */
  notIncremental: string[];
}

/** The seed of a test file: its default, or `DIRSYNC_EQUIV_SEED` to replay another one. */
export function equivalenceSeed(fallback: number): number {
  const v = process.env.DIRSYNC_EQUIV_SEED;
  return v === undefined || v === '' ? fallback : Number(v);
}

const DEFAULT_PLAN: Omit<PlanOptions, 'seed'> = { users: 0.08, memberships: 0.05, groups: 2 };

function countChanges(s: RunSummary): number {
  const c = s.counts;
  return (
    c.users.create +
    c.users.update +
    c.users.deactivate +
    c.users.reactivate +
    c.users.delete +
    c.groups.create +
    c.groups.update +
    c.groups.delete +
    c.memberships.add +
    c.memberships.remove
  );
}

/**
 * The changes of one round beyond the seeded plan, each through a per-object admin route: a new
 * user in a group, a rename (display name, every other round the username), a disable and a
 * re-enable, a deletion, a membership move, nesting changes; every third round a user deleted and
 * re-created under the same username and email with a new id and its old groups, every fourth a
 * username handed from a renamed user to a new one, every fifth a top-level group deleted and
 * created again under its name.
 */
async function extraChanges(
  round: number,
  rnd: () => number,
  org: Org,
  admin: EmulatorAdmin,
  count: (op: string) => void,
): Promise<void> {
  const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(rnd() * xs.length)];
  const groupsOf = (userId: string) =>
    org.groups.filter((g) => org.members.get(g.id)?.has(userId)).map((g) => g.id);
  const tag = `eq${round}`;
  const touched = new Set<string>();
  const untouched = () => org.users.filter((u) => !touched.has(u.id));

  const template = pick(org.users);
  const group = pick(org.groups);
  if (template && group) {
    const id = `${tag}-new`;
    const login = `${tag}.hire`;
    await admin.addUser({
      ...template,
      id,
      login,
      email: `${login}@${org.domain}`,
      givenName: 'Hire',
      familyName: `Round${round}`,
      displayName: `Hire Round${round}`,
      status: 'active',
    });
    await admin.addMember(group.id, id);
    touched.add(id);
    count('createUser');
  }

  const renamed = pick(untouched());
  if (renamed) {
    touched.add(renamed.id);
    const patch: Partial<OrgUser> = { displayName: `${renamed.displayName} ${tag}` };
    if (round % 2 === 0) {
      patch.login = `${renamed.login}.${tag}`;
      if (renamed.email) patch.email = `${patch.login}@${org.domain}`;
    }
    await admin.updateUser(renamed.id, patch);
    count(patch.login ? 'renameUsername' : 'renameDisplayName');
  }

  const disabled = pick(untouched().filter((u) => u.status === 'active'));
  if (disabled) {
    touched.add(disabled.id);
    await admin.updateUser(disabled.id, { status: round % 2 === 0 ? 'suspended' : 'deprovisioned' });
    count('disableUser');
  }
  const back = pick(untouched().filter((u) => u.status !== 'active'));
  if (back && round % 2 === 1) {
    touched.add(back.id);
    await admin.updateUser(back.id, { status: 'active' });
    count('enableUser');
  }

  const deleted = pick(untouched());
  if (deleted) {
    touched.add(deleted.id);
    await admin.removeUser(deleted.id);
    count('deleteUser');
  }

  const [from, members] = pick([...org.members].filter(([, m]) => m.size > 0)) ?? [];
  const mover = members ? pick([...members].filter((m) => !touched.has(m))) : undefined;
  const to = mover ? pick(org.groups.filter((g) => !org.members.get(g.id)?.has(mover))) : undefined;
  if (from && mover && to) {
    await admin.removeMember(from, mover);
    await admin.addMember(to.id, mover);
    count('moveMembership');
  }

  if (admin.moveGroup) {
    const g = pick(org.groups);
    if (g) {
      // Under a group outside g's own subtree (the tree admits no cycle), or to the top.
      const below = new Set([g.id]);
      for (let grew = true; grew;) {
        grew = false;
        for (const x of org.groups) {
          if (x.parentId && below.has(x.parentId) && !below.has(x.id)) {
            below.add(x.id);
            grew = true;
          }
        }
      }
      const parent = rnd() < 0.25 ? null : (pick(org.groups.filter((x) => !below.has(x.id)))?.id ?? null);
      if (parent !== g.parentId) {
        await admin.moveGroup(g.id, parent);
        count('moveGroup');
      }
    }
  }
  if (admin.nest && admin.unnest && admin.extraNesting) {
    const edges = admin.extraNesting();
    if (round % 3 === 2 && edges.length > 0) {
      const [p, c] = pick(edges)!;
      await admin.unnest(p, c);
      count('unnest');
    } else {
      const p = pick(org.groups);
      const c = pick(org.groups);
      if (p && c && p.id !== c.id) {
        await admin.nest(p.id, c.id);
        count('nest');
      }
    }
  }

  if (round % 4 === 3) {
    // A username handed over: one user renamed away from it, a new user created under it.
    const leaver = pick(untouched().filter((u) => u.email !== null));
    const home = pick(org.groups);
    if (leaver && home) {
      touched.add(leaver.id);
      const { login, email } = leaver;
      const moved = `${login}.left${round}`;
      await admin.updateUser(leaver.id, { login: moved, email: `${moved}@${org.domain}` });
      const heir = { ...leaver, id: `${tag}-heir`, login, email, displayName: `Heir ${tag}` };
      await admin.addUser(heir);
      await admin.addMember(home.id, heir.id);
      touched.add(heir.id);
      count('handOverUsername');
    }
  }

  if (round % 5 === 2) {
    // A group deleted and created again under the same name, with some of its members back.
    const old = pick(org.groups.filter((g) => g.parentId === null));
    if (old) {
      const members = [...(org.members.get(old.id) ?? [])].filter((m) => !touched.has(m));
      await admin.removeGroup(old.id);
      const group = { ...old, id: `${tag}-regroup`, parentId: null };
      await admin.addGroup(group);
      for (const m of members.slice(0, Math.ceil(members.length / 2))) await admin.addMember(group.id, m);
      count('recreateGroup');
    }
  }

  if (round % 3 === 1) {
    const again = pick(untouched().filter((u) => u.email !== null && groupsOf(u.id).length > 0));
    if (again) {
      const groups = groupsOf(again.id);
      await admin.removeUser(again.id);
      const user = { ...again, id: `${tag}-again` };
      await admin.addUser(user);
      for (const g of groups) await admin.addMember(g, user.id);
      count('recreateUser');
    }
  }
}

/**
 * `rounds` rounds of seeded plans and extra changes, each followed by an incremental and a full run
 * into two fresh databases that must then hold the same directory. Later rounds switch deletions
 * from the 30-day grace period to immediate (a pipeline setting: the runs stay incremental).
 */
export async function incrementalEqualsFullOverRounds(o: RoundsOptions): Promise<RoundsResult> {
  const [inc, ref] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  const ops: Record<string, number> = {};
  const count = (op: string, n = 1) => void (ops[op] = (ops[op] ?? 0) + n);
  const notIncremental: string[] = [];
  let changed = 0;
  const label = `seed ${o.seed} (DIRSYNC_EQUIV_SEED=${o.seed} replays it)`;
  try {
    const { modes } = await expectIncrementalEqualsFull({
      connector: o.connector,
      incremental: inc.pool,
      reference: ref.pool,
      rounds: o.rounds,
      label,
      config: (round) =>
        o.config({
          guard: OPEN_GUARD,
          deletion: { deleteAfter: round > o.rounds / 2 ? '0s' : '30d' },
        }),
      async mutate(round) {
        const org = o.org();
        const plan = { ...(o.plan ?? DEFAULT_PLAN), seed: o.seed * 1000 + round };
        // The same plan the emulator will draw from the same org: counted here, applied there.
        for (const m of planMutations(org, plan)) count(m.op);
        await o.admin.mutate(plan);
        await extraChanges(round, prng(o.seed * 7919 + round), org, o.admin, count);
        await o.admin.settle?.();
      },
      onRound(round, i, full) {
        if (round > 0) changed += countChanges(i);
        if (round > 0 && i.mode !== 'incremental') notIncremental.push(`${round}: ${i.modeReason}`);
        expect(i.counts, `${label}, round ${round}: the runs' change counts`).toEqual(full.counts);
      },
    });
    return { modes, ops, changed, notIncremental };
  } finally {
    await Promise.all([inc.drop(), ref.drop()]);
  }
}

/**
 * What every IdP's test asserts on the result: the first run was full and every later one
 * incremental (otherwise the comparison proves nothing about the feed), the rounds changed the
 * directory, and they covered every kind of change the IdP can make.
 */
export function expectMeaningfulRounds(r: RoundsResult, o: RoundsOptions, kinds: readonly string[]): void {
  const label = `seed ${o.seed}`;
  expect(r.notIncremental, `${label}: rounds that were not incremental`).toEqual([]);
  expect(r.modes, label).toEqual({ full: 1, incremental: o.rounds });
  expect(r.changed, `${label}: directory changes over the rounds`).toBeGreaterThan(o.rounds * 5);
  for (const k of kinds) expect(r.ops[k] ?? 0, `${label}: ${k} changes`).toBeGreaterThan(0);
}

/** The kinds of change every IdP's rounds make; nesting kinds are added per IdP. */
export const COMMON_KINDS = [
  'addUser',
  'updateUser',
  'removeUser',
  'addGroup',
  'updateGroup',
  'removeGroup',
  'addMember',
  'removeMember',
  'createUser',
  'renameDisplayName',
  'renameUsername',
  'disableUser',
  'enableUser',
  'deleteUser',
  'moveMembership',
  'recreateUser',
  'handOverUsername',
  'recreateGroup',
] as const;

/** An IdP emulator as {@link describeIncrementalEqualsFull} drives it. */
export interface SuiteEmulator {
  url: string;
  org: Org;
  /** The emulator's connector entry, with its fake credentials as env references. */
  connector: Record<string, unknown>;
  close(): Promise<void>;
}

/** What one IdP's `incremental-db.test.ts` supplies; the suite does the rest. */
export interface IdpSuite<E extends SuiteEmulator> {
  /** Names the suite: `<idp>: incremental runs equal full runs in the database`. */
  idp: string;
  /** The kinds of change the rounds make, for the test's title. */
  changes: string;
  /** The file's seed (`DIRSYNC_EQUIV_SEED` replays another). */
  seed: number;
  connector: Connector;
  start(): Promise<E>;
  /** PEM of a self-signed certificate the admin API is served with (the Graph emulator's HTTPS). */
  caFile?(emu: E): string;
  /** Runs once the emulator is up, e.g. to set its ingestion delay through the admin API. */
  prepare?(call: AdminCall, emu: E): Promise<void>;
  /** The connector entry (the emulator's, with test settings) under each round's settings. */
  entry(emu: E): Record<string, unknown>;
  /** The IdP's admin routes: {@link commonAdminRoutes} plus its own moves, nesting and settling. */
  admin(call: AdminCall, emu: E): EmulatorAdmin;
  /** Kinds of change beyond {@link COMMON_KINDS} the rounds must have made. */
  kinds: readonly string[];
}

/**
 * One IdP's suite: its emulator started before and closed after, and one test of 20 rounds whose
 * incremental runs must end where full runs end ({@link incrementalEqualsFullOverRounds}) and be
 * meaningful ({@link expectMeaningfulRounds}).
 */
export function describeIncrementalEqualsFull<E extends SuiteEmulator>(s: IdpSuite<E>): void {
  describe(`${s.idp}: incremental runs equal full runs in the database`, () => {
    let emu: E;
    let agent: Agent | undefined;
    const call = adminCaller(
      () => emu.url,
      () => agent,
    );

    beforeAll(async () => {
      emu = await s.start();
      const ca = s.caFile?.(emu);
      if (ca) agent = new Agent({ connect: { ca: readFileSync(ca, 'utf8') } });
      await s.prepare?.(call, emu);
    });

    afterAll(async () => {
      await agent?.close();
      await emu?.close();
    });

    it(`after 20 rounds of ${s.changes}`, async () => {
      const o: RoundsOptions = {
        seed: equivalenceSeed(s.seed),
        rounds: 20,
        connector: s.connector,
        config: (extra) => parseConnectorConfig({ ...s.entry(emu), ...extra }, s.connector),
        org: () => emu.org,
        admin: s.admin(call, emu),
      };
      const r = await incrementalEqualsFullOverRounds(o);
      expectMeaningfulRounds(r, o, [...COMMON_KINDS, ...s.kinds]);
    }, 300_000);
  });
}
