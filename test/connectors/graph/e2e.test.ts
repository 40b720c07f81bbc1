/**
 * End to end: emulator → real Graph SDK and connector → pipeline → Postgres, compared with the
 * tenant's truth after every round of mutations; failed runs (auth, a failing page) write nothing.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorConfig } from '../../../config/schema.js';
import {
  addGroup,
  addMember,
  addUser,
  moveGroup,
  removeGroup,
  removeMember,
  removeUser,
  updateGroup,
  updateUser,
} from '../../../connectors/emulator-kit/mutate.js';
import { graphId, type GraphEmulator } from '../../../connectors/graph/emulator/index.js';
import { runSync } from '../../../src/pipeline/run.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { expectFailedRunChangesNothing as expectFailed } from '../../helpers/truth.js';
import { configFor, connector, directory, expectSame, expected } from './directory.js';
import { emulator, silent } from './helpers.js';

describe('graph end to end', () => {
  let db: TestDatabase;
  let emu: GraphEmulator;
  let config: ConnectorConfig;
  let admin: Agent;
  // Full reads: these tests mutate the org model directly, which no change feed can see (the feed
  // tests mutate through the emulator's store and check feeds against full reads).
  const sync = () =>
    runSync({ pool: db.pool, config, connector, trigger: 'test', logger: silent, fullResync: true });
  const dir = () => directory(db, config.name);

  async function adminCall(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<number> {
    const res = await request(`${emu.url}/__emulator${path}`, {
      dispatcher: admin,
      method,
      ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
    await res.body.dump();
    return res.statusCode;
  }

  const expectFailedRunChangesNothing = (code: string) => expectFailed(sync, dir, code);

  beforeAll(async () => {
    db = await createTestDatabase();
    emu = await emulator({ users: 400, groups: 40, membersPerGroup: 25, nestingDepth: 4, seed: 41 });
    admin = new Agent({ connect: { ca: readFileSync(emu.caFile, 'utf8') } });
    config = configFor(emu, 'graph-e2e');
  });

  afterAll(async () => {
    await admin?.close();
    await emu?.close();
    await db?.drop();
  });

  it('the first sync fills the directory with exactly the tenant', async () => {
    const summary = await sync();
    expect(summary.status).toBe('succeeded');
    expectSame(await dir(), expected(emu));
    expect(summary.requests).toBeGreaterThan(5);
  });

  it('follows a round of tenant mutations', async () => {
    const [u0, u1, u2, u3, u4] = emu.org.users.filter((u) => u.status === 'active');
    const [g0, g1, g2, g3] = emu.org.groups;
    if (!u0 || !u1 || !u2 || !u3 || !u4 || !g0 || !g1 || !g2 || !g3) throw new Error('org too small');
    addUser(emu.org, { ...u0, id: 'u-new-1', login: 'new.hire', displayName: 'New Hire', status: 'active' });
    addMember(emu.org, g0.id, 'u-new-1');
    updateUser(emu.org, u1.id, { login: `${u1.login}.renamed` });
    updateUser(emu.org, u2.id, { status: 'suspended' });
    updateUser(emu.org, u4.id, { status: 'deprovisioned' });
    removeUser(emu.org, u3.id);
    const someMember = [...(emu.org.members.get(g1.id) ?? [])][0];
    if (someMember) removeMember(emu.org, g1.id, someMember);
    updateGroup(emu.org, g2.id, { name: 'renamed-group' });
    moveGroup(emu.org, g3.id, g0.id);
    const summary = await sync();
    expect(summary.status).toBe('succeeded');
    const d = await dir();
    expectSame(d, expected(emu));
    expect(summary.counts.users.create).toBe(1);
    expect(d.users.get(graphId(u1.id))?.username).toBe(`${u1.login}@${emu.org.domain}`);
    expect(d.users.get(graphId(u2.id))?.active).toBe(false);
    expect(d.users.has(graphId(u4.id))).toBe(false);
    expect(d.nesting.has(`${graphId(g0.id)}|group|${graphId(g3.id)}`)).toBe(true);
  });

  it('mirrors nested groups several levels deep, a group in two parents, and group removals', async () => {
    let parent: string | null = null;
    for (let level = 0; level < 6; level++) {
      const id = `g-chain-${level}`;
      addGroup(emu.org, {
        id,
        name: `chain-${level}`,
        description: '',
        parentId: parent,
        created: new Date().toISOString(),
      });
      addMember(emu.org, id, (emu.org.users[level] as { id: string }).id);
      parent = id;
    }
    // A second parent for chain-3 (Graph groups form a DAG), through the admin API.
    expect(await adminCall('POST', `/groups/${graphId('g-chain-0')}/members`, { groupId: 'g-chain-3' })).toBe(
      204,
    );
    removeGroup(emu.org, (emu.org.groups[5] as { id: string }).id);
    await sync();
    const d = await dir();
    expectSame(d, expected(emu));
    for (let level = 1; level < 6; level++) {
      expect(d.nesting.has(`${graphId(`g-chain-${level - 1}`)}|group|${graphId(`g-chain-${level}`)}`)).toBe(
        true,
      );
    }
    expect(d.nesting.has(`${graphId('g-chain-0')}|group|${graphId('g-chain-3')}`)).toBe(true);
    const deepest = (emu.org.users[5] as { id: string }).id;
    const eff = await db.pool.query(
      `SELECT 1 FROM dirsync.effective_group_members m
         JOIN dirsync.groups g ON g.id = m.group_id JOIN dirsync.users u ON u.id = m.user_id
        WHERE g.connector = $1 AND g.external_id = $2 AND u.external_id = $3`,
      [config.name, graphId('g-chain-0'), graphId(deepest)],
    );
    expect(eff.rowCount).toBe(1);
  });

  it('a group that contains itself through a cycle: the run finishes, the cycle edges are held and reported', async () => {
    // chain-4 sits below chain-2; making chain-2 a member of chain-4 closes a cycle.
    expect(await adminCall('POST', '/groups/g-chain-4/members', { groupId: 'g-chain-2' })).toBe(204);
    const before = await dir();
    const summary = await sync();
    expect(summary.status).toBe('succeeded');
    expect(summary.snapshot.held_edges).toBe(3);
    const d = await dir();
    expectSame(d, expected(emu, before));
    expect(d.nesting.has(`${graphId('g-chain-4')}|group|${graphId('g-chain-2')}`)).toBe(false);
    const problems = await db.pool.query<{ reason: string }>(
      'SELECT reason FROM dirsync.run_problems WHERE run_id = $1',
      [summary.runId],
    );
    expect(problems.rows.some((r) => r.reason.includes('cycle'))).toBe(true);
    expect(await adminCall('DELETE', `/groups/g-chain-4/members/${graphId('g-chain-2')}`)).toBe(204);
    await sync();
    expectSame(await dir(), expected(emu));
    expect((await dir()).nesting.has(`${graphId('g-chain-3')}|group|${graphId('g-chain-4')}`)).toBe(true);
  });

  it('finishes correctly through a throttling storm and keeps the directory exact', async () => {
    emu.throttle({ limit: 40, windowMs: 1000 });
    updateUser(emu.org, (emu.org.users[10] as { id: string }).id, { status: 'suspended' });
    try {
      const summary = await sync();
      expect(summary.throttled).toBeGreaterThan(0);
    } finally {
      emu.throttle({ limit: 8000, windowMs: 10_000 });
    }
    expectSame(await dir(), expected(emu));
  });

  it('an auth failure fails the run and writes nothing', async () => {
    removeUser(emu.org, (emu.org.users[20] as { id: string }).id); // a change the failed run must not apply
    const name = 'DIRSYNC_GRAPH_CLIENT_SECRET';
    const good = process.env[name];
    process.env[name] = 'not-the-secret';
    try {
      await expectFailedRunChangesNothing('DIRSYNC_E_IDP_AUTH');
    } finally {
      process.env[name] = good;
    }
  });

  it('a page failing mid-run fails the run and writes nothing; the next run catches up', async () => {
    const normal = config;
    config = configFor(emu, normal.name, { maxRetries: 1 });
    emu.addFaultRule({ match: /^\/v1\.0\/users\?.*skiptoken/, fault: 'error', status: 503 });
    try {
      await expectFailedRunChangesNothing('DIRSYNC_E_IDP_UNAVAILABLE');
    } finally {
      emu.clearFaultRules();
    }
    emu.addFaultRule({ match: /\/members/, fault: 'truncate' });
    emu.addFaultRule({ match: /^\/v1\.0\/\$batch/, fault: 'truncate' });
    try {
      await expectFailedRunChangesNothing('DIRSYNC_E_IDP_BAD_RESPONSE');
    } finally {
      emu.clearFaultRules();
    }
    config = normal;
    await sync();
    expectSame(await dir(), expected(emu));
  });
});
