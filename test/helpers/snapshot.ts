/**
 * Helpers for pipeline tests: write snapshot files for the `file` connector, build connector
 * configs, and read the directory back as sorted sets.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { parseConnectorConfig } from '../../config/load.js';
import type { ConnectorConfig } from '../../config/schema.js';
import { fileConnector } from '../../connectors/file/index.js';
import type { Connector } from '../../connectors/types.js';
import { silentLogger } from '../../src/logger.js';
import { runSync, type RunSyncOptions } from '../../src/pipeline/run.js';

export interface SnapUser {
  id: string;
  username?: unknown;
  email?: unknown;
  displayName?: unknown;
  givenName?: unknown;
  familyName?: unknown;
  active?: unknown;
  attributes?: unknown;
}
export interface SnapGroup {
  id: string;
  name?: unknown;
  description?: unknown;
  members?: unknown;
  groups?: unknown;
}
export interface Snap {
  users: SnapUser[];
  groups?: SnapGroup[];
}

export const file = fileConnector as unknown as Connector;

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'dirsync-test-'));
}

/** A writable snapshot file and a config pointing at it. */
export function fileSource(extra: Record<string, unknown> = {}, name = 'hr', fileName = 'snapshot.json') {
  const dir = tempDir();
  const path = join(dir, fileName);
  const config: ConnectorConfig = parseConnectorConfig({ name, kind: 'file', path, ...extra }, file);
  return {
    path,
    config,
    write(s: Snap) {
      writeFileSync(path, JSON.stringify(s));
    },
    writeRaw(text: string) {
      writeFileSync(path, text);
    },
  };
}

export function sync(pool: pg.Pool, config: ConnectorConfig, o: Partial<RunSyncOptions> = {}) {
  return runSync({ pool, config, connector: file, trigger: 'test', logger: silentLogger, ...o });
}

/** People in a small company. */
export function users(n: number, prefix = 'u'): SnapUser[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    username: `user${i}`,
    email: `user${i}@acme.test`,
    displayName: `User ${i}`,
    active: true,
  }));
}

export interface DirectoryState {
  users: string[];
  groups: string[];
  memberships: string[];
  nesting: string[];
}

/** The directory of one connector as sorted sets: `id:username:active`, `id:name`, `group>member`. */
export async function directory(pool: pg.Pool, connector = 'hr'): Promise<DirectoryState> {
  const q = async (sql: string) =>
    (await pool.query<{ v: string }>(sql, [connector])).rows.map((r) => r.v).sort();
  return {
    users: await q(
      `SELECT external_id || ':' || username || ':' || active AS v FROM dirsync.users WHERE connector = $1`,
    ),
    groups: await q(`SELECT external_id || ':' || name AS v FROM dirsync.groups WHERE connector = $1`),
    memberships: await q(
      `SELECT group_external_id || '>' || user_external_id AS v FROM dirsync.user_memberships WHERE connector = $1`,
    ),
    nesting: await q(
      `SELECT parent_external_id || '>' || child_external_id AS v FROM dirsync.group_nesting WHERE connector = $1`,
    ),
  };
}

export async function runRow(pool: pg.Pool, runId: number) {
  const { rows } = await pool.query('SELECT * FROM dirsync.runs WHERE id = $1', [runId]);
  return rows[0];
}

export async function problems(pool: pg.Pool, runId: number) {
  const { rows } = await pool.query<{
    object_type: string;
    external_id: string | null;
    reason: string;
    action: string;
  }>(
    'SELECT object_type, external_id, reason, action FROM dirsync.run_problems WHERE run_id = $1 ORDER BY seq',
    [runId],
  );
  return rows;
}
