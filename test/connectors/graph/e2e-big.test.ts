/**
 * End to end with big shapes: a user in 1,000 groups, and a group of 50,000 members in an
 * otherwise small tenant. Its own file so it runs beside the other graph tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember } from '../../../connectors/emulator-kit/mutate.js';
import { graphId } from '../../../connectors/graph/emulator/index.js';
import { runSync } from '../../../src/pipeline/run.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { configFor, connector, directory, expectSame, expected } from './directory.js';
import { emulator, silent } from './helpers.js';

describe('graph end to end: big shapes', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('a user in 1,000 groups', async () => {
    const emu = await emulator({ users: 50, groups: 1000, membersPerGroup: 2, nestingDepth: 0, seed: 5 });
    try {
      const star = emu.org.users.find((u) => u.status === 'active');
      if (!star) throw new Error('no active user');
      for (const g of emu.org.groups) addMember(emu.org, g.id, star.id);
      const config = configFor(emu, 'graph-star');
      const summary = await runSync({ pool: db.pool, config, connector, trigger: 'test', logger: silent });
      expect(summary.status).toBe('succeeded');
      const d = await directory(db, config.name);
      expectSame(d, expected(emu));
      expect([...d.memberships].filter((m) => m.endsWith(`|user|${graphId(star.id)}`))).toHaveLength(1000);
    } finally {
      await emu.close();
    }
  });

  it('a group of 50,000 members in a small tenant', async () => {
    const emu = await emulator({ users: 50_000, groups: 3, membersPerGroup: 3, nestingDepth: 0, seed: 6 });
    try {
      const big = emu.org.groups[0];
      if (!big) throw new Error('no group');
      const set = emu.org.members.get(big.id) as Set<string>;
      for (const u of emu.org.users) set.add(u.id);
      const config = configFor(emu, 'graph-big', { pageSize: 999 });
      const summary = await runSync({ pool: db.pool, config, connector, trigger: 'test', logger: silent });
      expect(summary.status).toBe('succeeded');
      const d = await directory(db, config.name);
      expectSame(d, expected(emu));
      const listed = emu.truth().users.size;
      expect([...d.memberships].filter((m) => m.startsWith(`${graphId(big.id)}|user|`))).toHaveLength(listed);
      expect(listed).toBeGreaterThan(45_000);
    } finally {
      await emu.close();
    }
  });
});
