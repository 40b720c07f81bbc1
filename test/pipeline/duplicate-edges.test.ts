import { describe, expect, it } from 'vitest';
import type { SourceEdge } from '../../connectors/types.js';
import { edgeRuns } from '../../src/pipeline/stage.js';
import { useTestDatabase } from '../helpers/db.js';
import { directory, fileSource, sync } from '../helpers/snapshot.js';

const db = useTestDatabase();

const edge = (groupId: string, memberId: string, memberType: 'user' | 'group' = 'user'): SourceEdge => ({
  kind: 'edge',
  groupId,
  memberType,
  memberId,
});

describe('edgeRuns: repeated edges within one group’s run of edges', () => {
  it('drops a repeat inside a run, keeps a user and a group of the same id apart', () => {
    const runs = edgeRuns();
    const seen = [
      edge('g1', 'a'),
      edge('g1', 'a'),
      edge('g1', 'a', 'group'),
      edge('g2', 'a'),
      edge('g2', 'a'),
    ].map((e) => runs.fresh(e));
    expect(seen).toEqual([true, false, true, true, false]);
    expect(runs.distinct()).toBe(true);
  });

  it('gives up (everything passes, not distinct) once a group comes back after another', () => {
    const runs = edgeRuns();
    const seen = [edge('g1', 'a'), edge('g2', 'b'), edge('g1', 'a'), edge('g1', 'a')].map((e) =>
      runs.fresh(e),
    );
    expect(seen).toEqual([true, true, true, true]);
    expect(runs.distinct()).toBe(false);
  });
});

describe('a snapshot that lists a membership twice', () => {
  const users = ['u1', 'u2', 'u3'].map((id) => ({ type: 'user', id, username: id, active: true }));
  const lines = (records: unknown[]) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const expected = ['g1>u1', 'g1>u2', 'g2>u2', 'g2>u3'];

  it('inside a group’s own list: synced once, no problem, an unchanged re-sync writes nothing', async () => {
    const src = fileSource({}, 'dupin', 'snapshot.ndjson');
    src.writeRaw(
      lines([
        ...users,
        { type: 'group', id: 'g1', name: 'one', members: ['u1', 'u2', 'u1', 'u2'] },
        { type: 'group', id: 'g2', name: 'two', members: ['u2', 'u3', 'u3'] },
      ]),
    );
    const first = await sync(db().pool, src.config);
    expect(first.status).toBe('succeeded');
    expect(first.counts.memberships.add).toBe(4);
    expect((await directory(db().pool, 'dupin')).memberships).toEqual(expected);
    const again = await sync(db().pool, src.config, { fullResync: true });
    expect(again.status).toBe('succeeded');
    expect(again.counts.memberships).toEqual({ add: 0, remove: 0 });
  });

  it('interleaved across groups (membership records): de-duplicated in SQL, same directory', async () => {
    const src = fileSource({}, 'dupx', 'snapshot.ndjson');
    src.writeRaw(
      lines([
        ...users,
        { type: 'group', id: 'g1', name: 'one' },
        { type: 'group', id: 'g2', name: 'two' },
        { type: 'membership', group: 'g1', user: 'u1' },
        { type: 'membership', group: 'g2', user: 'u2' },
        { type: 'membership', group: 'g1', user: 'u2' },
        { type: 'membership', group: 'g1', user: 'u1' },
        { type: 'membership', group: 'g2', user: 'u3' },
        { type: 'membership', group: 'g2', user: 'u2' },
      ]),
    );
    const first = await sync(db().pool, src.config);
    expect(first.status).toBe('succeeded');
    expect(first.counts.memberships.add).toBe(4);
    expect((await directory(db().pool, 'dupx')).memberships).toEqual(expected);
    const again = await sync(db().pool, src.config, { fullResync: true });
    expect(again.counts.memberships).toEqual({ add: 0, remove: 0 });
  });
});
