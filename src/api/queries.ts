/**
 * Read-side queries of the API and dashboard: run history, one run, its change log, and the
 * directory (users, groups, direct and effective memberships). Parameterised, paged, and bounded.
 */
import type pg from 'pg';
import { changedFields } from '../util/change-fields.js';
import { memberLabelsSql } from '../store/queries.js';

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

const iso = (v: unknown): string | null => (v ? new Date(v as string).toISOString() : null);

export interface RunRow {
  id: number;
  connector: string;
  kind: string;
  trigger: string;
  status: string;
  phase: string;
  dryRun: boolean;
  fullResync: boolean;
  /** How the run read the IdP (full, incremental, reevaluate; null for runs before incremental sync). */
  mode: string | null;
  /** Why it read that way (e.g. "reconcile due", "cursor expired or rejected: ..."). */
  modeReason: string | null;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  phaseMs: Record<string, number>;
  snapshot: Record<string, number>;
  counts: Record<string, Record<string, number>>;
  progress: unknown;
  requests: number;
  throttled: number;
  guard: unknown;
  errorCode: string | null;
  errorMessage: string | null;
  jobId: string | null;
  attempt: number | null;
  worker: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  /** When the run's change detail was pruned (`changeLog.retention`); null while it is kept. */
  changesPrunedAt: string | null;
}

const RUN_COLUMNS = `id, connector, kind, trigger, status, phase, dry_run, full_resync, mode, mode_reason, started_at, finished_at,
  phase_ms, snapshot, counts, progress, requests, throttled, guard, error_code, error_message, job_id, attempt,
  worker, resolved_at, resolved_by, changes_pruned_at,
  (extract(epoch FROM (coalesce(finished_at, CASE WHEN status = 'running' THEN now() END) - started_at)) * 1000)::bigint AS duration_ms`;

/** Phases of a held run's pipeline; the time it then waited for a person is not its duration. */
const WORK_ONLY = new Set(['needs_approval', 'approved', 'rejected']);

function toRun(r: Record<string, unknown>): RunRow {
  const phaseMs = (r.phase_ms ?? {}) as Record<string, number>;
  const work = Object.values(phaseMs).reduce((a, b) => a + Number(b || 0), 0);
  return {
    id: Number(r.id),
    connector: r.connector as string,
    kind: r.kind as string,
    trigger: r.trigger as string,
    status: r.status as string,
    phase: r.phase as string,
    dryRun: r.dry_run as boolean,
    fullResync: r.full_resync as boolean,
    mode: (r.mode as string | null) ?? null,
    modeReason: (r.mode_reason as string | null) ?? null,
    startedAt: iso(r.started_at) as string,
    finishedAt: iso(r.finished_at),
    durationMs: WORK_ONLY.has(r.status as string)
      ? work
      : r.duration_ms === null || r.duration_ms === undefined
        ? null
        : Number(r.duration_ms),
    phaseMs,
    snapshot: (r.snapshot ?? {}) as Record<string, number>,
    counts: (r.counts ?? {}) as Record<string, Record<string, number>>,
    progress: r.progress ?? null,
    requests: Number(r.requests ?? 0),
    throttled: Number(r.throttled ?? 0),
    guard: r.guard ?? null,
    errorCode: (r.error_code as string | null) ?? null,
    errorMessage: (r.error_message as string | null) ?? null,
    jobId: (r.job_id as string | null) ?? null,
    attempt: r.attempt === null || r.attempt === undefined ? null : Number(r.attempt),
    worker: (r.worker as string | null) ?? null,
    resolvedAt: iso(r.resolved_at),
    resolvedBy: (r.resolved_by as string | null) ?? null,
    changesPrunedAt: iso(r.changes_pruned_at),
  };
}

export interface RunFilter {
  connectors: string[];
  status?: string | undefined;
  limit: number;
  offset: number;
}

