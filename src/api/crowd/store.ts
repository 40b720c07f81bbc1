/**
 * What an application sees of the directory, read in one consistent state.
 *
 * Every answer runs in one REPEATABLE READ, READ ONLY transaction: an apply is one transaction, so an
 * answer sees a directory either wholly before or wholly after it, never half of it. Streamed
 * answers (lists, the membership document) keep that transaction, and read through a cursor (a
 * page of at most 1,000 rows in one statement), so memory stays flat whatever the size of the
 * directory.
 *
 * Directory precedence: an application lists connectors in order; a user (or group) name present in
 * several resolves to the first (as Crowd's directory order). Memberships are those of the directory
 * the user and the group resolve to (Crowd without membership aggregation); a shadowed user's or
 * group's memberships are not shown.
 */
import type pg from 'pg';
import type { GroupRow, UserRow } from './entities.js';

/** `$1` is always the application's connectors, in precedence order. */
const DIRS = '$1::text[]';

/**
 * Alias `a` is in one of the directories. With one directory it is a plain equality: the planner
 * then walks the (connector, name) index in name order, where `= ANY(array)` would sort every row
 * of the directory for each page (Postgres 15 keeps no order through an array scan).
 */
export function inDirs(a: string, dirs: readonly string[]): string {
  return dirs.length === 1 ? `${a}.connector = (${DIRS})[1]` : `${a}.connector = ANY(${DIRS})`;
}

/** Crowd's order of users (by name), index-friendly with one directory. */
export function userOrder(a: string, dirs: readonly string[]): string {
  return dirs.length === 1
    ? ` ORDER BY ${a}.username_lower`
    : ` ORDER BY ${a}.username_lower, array_position(${DIRS}, ${a}.connector)`;
}

/** The user of alias `a` is the one its name resolves to. */
export function userWins(a: string, dirs: readonly string[]): string {
  if (dirs.length === 1) return 'true';
  return `NOT EXISTS (SELECT 1 FROM dirsync.users w WHERE w.connector = ANY(${DIRS})
            AND w.username_lower = ${a}.username_lower
            AND array_position(${DIRS}, w.connector) < array_position(${DIRS}, ${a}.connector))`;
}

/** The group of alias `a` is the one its name resolves to (also among same-named groups of one IdP). */
export function groupWins(a: string, dirs: readonly string[]): string {
  if (dirs.length === 1) {
    return `NOT EXISTS (SELECT 1 FROM dirsync.groups w WHERE w.connector = ${a}.connector
              AND lower(w.name) = lower(${a}.name) AND w.id < ${a}.id)`;
  }
  return `NOT EXISTS (SELECT 1 FROM dirsync.groups w WHERE w.connector = ANY(${DIRS})
            AND lower(w.name) = lower(${a}.name)
            AND (array_position(${DIRS}, w.connector), w.id) < (array_position(${DIRS}, ${a}.connector), ${a}.id))`;
}

export const USER_COLUMNS = `u.id, u.username_lower, u.connector, u.external_id, u.username, u.email, u.display_name, u.given_name,
  u.family_name, u.active, u.attributes, u.created_at, u.updated_at`;
export const GROUP_COLUMNS = `g.id, g.connector, g.external_id, g.name, g.description, g.local, g.attributes,
  g.created_at, g.updated_at, lower(g.name) AS name_lower`;

/** A page of at most this many rows is read in one statement (the default page size of Crowd clients). */
const PLAIN_ROWS = 1000;

export type UserRecord = UserRow & { id: string; username_lower: string };
/** `name_lower` is the database's lower(name), the sort key (JavaScript's lower case may differ). */
export type GroupRecord = GroupRow & { id: string; name_lower: string };

/** A read-only snapshot transaction on its own connection. */
export class Snapshot {
  private closed = false;
  private cursors = 0;
  private constructor(
    readonly client: pg.PoolClient,
    readonly dirs: readonly string[],
  ) {}

  static async open(pool: pg.Pool, dirs: readonly string[]): Promise<Snapshot> {
    const client = await pool.connect();
    try {
      // No JIT: the correlated subqueries of these reads (one per group or row) have estimated
      // costs in the millions, so Postgres would spend up to a second compiling a plan whose work
      // is index lookups that JIT does not speed up. One round trip for both statements.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL jit = off');
    } catch (e) {
      client.release();
      throw e;
    }
    return new Snapshot(client, dirs);
  }

  /** Ends the transaction and gives the connection back (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.client.query('COMMIT');
      this.client.release();
    } catch (e) {
      this.client.release(e as Error);
    }
  }

  query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.client.query<R>(sql, [this.dirs, ...params]);
  }

  /** The directories' versions (bumped by every apply), as one string. */
  async versions(): Promise<string> {
    const { rows } = await this.query<{ v: string | null }>(
      `SELECT string_agg(d.connector || '@' || d.version, ',' ORDER BY d.connector) AS v
         FROM dirsync.directories d WHERE d.connector = ANY(${DIRS})`,
    );
    return rows[0]?.v ?? '';
  }

  async findUser(name: string): Promise<UserRecord | null> {
    const { rows } = await this.query<UserRecord>(
      `SELECT ${USER_COLUMNS} FROM dirsync.users u
        WHERE u.connector = ANY(${DIRS}) AND u.username_lower = lower($2)
        ORDER BY array_position(${DIRS}, u.connector) LIMIT 1`,
      [name],
    );
    return rows[0] ?? null;
  }

  async findGroup(name: string): Promise<GroupRecord | null> {
    const { rows } = await this.query<GroupRecord>(
      `SELECT ${GROUP_COLUMNS} FROM dirsync.groups g
        WHERE g.connector = ANY(${DIRS}) AND lower(g.name) = lower($2)
        ORDER BY array_position(${DIRS}, g.connector), g.id LIMIT 1`,
      [name],
    );
    return rows[0] ?? null;
  }

  /**
   * Rows of a query through a server-side cursor, `batch` at a time. `sql` uses `$1` for the
   * directories and `$2...` for `params`. `limit`: the query returns at most that many rows (a
   * page); when they fit in one batch the query runs as a plain statement, one round trip
   * instead of a cursor's declare, fetches and close.
   */
  async *rows<R>(
    sql: string,
    params: unknown[],
    batch = 500,
    limit: number | null = null,
  ): AsyncGenerator<R[]> {
    if (limit !== null && limit <= Math.max(batch, PLAIN_ROWS)) {
      const { rows } = await this.query(sql, params);
      if (rows.length > 0) yield rows as R[];
      return;
    }
    const name = `crowd_c${++this.cursors}`;
    await this.query(`DECLARE ${name} NO SCROLL CURSOR FOR ${sql}`, params);
    try {
      for (;;) {
        const { rows } = await this.client.query(`FETCH ${batch} FROM ${name}`);
        if (rows.length > 0) yield rows as R[];
        if (rows.length < batch) break;
      }
    } finally {
      if (!this.closed) await this.client.query(`CLOSE ${name}`).catch(() => {});
    }
  }
}

/** `OFFSET/LIMIT` of a page; `max` null is every row. */
export function pageSql(
  start: number,
  max: number | null,
  firstParam: number,
): { sql: string; params: number[] } {
  if (max === null) return { sql: ` OFFSET $${firstParam}`, params: [start] };
  return { sql: ` OFFSET $${firstParam} LIMIT $${firstParam + 1}`, params: [start, max] };
}
