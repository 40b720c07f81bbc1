/**
 * A fresh, migrated database per test file, on the real local Postgres. Dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, databaseUrl } from '../../src/store/db.js';
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
  const pool = createPool(url, 8);
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