/** Run history, newest first. Only runs of configured connectors are listed. */
export async function listRuns(db: pg.Pool, f: RunFilter): Promise<Page<RunRow>> {
  const where = `connector = ANY($1::text[]) AND ($2::text IS NULL OR status = $2)`;
  const params = [f.connectors, f.status ?? null];
  const [{ rows }, count] = await Promise.all([
    db.query(`SELECT ${RUN_COLUMNS} FROM dirsync.runs WHERE ${where} ORDER BY id DESC LIMIT $3 OFFSET $4`, [
      ...params,
      f.limit,
      f.offset,
    ]),
    db.query<{ n: string }>(`SELECT count(*) AS n FROM dirsync.runs WHERE ${where}`, params),
  ]);
  return { items: rows.map(toRun), total: Number(count.rows[0]?.n ?? 0), limit: f.limit, offset: f.offset };
}

export async function getRun(db: pg.Pool, id: number): Promise<RunRow | null> {
  const { rows } = await db.query(`SELECT ${RUN_COLUMNS} FROM dirsync.runs WHERE id = $1`, [id]);
  return rows[0] ? toRun(rows[0]) : null;
}

/** The running runs and, per connector, whether a held run waits for approval. */
export async function liveRuns(db: pg.Pool, connectors: string[]): Promise<RunRow[]> {
  const { rows } = await db.query(
    `SELECT ${RUN_COLUMNS} FROM dirsync.runs
      WHERE connector = ANY($1::text[]) AND status IN ('running', 'needs_approval') ORDER BY id`,
    [connectors],
  );
  return rows.map(toRun);
}

/** A cheap fingerprint of the runs table for the live view: changes whenever any run moves. */
export async function runsFingerprint(db: pg.Pool, connectors: string[]): Promise<string> {
  const { rows } = await db.query<{ f: string | null }>(
    `SELECT coalesce(max(id), 0) || ':' || coalesce(string_agg(id || status || phase || coalesce(progress::text, ''), ',' ORDER BY id)
              FILTER (WHERE status IN ('running', 'needs_approval')), '') AS f
       FROM dirsync.runs WHERE connector = ANY($1::text[])`,
    [connectors],
  );
  return rows[0]?.f ?? '';
}

/** Durations and change counts of the last runs of a connector, oldest first, for the chart. */
export async function runTrend(db: pg.Pool, connector: string, limit = 30) {
  const { rows } = await db.query(
    `SELECT * FROM (SELECT ${RUN_COLUMNS}, figures FROM dirsync.runs WHERE connector = $1 AND status <> 'running'
        ORDER BY id DESC LIMIT $2) r ORDER BY id`,
    [connector, limit],
  );
  return rows.map((r) => {
    const run = toRun(r);
    const counts = run.counts as Record<string, Record<string, number> | undefined>;
    // Changes per operation across object types, for the stacked bars: create, update, deactivate, ...
    const byOperation: Record<string, number> = {};
    for (const ops of Object.values(counts)) {
      for (const [op, n] of Object.entries(ops ?? {}))
        byOperation[op] = (byOperation[op] ?? 0) + Number(n || 0);
    }
    const changes = Object.values(byOperation).reduce((a, b) => a + b, 0);
    const figures = r.figures as { users: number; active: number; groups: number } | null;
    return {
      id: run.id,
      status: run.status,
      dryRun: run.dryRun,
      startedAt: run.startedAt,
      durationMs: run.durationMs,
      changes,
      byOperation,
      /** The directory's size once the run was over (null for runs before this was recorded). */
      figures: figures
        ? { users: Number(figures.users), active: Number(figures.active), groups: Number(figures.groups) }
        : null,
    };
  });
}

/**
 * A held run's removals per group (memberships it would remove, largest first), for the chart that
 * shows where a suspicious run would cut.
 */
export async function removalsByGroup(db: pg.Pool, runId: number, limit = 12) {
  const { rows } = await db.query<{
    external_id: string;
    label: string | null;
    removals: string;
    members: string | null;
  }>(
    `SELECT c.external_id, c.label, sum(cardinality(c.member_ids)) AS removals,
            (SELECT count(*) FROM dirsync.group_members m JOIN dirsync.groups g ON g.id = m.group_id
              WHERE g.connector = r.connector AND g.external_id = c.external_id) AS members
       FROM dirsync.run_changes c JOIN dirsync.runs r ON r.id = c.run_id
      WHERE c.run_id = $1 AND c.object_type = 'membership' AND c.operation = 'remove'
      GROUP BY c.external_id, c.label, r.connector
      ORDER BY removals DESC, c.external_id LIMIT $2`,
    [runId, limit],
  );
  return rows.map((r) => ({
    externalId: r.external_id,
    label: r.label,
    removals: Number(r.removals),
    members: r.members === null ? null : Number(r.members),
  }));
}

