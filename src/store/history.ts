/**
 * Everything that happened to one user or group, across runs: created, renamed, deactivated,
 * added to or removed from a group (as the member, or as the group), with the run that did it,
 * when, and why (the run's trigger, a deactivation's cause). For a deactivated user who left the
 * IdP, also when it will be deleted.
 */
import type pg from 'pg';
import { changedFields, type FieldChange } from '../util/change-fields.js';

export interface HistoryEntry {
  runId: number;
  at: string;
  trigger: string;
  /** The run's status now: a held run's changes were not applied unless it was approved. */
  runStatus: string;
  object: 'user' | 'group' | 'membership';
  operation: string;
  /** For membership rows: the group (when the subject is the member) or the member (when it is the group). */
  other: { type: 'user' | 'group'; externalId: string; label: string | null } | null;
  /** Membership rows of a group's own history: how many members of which type were added or removed. */
  members?: number;
  memberType?: 'user' | 'group' | null;
  /** Why, in words, where the log says more than the operation. */
  why: string | null;
  fields: FieldChange[];
}

export interface ObjectHistory {
  type: 'user' | 'group';
  externalId: string;
  label: string;
  /** Users: active now; null for groups. */
  active: boolean | null;
  /** A deactivated user who left the IdP: when the grace period ends (null: never, or not missing). */
  deletionDueAt: string | null;
  /**
   * The change detail of this connector's runs up to this time was pruned (`changeLog.retention`):
   * the entries start after it, and older changes are not known. Null when nothing was pruned.
   */
  prunedBefore: string | null;
  entries: HistoryEntry[];
}

function why(object: string, operation: string, after: Record<string, unknown> | null): string | null {
  if (object === 'user' && operation === 'deactivate')
    return after?.missing === true
      ? 'no longer returned by the identity provider'
      : 'disabled in the identity provider';
  if (object === 'user' && operation === 'delete')
    return 'the grace period after leaving the identity provider ended';
  if (object === 'user' && operation === 'reactivate') return 'enabled in, or back in, the identity provider';
  if (object === 'group' && operation === 'delete') return 'no longer returned by the identity provider';
  return null;
}

/**
 * Finds a user (by external id or username, case-insensitively) or a group (by external id or
 * name) of `connector` and returns its history, newest first. `deleteAfterMs` is the connector's
 * grace period (-1: never). Null when nothing of that name exists or ever existed in the log.
 */
export async function objectHistory(
  db: pg.Pool,
  connector: string,
  ref: string,
  opts: { type?: 'user' | 'group'; deleteAfterMs: number; limit?: number },
): Promise<ObjectHistory | null> {
  const limit = opts.limit ?? 500;
  const found = await db.query<{
    type: 'user' | 'group';
    external_id: string;
    label: string;
    active: boolean | null;
    missing_since: Date | null;
  }>(
    `SELECT * FROM (
       SELECT 'user' AS type, external_id, username AS label, active, missing_since, 0 AS rank
         FROM dirsync.users WHERE connector = $1 AND (external_id = $2 OR lower(username) = lower($2))
       UNION ALL
       SELECT 'group', external_id, name, NULL::boolean, NULL::timestamptz, 1
         FROM dirsync.groups WHERE connector = $1 AND (external_id = $2 OR lower(name) = lower($2))
       UNION ALL
       -- Gone from the directory (deleted): the log still knows it.
       (SELECT c.object_type, c.external_id, coalesce(c.label, c.external_id), NULL::boolean, NULL::timestamptz, 2
          FROM dirsync.run_changes c JOIN dirsync.runs r ON r.id = c.run_id
         WHERE r.connector = $1 AND c.object_type IN ('user', 'group')
           AND (c.external_id = $2 OR lower(c.label) = lower($2))
         ORDER BY c.run_id DESC LIMIT 1)
     ) x WHERE $3::text IS NULL OR type = $3 ORDER BY rank LIMIT 1`,
    [connector, ref, opts.type ?? null],
  );
  const subject = found.rows[0];
  if (!subject) return null;
  const pruned = await db.query<{ before: Date | null }>(
    `SELECT max(finished_at) AS before FROM dirsync.runs WHERE connector = $1 AND changes_pruned_at IS NOT NULL`,
    [connector],
  );
  const { rows } = await db.query<{
    run_id: string;
    at: Date;
    trigger: string;
    status: string;
    object_type: 'user' | 'group' | 'membership';
    operation: string;
    external_id: string;
    label: string | null;
    member_type: 'user' | 'group' | null;
    before: Record<string, unknown> | null;
    after: Record<string, unknown> | null;
    members: number;
  }>(
    `SELECT c.run_id, coalesce(r.finished_at, r.started_at) AS at, r.trigger, r.status, c.object_type, c.operation,
            c.external_id, c.label, c.member_type, c.before, c.after,
            coalesce(cardinality(c.member_ids), 0) AS members
       FROM dirsync.run_changes c JOIN dirsync.runs r ON r.id = c.run_id
      WHERE r.connector = $1 AND NOT r.dry_run
        AND ((c.object_type = $2 AND c.external_id = $3)
             OR (c.object_type = 'membership' AND $2 = 'group' AND c.external_id = $3)
             OR (c.object_type = 'membership' AND c.member_type = $2 AND $3 = ANY (c.member_ids)))
      ORDER BY c.run_id DESC, c.seq DESC LIMIT $4`,
    [connector, subject.type, subject.external_id, limit],
  );
  const entries: HistoryEntry[] = rows.map((r) => {
    let other: HistoryEntry['other'] = null;
    if (r.object_type === 'membership') {
      // The subject is the group: the other side is "some members" (the row lists them all);
      // the subject is a member: the other side is the group.
      other =
        subject.type === 'group' && r.external_id === subject.external_id
          ? null
          : { type: 'group', externalId: r.external_id, label: r.label };
    }
    return {
      runId: Number(r.run_id),
      at: r.at.toISOString(),
      trigger: r.trigger,
      runStatus: r.status,
      object: r.object_type,
      operation: r.operation,
      other,
      ...(r.object_type === 'membership' && !other
        ? { members: Number(r.members), memberType: r.member_type }
        : {}),
      why: why(r.object_type, r.operation, r.after),
      fields: changedFields(r.operation, r.before, r.after),
    };
  });
  const deletionDueAt =
    subject.type === 'user' && subject.missing_since && opts.deleteAfterMs >= 0
      ? new Date(subject.missing_since.getTime() + opts.deleteAfterMs).toISOString()
      : null;
  return {
    type: subject.type,
    externalId: subject.external_id,
    label: subject.label,
    active: subject.active,
    deletionDueAt,
    prunedBefore: pruned.rows[0]?.before?.toISOString() ?? null,
    entries,
  };
}
