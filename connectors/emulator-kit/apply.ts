/**
 * Applying a seeded plan (plan.ts) through an emulator's own mutation path, with one contract for
 * every emulator's `POST /__emulator/mutate`: each operation is applied in plan order; one the
 * emulator refuses (an {@link OrgMutationError}: a missing object, a taken id or login, a cycle)
 * changes nothing and is skipped and reported, and the operations after it still apply.
 *
 * Why skip rather than check the whole plan first: a plan is drawn against the org as it is, and
 * some of its operations are refused only because of an earlier one (Keycloak deletes the subgroups
 * of a deleted group, so a later change to one of them fails as the admin call would). Checking
 * first would need a dry run of every emulator's rules on a copy of its org; skipping needs only
 * that each single operation is checked before it changes anything, which every store does. The
 * caller then knows exactly what happened: the org, and the journal the change feed reads, hold the
 * plan minus the operations in `skipped`.
 */
import { OrgMutationError } from './mutate.js';
import type { OrgGroup, OrgUser } from './org.js';
import type { Mutation } from './plan.js';

/** What `POST /__emulator/mutate` answers, in every emulator. */
export interface PlanReport {
  /** Operations in the plan. */
  planned: number;
  /** Operations applied (`planned` minus the skipped ones). */
  applied: number;
  /** Applied operations by kind (`addUser`, `removeMember`, ...). */
  ops: Record<string, number>;
  /** Each refused operation, in plan order, as `op: reason`; a refused operation changed nothing. */
  skipped: string[];
}

/**
 * Applies `plan` in order with `applyOne`; an operation it refuses with an
 * {@link OrgMutationError} is skipped and reported. Any other error is a bug and propagates.
 */
export function applyPlan<M extends { op: string }>(
  plan: readonly M[],
  applyOne: (m: M) => unknown,
): PlanReport {
  const report: PlanReport = { planned: plan.length, applied: 0, ops: {}, skipped: [] };
  for (const m of plan) {
    try {
      applyOne(m);
    } catch (e) {
      if (!(e instanceof OrgMutationError)) throw e;
      report.skipped.push(`${m.op}: ${e.message}`);
      continue;
    }
    report.applied++;
    report.ops[m.op] = (report.ops[m.op] ?? 0) + 1;
  }
  return report;
}

/**
 * An emulator's mutation path with one method per kind of plan operation, named as in mutate.ts
 * (Google's store, Keycloak's RealmMutations). Each method records the change in the emulator's
 * own journal and wire format; this module only picks the method.
 */
export interface MutationTarget {
  addUser(user: OrgUser): unknown;
  updateUser(id: string, patch: Partial<Omit<OrgUser, 'id'>>): unknown;
  removeUser(id: string): unknown;
  addGroup(group: OrgGroup): unknown;
  updateGroup(id: string, patch: Partial<Pick<OrgGroup, 'name' | 'description'>>): unknown;
  removeGroup(id: string): unknown;
  moveGroup(id: string, parentId: string | null): unknown;
  addMember(groupId: string, userId: string): unknown;
  removeMember(groupId: string, userId: string): unknown;
}

/**
 * Applies one plan operation through `target`. New users and groups are copied: the emulator keeps
 * and changes its own object, the plan stays as drawn.
 */
export function applyMutation(target: MutationTarget, m: Mutation): void {
  switch (m.op) {
    case 'addUser':
      target.addUser({ ...m.user });
      return;
    case 'updateUser':
      target.updateUser(m.id, m.patch);
      return;
    case 'removeUser':
      target.removeUser(m.id);
      return;
    case 'addGroup':
      target.addGroup({ ...m.group });
      return;
    case 'updateGroup':
      target.updateGroup(m.id, m.patch);
      return;
    case 'removeGroup':
      target.removeGroup(m.id);
      return;
    case 'setParent':
      target.moveGroup(m.id, m.parentId);
      return;
    case 'addMember':
      target.addMember(m.groupId, m.userId);
      return;
    case 'removeMember':
      target.removeMember(m.groupId, m.userId);
      return;
  }
}
