/**
 * The deletion guard. An IdP that answers with partial data looks exactly like a mass off-boarding;
 * rather than guess, a run that would remove more than the configured limits is held for a person
 * to approve. An empty result against a populated directory is always held.
 *
 * What counts as a removal:
 * - users: deactivated (missing from the snapshot, or active → inactive for any reason: disabled,
 *   suspended, ...) or deleted (only the first time: a user deleted after its grace period was
 *   already counted when it went missing);
 * - groups: deleted; memberships: removed direct edges.
 *
 * Limits per kind: more than `maxCount` removals holds the run; so does more than `maxPercent` of
 * what the directory holds, once the run removes at least `minRemovals` of that kind (fewer removals
 * than `minRemovals` never trip a percentage: one leaver in a directory of five is not an incident).
 * For users, "what the directory holds" is what a run can take away: its active users, plus the
 * inactive ones this run removes. Counting every present user instead let accounts that were
 * already disabled dilute a mass suspension: with 178 of 200 users suspended, suspending 19 of the
 * 22 left was "9.5%" and applied (the fault soak found it).
 * Per group: a group of at least `groupMembers.minMembers` direct members losing more than
 * `groupMembers.maxPercent` of them holds the run, however small that is against all memberships
 * (a group that is deleted is left to the groups limit).
 * A snapshot with unreadable records of a kind (no id, wrongly typed fields) may lack objects of
 * that kind, so absence proves nothing: any removal of that kind holds the run.
 */
import type { ConnectorConfig } from '../../config/schema.js';
import type { DiffResult } from './diff.js';

export interface GuardTrip {
  kind: 'users' | 'groups' | 'memberships' | 'empty' | 'group';
  removals: number;
  existing: number;
  /** Human-readable rule that tripped, e.g. "more than 10% of 32 (31.3%)". */
  rule: string;
  /** For `kind: 'group'`: the group's external id. */
  group?: string;
}

const pct = (part: number, whole: number) => ((part * 100) / whole).toFixed(1);
const usersOf = (inactive: number) =>
  inactive > 0 ? ` users (the active ones, and ${inactive} inactive this run removes)` : ' active users';

export function evaluateGuard(diff: DiffResult, finalUsers: number, cfg: ConnectorConfig): GuardTrip[] {
  const trips: GuardTrip[] = [];
  const g = cfg.guard;
  if (finalUsers === 0 && diff.existing.users > 0) {
    trips.push({
      kind: 'empty',
      removals: diff.userRemovals,
      existing: diff.existing.users,
      rule: 'the snapshot (after filters) has no users but the directory has',
    });
  }
  const inactive = diff.inactiveUserRemovals;
  const usersBase = diff.existing.activeUsers + inactive;
  for (const [kind, removals, existing, limit] of [
    ['users', diff.userRemovals, usersBase, g.users],
    ['groups', diff.groupRemovals, diff.existing.groups, g.groups],
    ['memberships', diff.membershipRemovals, diff.existing.memberships, g.memberships],
  ] as const) {
    const unreadable = diff.unreadable[kind];
    if (removals > limit.maxCount) {
      trips.push({ kind, removals, existing, rule: `more than ${limit.maxCount} removals` });
    } else if (removals >= g.minRemovals && existing > 0 && (removals * 100) / existing > limit.maxPercent) {
      trips.push({
        kind,
        removals,
        existing,
        rule: `more than ${limit.maxPercent}% of ${existing}${kind === 'users' ? usersOf(inactive) : ''} (${pct(removals, existing)}%)`,
      });
    } else if (unreadable && removals > 0) {
      trips.push({
        kind,
        removals,
        existing,
        rule:
          `the snapshot has ${unreadable.records} ${kind === 'memberships' ? 'membership' : kind.slice(0, -1)} ` +
          `record(s) that could not be read (e.g. ${unreadable.example}), so it may be incomplete: ` +
          `no ${kind === 'memberships' ? 'membership' : kind.slice(0, -1)} is removed without approval`,
      });
    }
  }
  const gm = g.groupMembers;
  for (const loss of diff.groupLosses) {
    if (loss.members >= gm.minMembers && (loss.removed * 100) / loss.members > gm.maxPercent) {
      trips.push({
        kind: 'group',
        group: loss.group,
        removals: loss.removed,
        existing: loss.members,
        rule: `group ${loss.name} (${loss.group}) loses more than ${gm.maxPercent}% of its ${loss.members} members (${pct(loss.removed, loss.members)}%)`,
      });
    }
  }
  return trips;
}
