/**
 * The contract of `POST /__emulator/mutate` every emulator keeps (connectors/emulator-kit/apply.ts):
 * an operation of the seeded plan that the emulator refuses changes nothing and is reported in
 * `skipped`; the operations before and after it apply. Each IdP's admin test drives its own
 * emulator's route over HTTP with this.
 *
 * The refused operations come from asking for the same seed twice: the second plan creates its new
 * users and groups under the ids the first one already used (409), while its other operations are
 * valid on the changed org.
 */
import { expect } from 'vitest';
import type { PlanReport } from '../../connectors/emulator-kit/apply.js';
import type { Org, OrgGroup, OrgUser } from '../../connectors/emulator-kit/org.js';
import { planMutations, type Mutation, type PlanOptions } from '../../connectors/emulator-kit/plan.js';

export interface MutateRoute {
  /** The emulator's live org (read only). */
  org(): Org;
  /** `POST /__emulator/mutate` with this body: the answer's status and JSON body. */
  mutate(body: PlanOptions): Promise<{ status: number; body: unknown }>;
  /**
   * User creations the emulator's change journal holds so far (System Log, audit log, admin
   * events): it must grow by the applied creations only, a refused one records nothing.
   */
  createdUsers?(): number;
}

/** {@link MutateRoute.mutate} over plain HTTP to the emulator at `url`. */
export function postMutate(url: string): MutateRoute['mutate'] {
  return async (body) => {
    const res = await fetch(`${url}/__emulator/mutate`, { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  };
}

/** Shares large enough that a plan creates users and groups on the small orgs of the admin tests. */
const SHARES: Omit<PlanOptions, 'seed'> = { users: 0.5, memberships: 0.1, groups: 4 };

/** The ids an operation names, to tell which objects a plan touches. */
function idsOf(m: Mutation): string[] {
  switch (m.op) {
    case 'addUser':
      return [m.user.id];
    case 'addGroup':
      return [m.group.id];
    case 'addMember':
    case 'removeMember':
      return [m.groupId, m.userId];
    case 'setParent':
      return [m.id, ...(m.parentId ? [m.parentId] : [])];
    default:
      return [m.id];
  }
}

/** What the repeated plan is checked by: its clashes and the renames that must happen after them. */
interface Expectations {
  plan: Mutation[];
  clashes: { i: number; op: string; id: string; obj: OrgUser | OrgGroup; snapshot: OrgUser | OrgGroup }[];
  /** Clashes no other operation of the plan touches: they must come out exactly as they were. */
  untouched: Expectations['clashes'];
  /** Renames after the first refused operation, of objects nothing else touches: they must happen. */
  renames: { kind: 'users' | 'groups'; id: string; name: string }[];
}

function expectationsOf(org: Org, plan: Mutation[]): Expectations {
  const existing = (m: Mutation): OrgUser | OrgGroup | undefined =>
    m.op === 'addUser'
      ? org.users.find((u) => u.id === m.user.id)
      : m.op === 'addGroup'
        ? org.groups.find((g) => g.id === m.group.id)
        : undefined;
  const clashes = plan.flatMap((m, i) => {
    const obj = existing(m);
    return obj ? [{ i, op: m.op, id: obj.id, obj, snapshot: structuredClone(obj) }] : [];
  });
  const touched = (id: string, i: number) => plan.some((m, j) => j !== i && idsOf(m).includes(id));
  const after = clashes[0]?.i ?? plan.length;
  const renames = plan.flatMap((m, i): Expectations['renames'] => {
    if (i <= after) return [];
    if (m.op === 'updateGroup' && m.patch.name !== undefined && !touched(m.id, i))
      return [{ kind: 'groups', id: m.id, name: m.patch.name }];
    if (m.op === 'updateUser' && m.patch.displayName !== undefined && !touched(m.id, i))
      return [{ kind: 'users', id: m.id, name: m.patch.displayName }];
    return [];
  });
  return { plan, clashes, untouched: clashes.filter((c) => !touched(c.id, c.i)), renames };
}

/**
 * Sends seeded plans, each seed twice, until the repeat of one has refused operations worth
 * checking (a clash nothing else in the plan touches, a rename after it), then checks the answer
 * to that repeat, the org after it and the journal's user creations.
 */
export async function expectRefusedOpsSkipped(route: MutateRoute): Promise<void> {
  const createdBefore = route.createdUsers?.();
  const reports: PlanReport[] = [];
  const send = async (opts: PlanOptions): Promise<PlanReport> => {
    const res = await route.mutate(opts);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    reports.push(res.body as PlanReport);
    return res.body as PlanReport;
  };
  let opts: PlanOptions | undefined;
  let x: Expectations | undefined;
  for (let seed = 1; !x; seed++) {
    expect(seed, 'a seed whose repeat has refused operations to check').toBeLessThanOrEqual(20);
    opts = { ...SHARES, seed };
    await send(opts);
    // The plan the emulator will draw from the same org, and which of its operations clash.
    const e = expectationsOf(route.org(), planMutations(route.org(), opts));
    if (e.untouched.length > 0 && e.renames.length > 0) x = e;
  }
  const usersBefore = route.org().users.length;

  const report = await send(opts!);
  expect(report.planned).toBe(x.plan.length);
  expect(report.applied + report.skipped.length).toBe(x.plan.length);
  expect(Object.values(report.ops).reduce((a, b) => a + b, 0)).toBe(report.applied);
  for (const c of x.clashes) {
    expect(
      report.skipped.some((s) => s.startsWith(`${c.op}: `) && s.includes(c.id)),
      `${c.op} ${c.id} reported in ${JSON.stringify(report.skipped)}`,
    ).toBe(true);
  }

  const now = route.org();
  for (const c of x.untouched) {
    const live =
      c.op === 'addUser' ? now.users.filter((u) => u.id === c.id) : now.groups.filter((g) => g.id === c.id);
    expect(live, `${c.op} ${c.id}: still the one object`).toHaveLength(1);
    expect(live[0], `${c.op} ${c.id}: not replaced`).toBe(c.obj);
    expect(live[0], `${c.op} ${c.id}: not changed`).toEqual(c.snapshot);
  }
  for (const r of x.renames) {
    const obj =
      r.kind === 'users' ? now.users.find((u) => u.id === r.id) : now.groups.find((g) => g.id === r.id);
    expect(obj && ('displayName' in obj ? obj.displayName : obj.name), `${r.kind} ${r.id} renamed`).toBe(
      r.name,
    );
  }
  // Users added and removed are exactly the applied ones: the refused additions added nobody.
  expect(now.users.length).toBe(usersBefore + (report.ops.addUser ?? 0) - (report.ops.removeUser ?? 0));
  if (route.createdUsers && createdBefore !== undefined) {
    const applied = reports.reduce((n, r) => n + (r.ops.addUser ?? 0), 0);
    expect(route.createdUsers() - createdBefore, 'user creations in the journal').toBe(applied);
  }
}