/** Members listed per membership change row; the row says how many there are in all. */
export const MEMBERS_SHOWN = 200;

export interface ChangeFilter {
  object?: string | undefined;
  operation?: string | undefined;
  limit: number;
  offset: number;
}

export async function listChanges(db: pg.Pool, runId: number, f: ChangeFilter) {
  const where = `run_id = $1 AND ($2::text IS NULL OR object_type = $2) AND ($3::text IS NULL OR operation = $3)`;
  const params = [runId, f.object ?? null, f.operation ?? null];
  const [{ rows }, count, summary, run] = await Promise.all([
    db.query(
      `SELECT c.seq, c.object_type, c.operation, c.external_id, c.label, c.member_type, c.before, c.after,
              coalesce(cardinality(c.member_ids), 0) AS member_count,
              c.member_ids[1:${MEMBERS_SHOWN}] AS member_ids,
              (${memberLabelsSql('c', 'r.connector', `c.member_ids[1:${MEMBERS_SHOWN}]`)})[1:${MEMBERS_SHOWN}] AS member_labels
         FROM dirsync.run_changes c JOIN dirsync.runs r ON r.id = c.run_id
        WHERE c.run_id = $1 AND ($2::text IS NULL OR c.object_type = $2) AND ($3::text IS NULL OR c.operation = $3)
        ORDER BY c.seq LIMIT $4 OFFSET $5`,
      [...params, f.limit, f.offset],
    ),
    db.query<{ n: string }>(`SELECT count(*) AS n FROM dirsync.run_changes WHERE ${where}`, params),
    db.query<{ object_type: string; operation: string; n: string; rows: string }>(
      `SELECT object_type, operation, count(*) AS rows,
              sum(CASE WHEN object_type = 'membership' THEN coalesce(cardinality(member_ids), 0) ELSE 1 END) AS n
         FROM dirsync.run_changes WHERE run_id = $1 GROUP BY 1, 2 ORDER BY 1, 2`,
      [runId],
    ),
    db.query<{ pruned: Date | null }>('SELECT changes_pruned_at AS pruned FROM dirsync.runs WHERE id = $1', [
      runId,
    ]),
  ]);
  return {
    items: rows.map((r) => ({
      seq: Number(r.seq),
      object: r.object_type as string,
      operation: r.operation as string,
      externalId: r.external_id as string,
      label: r.label as string | null,
      memberType: r.member_type as string | null,
      /** Membership changes: one row per group and operation; the first members, and how many in all. */
      memberCount: Number(r.member_count),
      members: ((r.member_ids as string[] | null) ?? []).map((id, i) => ({
        externalId: id,
        label: (r.member_labels as (string | null)[] | null)?.[i] ?? null,
      })),
      before: r.before as Record<string, unknown> | null,
      after: r.after as Record<string, unknown> | null,
      /** The fields that changed, nested keys by dotted path (see util/change-fields.ts). */
      fields: changedFields(
        r.operation as string,
        r.before as Record<string, unknown> | null,
        r.after as Record<string, unknown> | null,
      ).map((f) => ({ field: f.field, before: f.before ?? null, after: f.after ?? null })),
    })),
    total: Number(count.rows[0]?.n ?? 0),
    limit: f.limit,
    offset: f.offset,
    /**
     * When the run's change detail was pruned (`changeLog.retention`): the list is then empty
     * because the detail is gone, not because nothing changed (the run's counts still say what did).
     */
    prunedAt: iso(run.rows[0]?.pruned),
    /** Per object and operation: changes (members, for memberships) and log rows (for the filter). */
    summary: summary.rows.map((s: { object_type: string; operation: string; n: string; rows: string }) => ({
      object: s.object_type,
      operation: s.operation,
      count: Number(s.n),
      rows: Number(s.rows),
    })),
  };
}

