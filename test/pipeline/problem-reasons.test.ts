/**
 * A connector that lists a group and then reports a problem about it (Graph: the group's member list
 * answers 404 because it was deleted during the read) must see its own reason in the run's problems,
 * not "duplicate id" (issue 9, item 12). The group is held: the directory keeps it as it was.
 */
import { describe, expect, it } from 'vitest';
import type { Connector, SnapshotItem } from '../../connectors/types.js';
import { useTestDatabase } from '../helpers/db.js';
import { directory, file, fileSource, problems, sync, users } from '../helpers/snapshot.js';

const db = useTestDatabase();

function withExtra(extra: SnapshotItem[]): Connector {
  return {
    ...file,
    async open(config, ctx) {
      const inner = await file.open(config, ctx);
      return {
        ...inner,
        stats: () => inner.stats(),
        close: () => inner.close(),
        async *read() {
          yield* inner.read();
          yield* extra;
        },
      };
    },
  };
}

describe('problem reasons', () => {
  it('a group listed and then reported gone is held with the connector reason', async () => {
    const src = fileSource({}, 'graphlike');
    src.write({ users: users(2), groups: [{ id: 'g1', name: 'eng', members: ['u0', 'u1'] }] });
    await sync(db().pool, src.config);
    const gone: SnapshotItem = {
      kind: 'problem',
      objectType: 'group',
      externalId: 'g1',
      reason: 'group g1 disappeared while its members were read',
    };
    const s = await sync(db().pool, src.config, { connector: withExtra([gone]) });
    expect(
      (await problems(db().pool, s.runId)).map((p) => `${p.external_id} ${p.action} ${p.reason}`),
    ).toEqual(['g1 held group g1 disappeared while its members were read']);
    expect((await directory(db().pool, 'graphlike')).groups).toEqual(['g1:eng']);
  });
});
