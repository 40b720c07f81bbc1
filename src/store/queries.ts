/** Read-side queries shared by the CLI (and later the API). */
import type pg from 'pg';

export interface ConnectorStatus {
  connector: string;
  kind: string | null;
  users: number;
  activeUsers: number;
  groups: number;
  lastRun: {
    id: number;
    status: string;
    trigger: string;
    dryRun: boolean;
    /** How the run read the IdP (full, incremental, reevaluate) and why. */
    mode: string | null;
    modeReason: string | null;
    startedAt: string;
    finishedAt: string | null;
    counts: unknown;
    errorCode: string | null;
    errorMessage: string | null;
  } | null;
  lastSuccessAt: string | null;
}

export async function connectorStatuses(db: pg.Pool, names: string[]): Promise<ConnectorStatus[]> {
  const { rows } = await db.query(
    `SELECT n.name AS connector, d.kind, d.last_success_at,
            (SELECT count(*) FROM dirsync.users u WHERE u.connector = n.name) AS users,
            (SELECT count(*) FROM dirsync.users u WHERE u.connector = n.name AND u.active) AS active_users,
            (SELECT count(*) FROM dirsync.groups g WHERE g.connector = n.name) AS groups,
            r.id AS run_id, r.status, r.trigger, r.dry_run, r.mode, r.mode_reason, r.started_at, r.finished_at, r.counts, r.error_code, r.error_message
       FROM unnest($1::text[]) WITH ORDINALITY AS n(name, ord)
       LEFT JOIN dirsync.directories d ON d.connector = n.name
       LEFT JOIN LATERAL (SELECT * FROM dirsync.runs r WHERE r.connector = n.name ORDER BY r.id DESC LIMIT 1) r ON true
      ORDER BY n.ord`,
    [names],
  );
  return rows.map((r) => ({
    connector: r.connector,
    kind: r.kind,
    users: Number(r.users),
    activeUsers: Number(r.active_users),
    groups: Number(r.groups),
    lastSuccessAt: r.last_success_at ? new Date(r.last_success_at).toISOString() : null,
    lastRun: r.run_id
      ? {
          id: Number(r.run_id),
          status: r.status,
          trigger: r.trigger,
          dryRun: r.dry_run,
          mode: r.mode ?? null,
          modeReason: r.mode_reason ?? null,
          startedAt: new Date(r.started_at).toISOString(),
          finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
          counts: r.counts,
          errorCode: r.error_code,
          errorMessage: r.error_message,
        }
      : null,
  }));
}

export interface ChangeRow {
  object_type: string;
  operation: string;
  external_id: string;
  label: string | null;
  member_type: string | null;
  /** Membership changes: the members added to or removed from the group. */
  member_ids: string[] | null;
  member_labels: (string | null)[] | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

/**
 * SQL for the member names of a membership change row `c` of connector `connectorSql`: removals
 * carry the names from before the run; added members' names are not stored (see record.ts) and
 * come from the directory, where they exist once the run applied.
 */
export function memberLabelsSql(c: string, connectorSql: string, ids = `${c}.member_ids`): string {
  return `coalesce(${c}.member_labels, (
    SELECT array_agg(coalesce(u.username, g.name) ORDER BY i.ord)
      FROM unnest(${ids}) WITH ORDINALITY AS i(id, ord)
      LEFT JOIN dirsync.users u ON ${c}.member_type = 'user' AND u.connector = ${connectorSql} AND u.external_id = i.id
      LEFT JOIN dirsync.groups g ON ${c}.member_type = 'group' AND g.connector = ${connectorSql} AND g.external_id = i.id))`;
}

export async function runChanges(db: pg.Pool, runId: number, limit = 1000, offset = 0): Promise<ChangeRow[]> {
  const { rows } = await db.query<ChangeRow>(
    `SELECT c.object_type, c.operation, c.external_id, c.label, c.member_type, c.member_ids,
            ${memberLabelsSql('c', 'r.connector')} AS member_labels, c.before, c.after
       FROM dirsync.run_changes c JOIN dirsync.runs r ON r.id = c.run_id
      WHERE c.run_id = $1 ORDER BY c.seq LIMIT $2 OFFSET $3`,
    [runId, limit, offset],
  );
  return rows;
}

export async function runProblems(db: pg.Pool, runId: number, limit = 100) {
  const { rows } = await db.query<{
    object_type: string;
    external_id: string | null;
    reason: string;
    action: string;
  }>(
    `SELECT object_type, external_id, reason, action FROM dirsync.run_problems WHERE run_id = $1 ORDER BY seq LIMIT $2`,
    [runId, limit],
  );
  return rows;
}

/** When a run's change detail was pruned (`changeLog.retention`); null while it is kept. */
export async function changesPrunedAt(db: pg.Pool, runId: number): Promise<Date | null> {
  const { rows } = await db.query<{ at: Date | null }>(
    'SELECT changes_pruned_at AS at FROM dirsync.runs WHERE id = $1',
    [runId],
  );
  return rows[0]?.at ?? null;
}

/** Whether a run of that id exists (a CLI asking about run 999 gets an error, not an empty list). */
export async function runExists(db: pg.Pool, runId: number): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM dirsync.runs WHERE id = $1', [runId]);
  return rows.length > 0;
}
