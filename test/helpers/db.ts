/**
 * A fresh, migrated database per test file, on the real local Postgres. Dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { CONNECTIONS_PER_RUN, createPool, databaseUrl } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';

export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const u = new URL(databaseUrl());
  u.pathname = '/postgres';
  return u.toString();
}

export async function createTestDatabase(prefix = 'dirsync_t'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(databaseUrl());
  u.pathname = `/${name}`;
  const url = u.toString();
  // Room for two concurrent runs (a test worker with concurrency 2) plus the test's own queries.
  const pool = createPool(url, 2 * CONNECTIONS_PER_RUN + 4);
  await migrate(pool);
  return {
    url,
    pool,
    async drop() {
      await pool.end();
      const a = new pg.Client({ connectionString: adminUrl() });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/**
 * A fresh database for the calling test file: created before its tests (`beforeAll`), dropped after
 * them (`afterAll`). Call it at the top of the file; the getter works inside tests and hooks.
 */
export function useTestDatabase(prefix?: string): () => TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(prefix);
  });
  afterAll(async () => {
    await db?.drop();
  });
  return () => {
    if (!db) throw new Error('the test database exists only inside tests and hooks');
    return db;
  };
}

/**
 * Two fresh databases for the calling test file, created together before its tests and dropped
 * after them: the incremental side and the reference side of an incremental-equals-full test.
 * Each returned database stands in for its real one once the hooks have run, so the file names
 * them once at its top (`const [inc, ref] = useDatabasePair()`) and uses them in tests as is.
 */
export function useDatabasePair(): [inc: TestDatabase, ref: TestDatabase] {
  let dbs: [TestDatabase, TestDatabase] | undefined;
  beforeAll(async () => {
    dbs = await Promise.all([createTestDatabase(), createTestDatabase()]);
  });
  afterAll(async () => {
    await Promise.all((dbs ?? []).map((d) => d.drop()));
  });
  const side = (i: 0 | 1): TestDatabase => {
    const db = () => {
      if (!dbs) throw new Error('the test databases exist only inside tests and hooks');
      return dbs[i];
    };
    return {
      get url() {
        return db().url;
      },
      get pool() {
        return db().pool;
      },
      drop: () => db().drop(),
    };
  };
  return [side(0), side(1)];
}
