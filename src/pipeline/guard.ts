/**
 * The deletion guard. An IdP that answers with partial data looks exactly like a mass off-boarding;
 * rather than guess, a run that would remove more than the configured limits is held for a person
 * to approve. An empty result against a populated directory is always held.
 */
import type { ConnectorConfig } from '../../config/schema.js';
import type { DiffResult } from './diff.js';

export interface GuardTrip {
  kind: 'users' | 'groups' | 'memberships' | 'empty';
  removals: number;
  existing: number;
  /** Human-readable rule that tripped, e.g. "more than 10% (limit applies above 10 removals)". */
  rule: string;
}

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
  for (const [kind, removals, existing, limit] of [
    ['users', diff.userRemovals, diff.existing.users, g.users],
    ['groups', diff.groupRemovals, diff.existing.groups, g.groups],
    ['memberships', diff.membershipRemovals, diff.existing.memberships, g.memberships],
  ] as const) {
    if (removals > limit.maxCount) {
      trips.push({ kind, removals, existing, rule: `more than ${limit.maxCount} removals` });
    } else if (removals > g.minRemovals && existing > 0 && (removals * 100) / existing > limit.maxPercent) {
      trips.push({
        kind,
        removals,
        existing,
        rule: `more than ${limit.maxPercent}% of ${existing} (${((removals * 100) / existing).toFixed(1)}%)`,
      });
    }
  }
  return trips;
}
