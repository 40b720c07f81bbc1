import pg from 'pg';
import { DirsyncError } from '../errors.js';

/** Local Postgres with trust auth, as on the development machines, when DATABASE_URL is not set. */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/dirsync';

/**
 * Connections one run may hold at once: its run lock, four COPY streams while staging (two more for
 * the mirror during a full read), and one for
 * the SQL steps. A pool shared by N concurrent runs needs N times this, or runs that each got part
 * of what they need could wait on each other for ever.
 */
export const CONNECTIONS_PER_RUN = 8;

export function databaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.DATABASE_URL || DEFAULT_DATABASE_URL;
}

/** The URL with any password replaced, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable database URL)';
  }
}

/**
 * Session settings for Dirsync's own connections. A run hashes, sorts and de-duplicates a million
 * edges per statement; with Postgres' default 4 MB of work memory those spill to disk and take
 * several times as long. Overridable with DIRSYNC_PG_WORK_MEM.
 *
 * JIT is off: a run issues many different generated statements, each planned once, and JIT
 * compiled each plan whose estimate passed its threshold. Logged plans (auto_explain) of an
 * incremental run showed statements that touch 15,000 rows spending 2–3 s compiling 60–90
 * functions with optimization; the work itself took milliseconds.
 */
function sessionOptions(env: NodeJS.ProcessEnv = process.env): string {
  const workMem = env.DIRSYNC_PG_WORK_MEM ?? '128MB';
  // random_page_cost 1.1 (the default 4 models spinning disks): an incremental run probes a few
  // thousand ids into tables of millions, and with the default the planner scanned and hashed
  // the whole table instead (10 M mirror edges read to patch 50,000). Whole-table joins of a
  // full run still hash. Overridable with DIRSYNC_PG_RANDOM_PAGE_COST.
  const pageCost = env.DIRSYNC_PG_RANDOM_PAGE_COST ?? '1.1';
  return `-c work_mem=${workMem} -c maintenance_work_mem=256MB -c jit=off -c random_page_cost=${pageCost}`;
}

export function createPool(url = databaseUrl(), max = 6): pg.Pool {
  return quiet(
    new pg.Pool({
      connectionString: url,
      max,
      application_name: 'dirsync',
      options: sessionOptions(),
    }),
  );
}

/**
 * A client losing its connection (a database restart sends 57P01 to every session) emits 'error';
 * without a listener that kills the process. The pool listens for idle clients only, so every
 * client gets its own listener for the time it is checked out: the next query on it fails with the
 * error instead, and pg-pool discards the broken client.
 */
function quiet(pool: pg.Pool): pg.Pool {
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}

/** Prefix of the `application_name` of every connection that works for a run: "dirsync run 42". */
export const RUN_APPLICATION_PREFIX = 'dirsync run ';

/** The `application_name` of every connection that works for run `runId` (see {@link createRunPool}). */
export function runApplicationName(runId: number): string {
  return `${RUN_APPLICATION_PREFIX}${runId}`;
}

/**
 * SQL: true when no backend of this database works for the run whose id `runIdSql` gives (its
 * connections are named by createRunPool). The one test of "a run's statements are all gone" that
 * the reaper and the table sweep share.
 */
export function noBackendOfRunSql(runIdSql: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                       WHERE a.datname = current_database()
                         AND a.application_name = '${RUN_APPLICATION_PREFIX}' || (${runIdSql}))`;
}

/**
 * The connections one run works on: the shared pool's settings, named after the run.
 *
 * Why a run has its own: a process killed with SIGKILL leaves the statements it had sent running
 * on the server, and one of them may still create a staging table after the run's lock is gone.
 * Whoever reaps the run must wait for them, so it must be able to see them: pg_stat_activity
 * lists them under the run's name (which also tells an operator which run a busy backend serves).
 * With `client_connection_check_interval` (Postgres 14+) such a statement notices its client is
 * gone within a second and is cancelled instead of running to its end.
 */
export function createRunPool(shared: pg.Pool, runId: number, serverVersionNum: number): pg.Pool {
  const base = shared.options;
  const checkClient = serverVersionNum >= 140000 ? ' -c client_connection_check_interval=1000' : '';
  return quiet(
    new pg.Pool({
      ...base,
      // A run holds at most this many at once besides its lock (see CONNECTIONS_PER_RUN).
      max: CONNECTIONS_PER_RUN - 1,
      application_name: runApplicationName(runId),
      options: `${base.options ?? ''}${checkClient}`.trim(),
    }),
  );
}

/**
 * Connects once to prove the database is there. A missing database is created (convenient on a
 * laptop with a local Postgres); anything else becomes one clear error.
 */
export async function ensureDatabase(url = databaseUrl()): Promise<void> {
  const probe = new pg.Client({ connectionString: url });
  try {
    await probe.connect();
    await probe.end();
    return;
  } catch (e) {
    await probe.end().catch(() => {});
    if ((e as { code?: string }).code !== '3D000') {
      throw new DirsyncError('DIRSYNC_E_DB_UNAVAILABLE', `${redactUrl(url)}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  target.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: target.toString() });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } catch (e) {
    if ((e as { code?: string }).code !== '42P04') {
      throw new DirsyncError(
        'DIRSYNC_E_DB_UNAVAILABLE',
        `cannot create database ${name}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  } finally {
    await admin.end().catch(() => {});
  }
}

/** Runs `fn` in a transaction on one client; rolls back on any error. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

/**
 * Database errors that a retry can outlive: the server restarting or failing over (57P01-57P03,
 * class 08), serialization failures and deadlocks (40001, 40P01), too many connections (53300), or
 * the socket dropping. The pipeline reports them as DIRSYNC_E_DB_UNAVAILABLE (retryable).
 */
export function isTransientDatabaseError(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    if (/^(57P0[123]|08...|40001|40P01|53300)$/.test(code)) return true;
    if (/^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/.test(code)) return true;
    const message = (c as { message?: unknown }).message;
    if (typeof message === 'string' && /Connection terminated unexpectedly/.test(message)) return true;
  }
  return false;
}
