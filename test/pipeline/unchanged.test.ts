import { beforeEach, describe, expect, it } from 'vitest';
import { parseConnectorConfig } from '../../config/load.js';
import { approveRun } from '../../src/pipeline/approve.js';
import { useTestDatabase } from '../helpers/db.js';
import { directory, file, fileSource, problems, sync, users } from '../helpers/snapshot.js';

const db = useTestDatabase();
let n = 0;
let name: string;
beforeEach(() => {
  name = `u${++n}`;
});

const org = (count: number) => ({
  users: [...users(count), { id: 'bad', username: 7 }],
  groups: [{ id: 'g', name: 'all', members: users(count).map((u) => u.id) }],
});

describe('unchanged-snapshot fast path', () => {
  it('a snapshot equal to the last applied one, in any order, skips check and diff and keeps the problems', async () => {
    const src = fileSource({}, name);
    src.write(org(5));
    const first = await sync(db().pool, src.config);
    expect(first.unchangedSince).toBeUndefined();
    expect(await problems(db().pool, first.runId)).toHaveLength(1);

    const reordered = org(5);
    reordered.users.reverse();
    reordered.groups[0]!.members.reverse();
    src.write(reordered);
    const second = await sync(db().pool, src.config);
    expect(second.unchangedSince).toBe(first.runId);
    expect(Object.keys(second.phaseMs)).toEqual(['fetch']);
    expect(second.counts.users).toEqual({ create: 0, update: 0, deactivate: 0, reactivate: 0, delete: 0 });
    expect(await problems(db().pool, second.runId)).toEqual(await problems(db().pool, first.runId));
    // Still unchanged since the run that applied, not since the previous no-op.
    expect((await sync(db().pool, src.config)).unchangedSince).toBe(first.runId);
  });

  it('any change of a record takes the long way', async () => {
    const src = fileSource({}, name);
    src.write(org(5));
    await sync(db().pool, src.config);
    const changed = org(5);
    changed.users[2] = { ...changed.users[2]!, displayName: 'Someone Else' };
    src.write(changed);
    const s = await sync(db().pool, src.config);
    expect(s.unchangedSince).toBeUndefined();
    expect(s.counts.users.update).toBe(1);
  });

  it('a config change that alters the result takes the long way', async () => {
    const src = fileSource({}, name);
    src.write(org(3));
    await sync(db().pool, src.config);
    const renamed = parseConnectorConfig(
      { name, kind: 'file', path: src.path, transform: { username: "{{ username | prefix:'x-' }}" } },
      file,
    );
    const s = await sync(db().pool, renamed);
    expect(s.unchangedSince).toBeUndefined();
    expect(s.counts.users.update).toBe(3);
  });

  it('an expiring grace period takes the long way and deletes', async () => {
    const src = fileSource({ deletion: { deleteAfter: '1h' }, guard: { minRemovals: 100 } }, name);
    // Without the malformed user: it would make every user removal wait for approval.
    const clean = (count: number) => ({ ...org(count), users: users(count) });
    src.write(clean(4));
    await sync(db().pool, src.config);
    src.write(clean(3));
    await sync(db().pool, src.config); // u3 deactivated, missing
    expect((await sync(db().pool, src.config)).unchangedSince).toBeDefined();
    await db().pool.query(
      `UPDATE dirsync.users SET missing_since = now() - interval '2 hours' WHERE connector = $1 AND external_id = 'u3'`,
      [name],
    );
    const s = await sync(db().pool, src.config);
    expect(s.unchangedSince).toBeUndefined();
    expect(s.counts.users.delete).toBe(1);
  });

  it('a directory changed by an approval since takes the long way', async () => {
    const src = fileSource({ guard: { minRemovals: 1 } }, name);
    src.write(org(10));
    const first = await sync(db().pool, src.config);
    src.write(org(5));
    const held = await sync(db().pool, src.config);
    expect(held.status).toBe('needs_approval');
    await approveRun(db().pool, held.runId);
    // The snapshot of 5 users was never applied by a normal run: no fingerprint matches it...
    const after = await sync(db().pool, src.config);
    expect(after.unchangedSince).toBeUndefined();
    expect(after.counts.users.deactivate).toBe(0);
    // ...and going back to the first snapshot must not shortcut to the first run either.
    src.write(org(10));
    const back = await sync(db().pool, src.config);
    expect(back.unchangedSince).toBeUndefined();
    expect(back.counts.users.reactivate).toBe(5);
    expect(first.runId).toBeLessThan(back.runId);
    expect((await directory(db().pool, name)).users.filter((u) => u.endsWith(':true'))).toHaveLength(10);
  });

  it('a full resync never takes the fast path', async () => {
    const src = fileSource({}, name);
    src.write(org(3));
    await sync(db().pool, src.config);
    const s = await sync(db().pool, src.config, { fullResync: true });
    expect(s.unchangedSince).toBeUndefined();
    expect(Object.keys(s.phaseMs)).toContain('diff');
  });
});
