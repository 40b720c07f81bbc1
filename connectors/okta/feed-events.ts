/**
 * System Log events the change feed reads, parsed to what it needs. Targets are found by their
 * `type` (`User`, `UserGroup`), never by position: Okta does not keep target order stable.
 * https://developer.okta.com/docs/reference/api/event-types/
 */

/** The System Log event types the feed asks for (`filter=eventType eq ... or ...`). */
export const LOG_EVENT_TYPES = [
  'user.lifecycle.delete.completed',
  'group.lifecycle.delete',
  'group.user_membership.add',
  'group.user_membership.remove',
] as const;

/** Okta's type of the built-in `Everyone` group. */
export const EVERYONE_GROUP_TYPE = 'BUILT_IN';

export type FeedEvent =
  | { kind: 'user-deleted'; userId: string; published: number }
  | { kind: 'group-deleted'; groupId: string; published: number }
  | { kind: 'member-added' | 'member-removed'; groupId: string; userId: string; published: number };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function targetId(targets: unknown[], type: string): string | null {
  for (const t of targets) {
    if (isObj(t) && t.type === type && typeof t.id === 'string' && t.id !== '') return t.id;
  }
  return null;
}

/**
 * The feed's view of one LogEvent, or null for an event it does not use (another type, a failed
 * outcome, missing targets). A malformed event is skipped rather than fatal: when it was the
 * group's last change, the group's `lastMembershipUpdated` lies after its last usable event and
 * the feed re-reads the group's member list.
 */
export function parseLogEvent(raw: unknown): FeedEvent | null {
  if (!isObj(raw) || typeof raw.eventType !== 'string') return null;
  const outcome = isObj(raw.outcome) ? raw.outcome.result : 'SUCCESS';
  if (outcome !== undefined && outcome !== 'SUCCESS') return null;
  const published = typeof raw.published === 'string' ? Date.parse(raw.published) : Number.NaN;
  if (!Number.isFinite(published)) return null;
  const targets = Array.isArray(raw.target) ? raw.target : [];
  switch (raw.eventType) {
    case 'user.lifecycle.delete.completed': {
      const userId = targetId(targets, 'User');
      return userId ? { kind: 'user-deleted', userId, published } : null;
    }
    case 'group.lifecycle.delete': {
      const groupId = targetId(targets, 'UserGroup');
      return groupId ? { kind: 'group-deleted', groupId, published } : null;
    }
    case 'group.user_membership.add':
    case 'group.user_membership.remove': {
      const userId = targetId(targets, 'User');
      const groupId = targetId(targets, 'UserGroup');
      if (!userId || !groupId) return null;
      const kind = raw.eventType === 'group.user_membership.add' ? 'member-added' : 'member-removed';
      return { kind, groupId, userId, published };
    }
    default:
      return null;
  }
}
