/**
 * End to end: emulator → real connector → pipeline → Postgres, compared with the org's truth
 * after every round of mutations; failed runs (auth, a failing page) write nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectorConfig } from '../../../config/load.js';
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
import type { GoogleEmulator } from '../../../connectors/google/emulator/index.js';
import { foreignKeyFile } from '../../../connectors/google/emulator/token.js';
import { googleConnector } from '../../../connectors/google/index.js';
import type { Connector } from '../../../connectors/types.js';
import { runSync } from '../../../src/pipeline/run.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import {
  directoryState,
  expectFailedRunChangesNothing as expectFailed,
  type DirectoryState,
} from '../../helpers/truth.js';
import { silent, startGoogle, truth } from './helpers.js';

let db: TestDatabase;
let emu: GoogleEmulator;
let config: ConnectorConfig;
const connector = googleConnector as unknown as Connector;

const directory = (): Promise<DirectoryState> =>
  directoryState(db.pool, config.name, (parent, kind, child) => `${parent}>${kind}:${child}`);

function expected(): DirectoryState {
  const t = truth(emu);
  const edges = [...t.edges];
  return {
    users: new Map([...t.users].map(([id, u]) => [id, { username: u.username, active: u.active }])),
    groups: t.groups,
    memberships: new Set(edges.filter((e) => e.includes('>user:'))),
    nesting: new Set(edges.filter((e) => e.includes('>group:'))),
  };
}

// Full reads: these tests mutate the org model directly, which no change feed can see (the feed
// tests mutate through the emulator's store and check feeds against full reads).
const sync = () =>
  runSync({ pool: db.pool, config, connector, trigger: 'test', logger: silent, fullResync: true });

const expectFailedRunChangesNothing = (code: string) => expectFailed(sync, directory, code);

beforeAll(async () => {
  db = await createTestDatabase();
  emu = await startGoogle({ users: 300, groups: 30, membersPerGroup: 20, nestingDepth: 4, seed: 31 });
  config = parseConnectorConfig(
    {
      ...emu.connector,
      name: 'google-e2e',
      requestsPerMinute: 0,
      maxBackoff: '50ms',
      pageSize: { users: 100, groups: 10, members: 50 },
      guard: { minRemovals: 1_000_000 },
      deletion: { deleteAfter: '0s' },
    },
    connector,
  );
});

afterAll(async () => {
  await emu?.close();
  await db?.drop();
});

describe('google end to end', () => {
  it('the first sync fills the directory with exactly the org', async () => {
    const summary = await sync();
    expect(summary.status).toBe('succeeded');
    expect(await directory()).toEqual(expected());
    expect(summary.requests).toBeGreaterThan(30);
  });

  it('follows a round of org mutations', async () => {
    const [u0, u1, u2, u3, u4] = emu.org.users;
    const [g0, g1, g2, g3] = emu.org.groups;
    addUser(emu.org, { ...u0!, id: 'u-new-1', login: 'new.hire', displayName: 'New Hire', status: 'active' });
    addMember(emu.org, g0!.id, 'u-new-1');
    updateUser(emu.org, u1!.id, { login: `${u1!.login}.renamed` });
    updateUser(emu.org, u2!.id, { status: 'suspended' });
    updateUser(emu.org, u4!.id, { status: 'deprovisioned' });
    removeUser(emu.org, u3!.id);
    const someMember = [...(emu.org.members.get(g1!.id) ?? [])][0];
    if (someMember) removeMember(emu.org, g1!.id, someMember);
    updateGroup(emu.org, g2!.id, { name: 'renamed-group' });
    moveGroup(emu.org, g3!.id, g0!.id);
    const summary = await sync();
    expect(summary.status).toBe('succeeded');
    expect(await directory()).toEqual(expected());
    expect(summary.counts.users.create).toBe(1);
  });

  it('mirrors nested groups several levels deep, and group removals', async () => {
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
      addMember(emu.org, id, emu.org.users[level]!.id);
      parent = id;
    }
    removeGroup(emu.org, emu.org.groups[5]!.id);
    await sync();
    const dir = await directory();
    expect(dir).toEqual(expected());
    for (let level = 1; level < 6; level++)
      expect(dir.nesting.has(`g-chain-${level - 1}>group:g-chain-${level}`)).toBe(true);
    // The deepest user is an effective member of the top of the chain.
    const eff = await db.pool.query(
      `SELECT 1 FROM dirsync.effective_group_members m
         JOIN dirsync.groups g ON g.id = m.group_id JOIN dirsync.users u ON u.id = m.user_id
        WHERE g.connector = $1 AND g.external_id = 'g-chain-0' AND u.external_id = $2`,
      [config.name, emu.org.users[5]!.id],
    );
    expect(eff.rowCount).toBe(1);
  });

  it('a cycle made through the admin API: the run finishes, the closing edge is held, then released', async () => {
    // g-chain-4 sits below g-chain-2; making g-chain-2 a member of g-chain-4 closes a cycle.
    const res = await fetch(`${emu.url}/__emulator/groups/g-chain-4/subgroups`, {
      method: 'POST',
      body: JSON.stringify({ groupId: 'g-chain-2' }),
    });
    expect(res.status).toBe(201);
    const summary = await sync();
    expect(summary.status).toBe('succeeded');
    expect(summary.snapshot.held_edges).toBeGreaterThan(0);
    const want = expected();
    want.nesting.delete('g-chain-4>group:g-chain-2');
    expect(await directory()).toEqual(want);

    await fetch(`${emu.url}/__emulator/groups/g-chain-4/subgroups/g-chain-2`, { method: 'DELETE' });
    await sync();
    expect(await directory()).toEqual(expected());
  });

  it('finishes correctly through a storm of 403 userRateLimitExceeded and 429s', async () => {
    emu.throttle({ count: 40, status: 403, path: /\/members$/ });
    const a = await sync();
    expect(a.throttled).toBe(40);
    emu.throttle({ count: 25, status: 429, path: /\/members$/ });
    updateUser(emu.org, emu.org.users[10]!.id, { status: 'suspended' });
    const b = await sync();
    expect(b.throttled).toBe(25);
    expect(await directory()).toEqual(expected());
  });

  it('an auth failure fails the run and writes nothing', async () => {
    removeUser(emu.org, emu.org.users[20]!.id); // a change the failed run must not apply
    const good = process.env.DIRSYNC_GOOGLE_SA_KEY;
    process.env.DIRSYNC_GOOGLE_SA_KEY = foreignKeyFile(emu.serviceAccount);
    try {
      await expectFailedRunChangesNothing('DIRSYNC_E_IDP_AUTH');
    } finally {
      process.env.DIRSYNC_GOOGLE_SA_KEY = good;
    }
  });

  it('a page failing mid-run fails the run and writes nothing', async () => {
    emu.failRequests({ path: /\/members$/, fault: 'error', status: 503, after: 5 });
    try {
      await expectFailedRunChangesNothing('DIRSYNC_E_IDP_UNAVAILABLE');
    } finally {
      emu.clearFailures();
    }
    emu.failRequests({ path: /\/users$/, fault: 'truncate', after: 1 });
    try {
      await expectFailedRunChangesNothing('DIRSYNC_E_IDP_BAD_RESPONSE');
    } finally {
      emu.clearFailures();
    }
    // Once the IdP answers again, the pending change goes through.
    await sync();
    expect(await directory()).toEqual(expected());
  });
});
