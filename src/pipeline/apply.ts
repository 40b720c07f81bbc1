/**
 * Apply: executes a run's diff tables against the directory in ONE transaction, under the
 * connector's advisory lock, after checking that the directory is still the one the diff was
 * computed against. Either every change lands, with its change log and run status, or none does.
 */
import type pg from 'pg';
import { DirsyncError } from '../errors.js';
import { insertIntoEmpty, refreshStatistics } from '../store/bulk.js';
import type { ChangeCounts } from './diff.js';
import { MAX_NESTING_DEPTH } from './nesting.js';
import type { StageTables } from './stage.js';

/**
 * Namespaces of the two-key advisory locks (pg_advisory_*lock(int, int)), keyed by connector:
 * RUN_LOCK is held for a whole run or approval (single flight), APPLY_LOCK for the apply transaction.
 */
export const RUN_LOCK = 0x445352; // "DSR"
export const APPLY_LOCK = 0x445341; // "DSA"

export const lockKeySql = `hashtext('dirsync:' || $1)`;

export interface ApplyOptions {
  connector: string;
  kind: string;
  runId: number;
  baseVersion: number;
  /** Connector state to store with the apply (incremental sync cursors). */
  cursor?: unknown;
  /** Fingerprint of the snapshot this apply makes the directory equal to (see unchanged.ts). */
  fingerprint?: string;
  /**
   * What the diff tables hold, as diff.ts counted them: statements with nothing to do are skipped
   * (each would scan a diff table of up to a million rows to find nothing). Omitted: every
   * statement runs.
   */
  counts?: ChangeCounts;
  /** Runs inside the transaction before any change: records the change log (labels of removed objects still exist). */
  record: (client: pg.PoolClient) => Promise<void>;
  /** Runs inside the transaction just before COMMIT: the run status. */
  finish: (client: pg.PoolClient) => Promise<void>;
}

/** Ensures the directory row exists and returns its version (0 for a new directory). */
export async function directoryVersion(
  db: pg.Pool | pg.PoolClient,
  connector: string,
  kind: string,
): Promise<number> {
  const { rows } = await db.query<{ version: string }>(
    `INSERT INTO dirsync.directories (connector, kind) VALUES ($1, $2)
     ON CONFLICT (connector) DO UPDATE SET kind = EXCLUDED.kind
     RETURNING version`,
    [connector, kind],
  );
  return Number(rows[0]?.version ?? 0);
}

/** Counts that make every statement run (a caller that does not know them). */
const ALL: ChangeCounts = {
  users: { create: 1, update: 1, deactivate: 1, reactivate: 1, delete: 1 },
  groups: { create: 1, update: 1, delete: 1 },
  memberships: { add: 1, remove: 1 },
};

/**
 * Whether `x` (a run's stored counts) has every count apply skips statements by; counts of runs
 * held by an older version may not, and then every statement runs.
 */
export function isChangeCounts(x: unknown): x is ChangeCounts {
  const o = x as Record<string, Record<string, unknown> | undefined> | null;
  return (Object.keys(ALL) as (keyof ChangeCounts)[]).every((kind) =>
    Object.keys(ALL[kind]).every((op) => typeof o?.[kind]?.[op] === 'number'),
  );
}

/** Rows from which an insert into an empty table builds its indexes afterwards (see bulk.ts). */
export const BULK_ROWS = 10_000;

