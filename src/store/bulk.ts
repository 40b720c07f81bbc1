/**
 * Bulk writes inside one transaction: statistics for tables a statement just filled, and inserting
 * into an empty table with its indexes built afterwards. Both exist for the first sync of a
 * directory, where apply inserts a hundred thousand users and a million memberships at once.
 */
import type pg from 'pg';

/**
 * Changed rows that make a table's statistics stale: autovacuum's default rule (50 rows plus 10% of
 * the rows the statistics know). A run changing 1% of a directory stays under it; a first sync
 * does not.
 */
const STALE_MIN_ROWS = 50;
const STALE_FRACTION = 0.1;

/**
 * ANALYZEs `table` (in the caller's transaction) when `changed` rows are many against what its
 * statistics know, or when it has none at all (never analysed: then any change counts, since the
 * planner's guesses for such a table are arbitrary, and analysing a small table takes milliseconds).
 * Later statements of the same transaction, and the next runs, plan with the new figures: without
 * them a join against a table that was empty when last analysed (or never was) is planned as a
 * million index probes instead of one hash join, and a five-group directory was estimated at two
 * rows, which made the next diff compare fifty thousand edges by nested loop.
 * The statistics commit or roll back with the transaction (the row count in pg_class is kept
 * either way; it only guides the planner). `columns` limits the column statistics to those the
 * joins need (the row count is always updated): a wide table's text columns cost most of an ANALYZE.
 */
export async function refreshStatistics(
  client: pg.PoolClient,
  table: string,
  changed: number,
  columns: readonly string[] = [],
): Promise<boolean> {
  if (changed <= 0) return false;
  const { rows } = await client.query<{ reltuples: number }>(
    'SELECT reltuples::float8 AS reltuples FROM pg_class WHERE oid = $1::regclass',
    [table],
  );
  // -1: never analysed nor vacuumed.
  const known = Number(rows[0]?.reltuples ?? -1);
  if (known >= 0 && changed < STALE_MIN_ROWS + STALE_FRACTION * known) return false;
  await client.query(`ANALYZE ${table}${columns.length > 0 ? ` (${columns.join(', ')})` : ''}`);
  return true;
}

/**
 * Runs `insert` (one statement filling `table`) and, when the table is empty and nobody else is
 * using it, does so without its indexes and builds them afterwards: one sorted build per index
 * instead of a million single insertions each, about half the time for a million rows.
 *
 * Only taken when the table has no row at all (so no other connector's data is locked out) and an
 * ACCESS EXCLUSIVE lock is free right now (NOWAIT: a reader in the middle of a request is never
 * waited for, the ordinary insert is used instead). The lock, the dropped indexes and the rebuilt
 * ones belong to the caller's transaction: a rollback restores the indexes as they were, and
 * readers of the table wait for the commit instead of seeing it without indexes. Unique indexes
 * check their rows when they are built, so a duplicate still fails the transaction.
 *
 * Returns whether the indexes were built afterwards.
 */
export async function insertIntoEmpty(
  client: pg.PoolClient,
  table: string,
  insert: () => Promise<unknown>,
): Promise<boolean> {
  if (!(await isEmpty(client, table))) {
    await insert();
    return false;
  }
  await client.query('SAVEPOINT dirsync_bulk');
  try {
    await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE NOWAIT`);
  } catch (e) {
    if ((e as { code?: string }).code !== '55P03') throw e;
    // lock_not_available: someone is reading the table; the savepoint drops the failed attempt.
    await client.query('ROLLBACK TO SAVEPOINT dirsync_bulk');
    await client.query('RELEASE SAVEPOINT dirsync_bulk');
    await insert();
    return false;
  }
  // Checked again under the lock: another connector's apply may have filled it meanwhile.
  if (!(await isEmpty(client, table))) {
    // Rolling back to the savepoint releases the lock taken after it.
    await client.query('ROLLBACK TO SAVEPOINT dirsync_bulk');
    await client.query('RELEASE SAVEPOINT dirsync_bulk');
    await insert();
    return false;
  }
  await client.query('RELEASE SAVEPOINT dirsync_bulk');
  // Indexes that back a constraint (primary key, UNIQUE constraint) stay: dropping them means
  // dropping the constraint. The definitions are read from the catalog, so the rebuilt indexes are
  // exactly the ones the migrations made.
  const { rows: indexes } = await client.query<{ name: string; def: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE i.indrelid = $1::regclass
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
      ORDER BY c.relname`,
    [table],
  );
  if (indexes.length > 0) await client.query(`DROP INDEX ${indexes.map((i) => i.name).join(', ')}`);
  await insert();
  for (const i of indexes) await client.query(i.def);
  return true;
}

async function isEmpty(client: pg.PoolClient, table: string): Promise<boolean> {
  const { rows } = await client.query<{ empty: boolean }>(
    `SELECT NOT EXISTS (SELECT 1 FROM ${table}) AS empty`,
  );
  return rows[0]?.empty === true;
}
