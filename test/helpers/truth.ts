/**
 * Reads back what the pipeline left in Postgres for one connector, for the end-to-end tests that
 * compare it with an emulator's org truth. Each IdP's tests keep their own truth and key formats.
 */
import type pg from 'pg';
import { expect } from 'vitest';
import { DirsyncError } from '../../src/errors.js';

export interface DirectoryRows {
  users: { external_id: string; username: string; email: string | null; active: boolean }[];
  groups: { external_id: string; name: string }[];
  /** Direct user memberships: group, user. */
  memberships: { g: string; u: string }[];
  /** Direct group nesting: parent, child. */
  nesting: { p: string; c: string }[];
}

/** The connector's users, IdP groups (not local ones), memberships and nesting, as rows. */
export async function directoryRows(pool: pg.Pool, name: string): Promise<DirectoryRows> {
  const users = await pool.query<DirectoryRows['users'][number]>(
    'SELECT external_id, username, email, active FROM dirsync.users WHERE connector = $1',
    [name],
  );
  const groups = await pool.query<DirectoryRows['groups'][number]>(
    'SELECT external_id, name FROM dirsync.groups WHERE connector = $1 AND NOT local',
    [name],
  );
  const members = await pool.query<DirectoryRows['memberships'][number]>(
    'SELECT group_external_id AS g, user_external_id AS u FROM dirsync.user_memberships WHERE connector = $1',
    [name],
  );
  const nesting = await pool.query<DirectoryRows['nesting'][number]>(
    'SELECT parent_external_id AS p, child_external_id AS c FROM dirsync.group_nesting WHERE connector = $1',
    [name],
  );
  return { users: users.rows, groups: groups.rows, memberships: members.rows, nesting: nesting.rows };
}

/** The directory as maps by external id, and edges as keys made by `edge`. */
export interface DirectoryState {
  users: Map<string, { username: string; active: boolean | null }>;
  groups: Map<string, string>;
  memberships: Set<string>;
  nesting: Set<string>;
}

export async function directoryState(
  pool: pg.Pool,
  name: string,
  edge: (parent: string, kind: 'user' | 'group', child: string) => string,
): Promise<DirectoryState> {
  const rows = await directoryRows(pool, name);
  return {
    users: new Map(rows.users.map((r) => [r.external_id, { username: r.username, active: r.active }])),
    groups: new Map(rows.groups.map((r) => [r.external_id, r.name])),
    memberships: new Set(rows.memberships.map((r) => edge(r.g, 'user', r.u))),
    nesting: new Set(rows.nesting.map((r) => edge(r.p, 'group', r.c))),
  };
}

/**
 * The directory as sets of keys: users by `userKey`, groups `id|name`, memberships `group>user`,
 * nesting `parent>child`.
 */
export interface DirectorySets {
  users: Set<string>;
  groups: Set<string>;
  memberships: Set<string>;
  nesting: Set<string>;
}

export async function directorySets(
  pool: pg.Pool,
  name: string,
  userKey: (r: DirectoryRows['users'][number]) => string,
): Promise<DirectorySets> {
  const rows = await directoryRows(pool, name);
  return {
    users: new Set(rows.users.map(userKey)),
    groups: new Set(rows.groups.map((r) => `${r.external_id}|${r.name}`)),
    memberships: new Set(rows.memberships.map((r) => `${r.g}>${r.u}`)),
    nesting: new Set(rows.nesting.map((r) => `${r.p}>${r.c}`)),
  };
}

/**
 * Runs `sync`, which must fail with a {@link DirsyncError} of `code`, and checks that the directory
 * (as `read` sees it) is exactly what it was before.
 */
export async function expectFailedRunChangesNothing(
  sync: () => Promise<unknown>,
  read: () => Promise<unknown>,
  code: string,
): Promise<void> {
  const before = await read();
  const err = await sync().then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DirsyncError);
  expect((err as DirsyncError).code).toBe(code);
  expect(await read()).toEqual(before);
}