export async function applyDiff(pool: pg.Pool, t: StageTables, opts: ApplyOptions): Promise<void> {
  const client = await pool.connect();
  const c = opts.connector;
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(${APPLY_LOCK}, ${lockKeySql})`, [c]);
    await client.query('SET CONSTRAINTS dirsync.users_username_unique DEFERRED');
    const { rows } = await client.query<{ version: string }>(
      'SELECT version FROM dirsync.directories WHERE connector = $1 FOR UPDATE',
      [c],
    );
    const version = Number(rows[0]?.version ?? -1);
    if (version !== opts.baseVersion) {
      throw new DirsyncError(
        'DIRSYNC_E_DIRECTORY_MOVED',
        `directory ${c} is at version ${version}, the changes were computed against ${opts.baseVersion}`,
      );
    }

    await opts.record(client);

    // Unknown counts: assume every kind of change is there.
    const n = opts.counts ?? ALL;
    const u = n.users;

    // Users. Deletes first, so a new user may take a deleted user's name in the same run.
    if (u.delete > 0) {
      await client.query(
        `DELETE FROM dirsync.users u USING ${t.diffUsers} d WHERE d.op = 'delete' AND u.id = d.id`,
      );
    }
    if (u.update + u.deactivate + u.reactivate > 0) {
      await client.query(
        `UPDATE dirsync.users u
            SET username = d.username, username_key = d.username_key, username_skeleton = d.username_skeleton,
                email = d.email, display_name = d.display_name, given_name = d.given_name,
                family_name = d.family_name, active = d.active, attributes = d.attributes,
                missing_since = CASE WHEN d.missing THEN coalesce(u.missing_since, now()) ELSE NULL END,
                deactivated_at = CASE WHEN d.active THEN NULL WHEN u.active THEN now() ELSE u.deactivated_at END,
                updated_at = now()
           FROM ${t.diffUsers} d
          WHERE d.op IN ('update', 'deactivate', 'reactivate') AND u.id = d.id`,
      );
    }
    if (u.create > 0) {
      const addUsers = () =>
        client.query(
          `INSERT INTO dirsync.users (connector, external_id, username, username_key, username_skeleton, email,
                                      display_name, given_name, family_name, active, attributes, deactivated_at)
           SELECT $1, external_id, username, username_key, username_skeleton, email, display_name, given_name,
                  family_name, active, attributes,
                  CASE WHEN active THEN NULL ELSE now() END
             FROM ${t.diffUsers} WHERE op = 'create'`,
          [c],
        );
      // A first sync into an empty table builds the indexes that back no constraint afterwards.
      if (u.create >= BULK_ROWS) await insertIntoEmpty(client, 'dirsync.users', addUsers);
      else await addUsers();
    }

    // Groups. A created group gets its member-set digest (see diff.ts) with the insert: setting it
    // afterwards would write every new group twice.
    // Whether a deleted group took part in nesting is asked before the delete cascades.
    let nestedGone = false;
    if (n.groups.delete > 0) {
      const { rows: gone } = await client.query<{ nested: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM ${t.diffGroups} d JOIN dirsync.group_members m ON m.group_id = d.id
                         WHERE d.op = 'delete' AND m.member_group_id IS NOT NULL)
             OR EXISTS (SELECT 1 FROM ${t.diffGroups} d JOIN dirsync.group_members m ON m.member_group_id = d.id
                         WHERE d.op = 'delete') AS nested`,
      );
      nestedGone = gone[0]?.nested ?? true;
      await client.query(
        `DELETE FROM dirsync.groups g USING ${t.diffGroups} d WHERE d.op = 'delete' AND g.id = d.id`,
      );
    }
    if (n.groups.update > 0) {
      await client.query(
        `UPDATE dirsync.groups g SET name = d.name, description = d.description, attributes = d.attributes,
                local = d.local, updated_at = now()
           FROM ${t.diffGroups} d WHERE d.op = 'update' AND g.id = d.id`,
      );
    }
    if (n.groups.create > 0) {
      await client.query(
        `INSERT INTO dirsync.groups (connector, external_id, name, description, attributes, local, members_digest)
         SELECT $1, d.external_id, d.name, d.description, d.attributes, d.local,
                CASE WHEN dd.tainted THEN NULL ELSE dd.digest END
           FROM ${t.diffGroups} d LEFT JOIN ${t.diffDigests} dd ON dd.group_id = d.external_id
          WHERE d.op = 'create'`,
        [c],
      );
    }
    // The memberships below resolve external ids against users and groups: after a first sync's
    // hundred thousand inserts, the statistics still describe empty tables.
    await refreshStatistics(client, 'dirsync.users', u.create, ['connector', 'external_id']);
    await refreshStatistics(client, 'dirsync.groups', n.groups.create, ['connector', 'external_id']);

    // Memberships: removals by primary keys (rows of deleted objects are already gone by cascade),
    // additions resolved to the ids that now exist.
    const m = n.memberships;
    if (m.remove > 0) {
      await client.query(
        `DELETE FROM dirsync.group_members m USING ${t.diffEdges} d
          WHERE d.op = 'remove' AND NOT d.member_is_group AND m.group_id = d.group_pk AND m.user_id = d.member_pk`,
      );
      await client.query(
        `DELETE FROM dirsync.group_members m USING ${t.diffEdges} d
          WHERE d.op = 'remove' AND d.member_is_group AND m.group_id = d.group_pk AND m.member_group_id = d.member_pk`,
      );
    }
    if (m.add > 0) {
      const addEdges = async () => {
        await client.query(
          `INSERT INTO dirsync.group_members (group_id, user_id)
           SELECT g.id, u.id
             FROM ${t.diffEdges} d
             JOIN dirsync.groups g ON g.connector = $1 AND g.external_id = d.group_id
             JOIN dirsync.users u ON u.connector = $1 AND u.external_id = d.member_id
            WHERE d.op = 'add' AND NOT d.member_is_group
            -- In index order: a million index insertions in key order touch each page once (and
            -- without indexes, each group's members land together in the heap).
            ORDER BY g.id, u.id`,
          [c],
        );
        await client.query(
          `INSERT INTO dirsync.group_members (group_id, member_group_id)
           SELECT g.id, mg.id
             FROM ${t.diffEdges} d
             JOIN dirsync.groups g ON g.connector = $1 AND g.external_id = d.group_id
             JOIN dirsync.groups mg ON mg.connector = $1 AND mg.external_id = d.member_id
            WHERE d.op = 'add' AND d.member_is_group`,
          [c],
        );
      };
      // A first sync into an empty table builds the indexes after the rows (see bulk.ts).
      if (m.add >= BULK_ROWS) await insertIntoEmpty(client, 'dirsync.group_members', addEdges);
      else await addEdges();
      // For the closure below and the next run's check and diff.
      await refreshStatistics(client, 'dirsync.group_members', m.add, [
        'group_id',
        'user_id',
        'member_group_id',
      ]);
    }

    // Member-set digests of the groups whose members changed (see diff.ts); created groups got
    // theirs with the insert.
    await client.query(
      `UPDATE dirsync.groups g SET members_digest = d.new_digest
         FROM (SELECT group_id, CASE WHEN tainted THEN NULL ELSE digest END AS new_digest FROM ${t.diffDigests}) d
        WHERE g.connector = $1 AND g.external_id = d.group_id
          AND g.members_digest IS DISTINCT FROM d.new_digest`,
      [c],
    );

    // Nesting closure: rebuilt when nesting changed (groups x depth rows). A group created outside
    // any nesting only adds its own row, and a deleted one outside nesting takes its own rows with
    // it (cascade): an incremental run that creates a group does not rebuild the whole closure.
    const { rows: nest } = await client.query<{ changed: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM ${t.diffEdges} WHERE member_is_group) AS changed`,
    );
    if (nest[0]?.changed || nestedGone) await rebuildClosure(client, c);
    else {
      await client.query(
        `INSERT INTO dirsync.group_closure (connector, ancestor_id, descendant_id, depth)
         SELECT $1, g.id, g.id, 0 FROM ${t.diffGroups} d
           JOIN dirsync.groups g ON g.connector = $1 AND g.external_id = d.external_id
          WHERE d.op = 'create'`,
        [c],
      );
    }

    await client.query(
      `UPDATE dirsync.directories SET version = version + 1, updated_at = now(), last_success_at = now(),
              cursor = coalesce($2::jsonb, cursor),
              snapshot_fingerprint = $3, fingerprint_run_id = $4, fingerprint_version = version + 1
        WHERE connector = $1`,
      [
        c,
        opts.cursor === undefined ? null : JSON.stringify(opts.cursor),
        opts.fingerprint ?? null,
        opts.runId,
      ],
    );
    await opts.finish(client);
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    if (e instanceof DirsyncError) throw e;
    throw new DirsyncError('DIRSYNC_E_APPLY_FAILED', (e as Error).message, { cause: e });
  } finally {
    client.release();
  }
}

/**
 * Recomputes the reflexive-transitive nesting closure of one directory. Cycle-safe (UNION). Check
 * holds nesting deeper than MAX_NESTING_DEPTH (nesting.ts), so the depth bound only stops edges
 * kept from before that rule from making the recursion run long.
 */
export async function rebuildClosure(client: pg.PoolClient, connector: string): Promise<void> {
  await client.query('DELETE FROM dirsync.group_closure WHERE connector = $1', [connector]);
  await client.query(
    `INSERT INTO dirsync.group_closure (connector, ancestor_id, descendant_id, depth)
     WITH RECURSIVE nest AS (
       SELECT m.group_id AS parent, m.member_group_id AS child
         FROM dirsync.group_members m JOIN dirsync.groups g ON g.id = m.group_id
        WHERE g.connector = $1 AND m.member_group_id IS NOT NULL
     ),
     closure(ancestor, descendant, depth) AS (
       SELECT id, id, 0 FROM dirsync.groups WHERE connector = $1
       UNION
       SELECT c.ancestor, n.child, c.depth + 1 FROM closure c JOIN nest n ON n.parent = c.descendant WHERE c.depth < ${MAX_NESTING_DEPTH}
     )
     SELECT $1, ancestor, descendant, min(depth) FROM closure GROUP BY ancestor, descendant`,
    [connector],
  );
}
