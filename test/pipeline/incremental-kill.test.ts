/**
 * A sync process SIGKILLed inside the apply transaction of an incremental run: the directory, the
 * mirror and the cursor are all as they were, and the next run re-reads the same changes and
 * converges to what a full read gives.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileFeedConnector } from '../../bench/feed-connector.js';
import { parseConnectorConfig } from '../../config/load.js';
import type { ChangeItem, Connector } from '../../connectors/types.js';
import { silentLogger } from '../../src/logger.js';
import { runSync } from '../../src/pipeline/run.js';
import { useTestDatabase } from '../helpers/db.js';
import { directorySets, expectSameDirectory } from '../helpers/equivalence.js';
import { tempDir } from '../helpers/snapshot.js';
import { waitFor } from '../jobs/helpers.js';

const db = useTestDatabase();
const connector = fileFeedConnector as unknown as Connector;
const dir = tempDir();
const path = join(dir, 'idp.json');
const changes = join(dir, 'changes.ndjson');
const config = (name: string) =>
  parseConnectorConfig({ name, kind: 'filefeed', path, changes, deletion: { deleteAfter: '0s' } }, connector);

const user = (i: number, extra: Record<string, unknown> = {}) => ({
  id: `u${i}`,
  username: `user${i}`,
  displayName: `User ${i}`,
  ...extra,
});

afterAll(async () => {
  await db()
    .pool.query('DROP TRIGGER IF EXISTS slow ON dirsync.group_members')
    .catch(() => {});
});

async function state(name: string) {
  const { rows } = await db().pool.query(
    `SELECT cursor, version, mirror_run_id, staged_digest FROM dirsync.directories WHERE connector = $1`,
    [name],
  );
  const r = rows[0];
  const { rows: m } = await db().pool.query(
    `SELECT (SELECT count(*) FROM dirsync_mirror.r${r.mirror_run_id}_mo)::int AS objects,
            (SELECT count(*) FROM dirsync_mirror.r${r.mirror_run_id}_me)::int AS edges`,
  );
  return { ...r, ...m[0] };
}

describe('incremental run killed mid-apply', () => {
  it('changes nothing (directory, mirror, cursor), and the next run converges', async () => {
    const users = Array.from({ length: 10 }, (_, i) => user(i));
    writeFileSync(
      path,
      JSON.stringify({ users, groups: [{ id: 'g', name: 'staff', members: ['u0', 'u1'] }] }),
    );
    writeFileSync(changes, '');
    const first = await runSync({
      pool: db().pool,
      config: config('killed'),
      connector,
      logger: silentLogger,
    });
    expect(first.mode).toBe('full');
    const before = await directorySets(db().pool, 'killed');
    const stateBefore = await state('killed');

    // The IdP changes: one user renamed, one removed, one joins the group; the feed says so.
    const now = [user(0, { displayName: 'Zero' }), ...users.slice(1, 9)];
    writeFileSync(
      path,
      JSON.stringify({ users: now, groups: [{ id: 'g', name: 'staff', members: ['u0', 'u1', 'u2'] }] }),
    );
    const feed: ChangeItem[] = [
      {
        kind: 'user',
        externalId: 'u0',
        username: 'user0',
        email: null,
        displayName: 'Zero',
        givenName: null,
        familyName: null,
        active: true,
        attributes: {},
      },
      { kind: 'removed', objectType: 'user', externalId: 'u9' },
      { kind: 'edge', groupId: 'g', memberType: 'user', memberId: 'u2' },
    ];
    appendFileSync(changes, feed.map((x) => JSON.stringify(x)).join('\n') + '\n');

    await db().pool.query(`
      CREATE OR REPLACE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$`);
    await db().pool.query(
      'CREATE TRIGGER slow BEFORE INSERT ON dirsync.group_members FOR EACH STATEMENT EXECUTE FUNCTION public.slow()',
    );
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/pipeline/fixtures/incremental-child.ts', db().url, path, changes],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await waitFor(
      'the incremental run sleeping inside apply',
      async () => {
        const { rows } = await db().pool.query(
          `SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep')::int AS sleeping,
                (SELECT count(*) FROM dirsync.runs WHERE connector = 'killed' AND status = 'running' AND phase = 'apply' AND mode = 'incremental')::int AS applying`,
        );
        return rows[0].sleeping > 0 && rows[0].applying > 0;
      },
      60_000,
    );
    child.kill('SIGKILL');
    await exited;
    // Waits for the killed backend's transaction to end (DROP TRIGGER needs its lock).
    await db().pool.query('DROP TRIGGER slow ON dirsync.group_members');

    expectSameDirectory(await directorySets(db().pool, 'killed'), before, 'after the kill');
    expect(await state('killed')).toEqual(stateBefore);

    // The next run re-reads the same changes (the cursor did not move) and converges.
    const again = await runSync({
      pool: db().pool,
      config: config('killed'),
      connector,
      logger: silentLogger,
    });
    expect(again.mode).toBe('incremental');
    expect(again.counts.users).toMatchObject({ update: 1, delete: 1 });
    expect(again.counts.memberships.add).toBe(1);
    await runSync({ pool: db().pool, config: config('reference'), connector, logger: silentLogger });
    expectSameDirectory(
      await directorySets(db().pool, 'killed'),
      await directorySets(db().pool, 'reference'),
      'converged',
    );
    expect((await state('killed')).cursor).toBe('3');
  }, 120_000);
});