export async function listProblems(db: pg.Pool, runId: number, limit: number, offset: number) {
  const [{ rows }, count] = await Promise.all([
    db.query(
      `SELECT object_type, external_id, reason, action FROM dirsync.run_problems WHERE run_id = $1
        ORDER BY seq LIMIT $2 OFFSET $3`,
      [runId, limit, offset],
    ),
    db.query<{ n: string }>('SELECT count(*) AS n FROM dirsync.run_problems WHERE run_id = $1', [runId]),
  ]);
  return {
    items: rows.map((r) => ({
      object: r.object_type as string,
      externalId: r.external_id as string | null,
      reason: r.reason as string,
      action: r.action as string,
    })),
    total: Number(count.rows[0]?.n ?? 0),
    limit,
    offset,
  };
}

/** `%` and `_` in a search are literal. */
const like = (q: string | undefined) => (q ? `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null);

const USER_COLUMNS = `id, external_id, username, email, display_name, given_name, family_name, active, attributes,
  missing_since, created_at, updated_at, deactivated_at`;

function toUser(r: Record<string, unknown>) {
  return {
    externalId: r.external_id as string,
    username: r.username as string,
    email: (r.email as string | null) ?? null,
    displayName: (r.display_name as string | null) ?? null,
    givenName: (r.given_name as string | null) ?? null,
    familyName: (r.family_name as string | null) ?? null,
    active: r.active as boolean,
    attributes: (r.attributes ?? {}) as Record<string, unknown>,
    missingSince: iso(r.missing_since),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    deactivatedAt: iso(r.deactivated_at),
  };
}

export interface SearchFilter {
  q?: string | undefined;
  active?: boolean | undefined;
  limit: number;
  offset: number;
}

export async function searchUsers(db: pg.Pool, connector: string, f: SearchFilter) {
  const where = `connector = $1 AND ($2::text IS NULL OR username ILIKE $2 OR email ILIKE $2 OR display_name ILIKE $2
    OR external_id ILIKE $2) AND ($3::boolean IS NULL OR active = $3)`;
  const params = [connector, like(f.q), f.active ?? null];
  const [{ rows }, count] = await Promise.all([
    db.query(
      `SELECT ${USER_COLUMNS} FROM dirsync.users WHERE ${where} ORDER BY username_lower LIMIT $4 OFFSET $5`,
      [...params, f.limit, f.offset],
    ),
    db.query<{ n: string }>(`SELECT count(*) AS n FROM dirsync.users WHERE ${where}`, params),
  ]);
  return { items: rows.map(toUser), total: Number(count.rows[0]?.n ?? 0), limit: f.limit, offset: f.offset };
}

/** One user with the groups it is in directly and effectively (through nested groups). */
export async function getUser(db: pg.Pool, connector: string, externalId: string) {
  const { rows } = await db.query(
    `SELECT ${USER_COLUMNS} FROM dirsync.users WHERE connector = $1 AND external_id = $2`,
    [connector, externalId],
  );
  const row = rows[0];
  if (!row) return null;
  const { rows: groups } = await db.query(
    `SELECT g.external_id, g.name, g.local,
            EXISTS (SELECT 1 FROM dirsync.group_members m WHERE m.group_id = g.id AND m.user_id = $1) AS direct
       FROM dirsync.effective_group_members e JOIN dirsync.groups g ON g.id = e.group_id
      WHERE e.user_id = $1 ORDER BY lower(g.name)`,
    [row.id],
  );
  const mapped = groups.map((g) => ({
    externalId: g.external_id as string,
    name: g.name as string,
    local: g.local as boolean,
    direct: g.direct as boolean,
  }));
  return {
    ...toUser(row),
    groups: { direct: mapped.filter((g) => g.direct), effective: mapped },
  };
}

export async function searchGroups(db: pg.Pool, connector: string, f: SearchFilter) {
  const where = `g.connector = $1 AND ($2::text IS NULL OR g.name ILIKE $2 OR g.description ILIKE $2 OR g.external_id ILIKE $2)`;
  const params = [connector, like(f.q)];
  const [{ rows }, count] = await Promise.all([
    db.query(
      `SELECT g.external_id, g.name, g.description, g.local,
              (SELECT count(*) FROM dirsync.group_members m WHERE m.group_id = g.id AND m.user_id IS NOT NULL) AS users,
              (SELECT count(*) FROM dirsync.group_members m WHERE m.group_id = g.id AND m.member_group_id IS NOT NULL) AS subgroups
         FROM dirsync.groups g WHERE ${where} ORDER BY lower(g.name), g.id LIMIT $3 OFFSET $4`,
      [...params, f.limit, f.offset],
    ),
    db.query<{ n: string }>(`SELECT count(*) AS n FROM dirsync.groups g WHERE ${where}`, params),
  ]);
  return {
    items: rows.map((r) => ({
      externalId: r.external_id as string,
      name: r.name as string,
      description: (r.description as string | null) ?? null,
      local: r.local as boolean,
      directUsers: Number(r.users),
      subgroups: Number(r.subgroups),
    })),
    total: Number(count.rows[0]?.n ?? 0),
    limit: f.limit,
    offset: f.offset,
  };
}

/** One group: its direct members (paged), its subgroups and parents, and its effective size. */
export async function getGroup(
  db: pg.Pool,
  connector: string,
  externalId: string,
  members: { limit: number; offset: number; effective: boolean },
) {
  const { rows } = await db.query(
    `SELECT id, external_id, name, description, local, attributes, created_at, updated_at
       FROM dirsync.groups WHERE connector = $1 AND external_id = $2`,
    [connector, externalId],
  );
  const g = rows[0];
  if (!g) return null;
  const memberSql = members.effective
    ? `FROM dirsync.effective_group_members e JOIN dirsync.users u ON u.id = e.user_id WHERE e.group_id = $1`
    : `FROM dirsync.group_members m JOIN dirsync.users u ON u.id = m.user_id WHERE m.group_id = $1`;
  const [users, userCount, effectiveCount, subgroups, parents] = await Promise.all([
    db.query(
      `SELECT u.external_id, u.username, u.display_name, u.active ${memberSql}
               ORDER BY u.username_lower LIMIT $2 OFFSET $3`,
      [g.id, members.limit, members.offset],
    ),
    db.query<{ n: string }>(`SELECT count(*) AS n ${memberSql}`, [g.id]),
    db.query<{ n: string }>(`SELECT count(*) AS n FROM dirsync.effective_group_members WHERE group_id = $1`, [
      g.id,
    ]),
    db.query(
      `SELECT c.external_id, c.name FROM dirsync.group_members m JOIN dirsync.groups c ON c.id = m.member_group_id
        WHERE m.group_id = $1 ORDER BY lower(c.name)`,
      [g.id],
    ),
    db.query(
      `SELECT p.external_id, p.name FROM dirsync.group_members m JOIN dirsync.groups p ON p.id = m.group_id
        WHERE m.member_group_id = $1 ORDER BY lower(p.name)`,
      [g.id],
    ),
  ]);
  const ref = (r: Record<string, unknown>) => ({
    externalId: r.external_id as string,
    name: r.name as string,
  });
  return {
    externalId: g.external_id as string,
    name: g.name as string,
    description: (g.description as string | null) ?? null,
    local: g.local as boolean,
    attributes: (g.attributes ?? {}) as Record<string, unknown>,
    createdAt: iso(g.created_at),
    updatedAt: iso(g.updated_at),
    effectiveUsers: Number(effectiveCount.rows[0]?.n ?? 0),
    subgroups: subgroups.rows.map(ref),
    parents: parents.rows.map(ref),
    members: {
      effective: members.effective,
      items: users.rows.map((u) => ({
        externalId: u.external_id as string,
        username: u.username as string,
        displayName: (u.display_name as string | null) ?? null,
        active: u.active as boolean,
      })),
      total: Number(userCount.rows[0]?.n ?? 0),
      limit: members.limit,
      offset: members.offset,
    },
  };
}

/** Problems a worker recorded for connectors at its start (see jobs/health.ts), by connector. */
export async function loadConnectorProblems(
  db: pg.Pool,
  names: readonly string[],
): Promise<Map<string, { problems: { path: string; reason: string }[]; reportedAt: string }>> {
  const { rows } = await db.query<{
    connector: string;
    problems: { path: string; reason: string }[];
    reported_at: Date;
  }>(
    `SELECT connector, problems, reported_at FROM dirsync.connector_problems WHERE connector = ANY($1::text[])`,
    [names],
  );
  return new Map(
    rows.map((r) => [r.connector, { problems: r.problems, reportedAt: r.reported_at.toISOString() }]),
  );
}
