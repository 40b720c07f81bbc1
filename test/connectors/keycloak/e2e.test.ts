/**
 * End to end: emulated Keycloak → connector (real SDK over HTTP) → pipeline → Postgres. After each
 * sync the directory must equal the org's truth as sets; failed runs must leave it untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { parseConnectorConfig } from '../../../config/load.js';
import type { ConnectorConfig } from '../../../config/schema.js';
import {
  addMember,
  addUser,
  moveGroup,
  removeMember,
  removeUser,
  updateGroup,
  updateUser,
} from '../../../connectors/emulator-kit/mutate.js';
import { startEmulator, type KeycloakEmulator } from '../../../connectors/keycloak/emulator/index.js';
import { keycloakConnector } from '../../../connectors/keycloak/index.js';
import type { Connector } from '../../../connectors/types.js';
import { runSync } from '../../../src/pipeline/run.js';
import { DirsyncError } from '../../../src/errors.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { directorySets, type DirectorySets } from '../../helpers/truth.js';
import { silent } from './helpers.js';

const connector = keycloakConnector as unknown as Connector;

type Directory = DirectorySets;

const directory = (pool: pg.Pool, name: string): Promise<Directory> =>
  directorySets(pool, name, (r) => `${r.external_id}|${r.username}|${r.active}`);

function truth(emu: KeycloakEmulator): Directory {
  const org = emu.org;
  const memberships = new Set<string>();
  for (const [g, set] of org.members) for (const u of set) memberships.add(`${g}>${u}`);
  return {
    users: new Set(org.users.map((u) => `${u.id}|${u.login.toLowerCase()}|${u.status === 'active'}`)),
    groups: new Set(org.groups.map((g) => `${g.id}|${g.name}`)),
    memberships,
    nesting: new Set(org.groups.filter((g) => g.parentId !== null).map((g) => `${g.parentId}>${g.id}`)),
  };
}

describe('keycloak → pipeline → Postgres', () => {
  let db: TestDatabase;
  let emu: KeycloakEmulator;
  let config: ConnectorConfig;

  const sync = (extra: Partial<Parameters<typeof runSync>[0]> = {}) =>
    // Full reads: these tests mutate the org model directly, which no change feed can see (the
    // feed tests mutate through the emulator's store and check feeds against full reads).
    runSync({
      pool: db.pool,
      config,
      connector,
      trigger: 'test',
      logger: silent,
      fullResync: true,
      ...extra,
    });

  beforeAll(async () => {
    db = await createTestDatabase();
    emu = await startEmulator({ users: 300, groups: 40, membersPerGroup: 15, nestingDepth: 3, seed: 21 });
    for (const [k, v] of Object.entries(emu.env)) process.env[k] = v;
    config = parseConnectorConfig(
      {
        ...emu.connector,
        pageSize: 40,
        retry: { maxAttempts: 30, baseDelay: '1ms', maxDelay: '5ms' },
        deletion: { deleteAfter: '0s' },
        guard: { minRemovals: 1_000_000 },
      },
      connector,
    );
  });
  afterAll(async () => {
    await emu?.close();
    await db?.drop();
  });

  it('a first sync makes the directory equal to the realm', async () => {
    const summary = await sync();
    expect(summary.status).toBe('succeeded');
    expect(summary.counts.users.create).toBe(emu.org.users.length);
    expect(summary.requests).toBeGreaterThan(0);
    expect(await directory(db.pool, config.name)).toEqual(truth(emu));
  });

  it('follows adds, renames, disables, removals, membership changes and moved subgroups', async () => {
    const org = emu.org;
    const newcomer = addUser(org, {
      id: '7a000000-0000-4000-8000-000000000001',
      login: 'new.person',
      email: 'new.person@example.com',
      givenName: 'New',
      familyName: 'Person',
      displayName: 'New Person',
      status: 'active',
      department: 'Sales',
      title: 'Analyst',
      created: '2025-01-01T00:00:00.000Z',
    });
    const renamed = org.users[10]!;
    updateUser(org, renamed.id, { login: `${renamed.login}.renamed` });
    const disabled = org.users.find((u, i) => i > 20 && u.status === 'active')!;
    updateUser(org, disabled.id, { status: 'suspended' });
    const gone = org.users[30]!;
    removeUser(org, gone.id);
    const g0 = org.groups[0]!;
    addMember(org, g0.id, newcomer.id);
    const g1 = org.groups.find((g) => (org.members.get(g.id)?.size ?? 0) > 0 && g.id !== g0.id)!;
    const leaver = [...org.members.get(g1.id)!][0]!;
    removeMember(org, g1.id, leaver);
    const child = org.groups.find((g) => g.parentId !== null)!;
    const newParent = org.groups.find(
      (g) => g.parentId === null && g.id !== child.parentId && g.id !== child.id,
    )!;
    moveGroup(org, child.id, newParent.id);
    const other = org.groups.filter((g) => g.parentId !== null)[1];
    if (other) moveGroup(org, other.id, null);
    updateGroup(org, org.groups[5]!.id, { name: 'renamed-team' });

    const summary = await sync();
    expect(summary.status).toBe('succeeded');
    expect(summary.counts.users.create).toBe(1);
    expect(summary.counts.users.delete + summary.counts.users.deactivate).toBeGreaterThanOrEqual(1);
    const dir = await directory(db.pool, config.name);
    expect(dir).toEqual(truth(emu));
    expect(dir.users.has(`${disabled.id}|${disabled.login.toLowerCase()}|false`)).toBe(true);
    expect(dir.nesting.has(`${newParent.id}>${child.id}`)).toBe(true);
  });

  it('a wrong secret fails the run with DIRSYNC_E_IDP_AUTH and writes nothing', async () => {
    const before = await directory(db.pool, config.name);
    updateUser(emu.org, emu.org.users[40]!.id, { status: 'suspended' });
    const saved = process.env.DIRSYNC_KEYCLOAK_CLIENT_SECRET;
    process.env.DIRSYNC_KEYCLOAK_CLIENT_SECRET = 'definitely-wrong-secret';
    try {
      const err = (await sync().catch((e: unknown) => e)) as DirsyncError;
      expect(err).toBeInstanceOf(DirsyncError);
      expect(err.code).toBe('DIRSYNC_E_IDP_AUTH');
      expect(err.message).not.toContain('definitely-wrong-secret');
    } finally {
      process.env.DIRSYNC_KEYCLOAK_CLIENT_SECRET = saved;
    }
    expect(await directory(db.pool, config.name)).toEqual(before);
  });

  it('a members page failing on every attempt fails the run and leaves the directory as it was', async () => {
    const before = await directory(db.pool, config.name);
    removeUser(emu.org, emu.org.users[50]!.id);
    const victim = emu.org.groups.find((g) => (emu.org.members.get(g.id)?.size ?? 0) > 0)!;
    emu.failRequests({ match: new RegExp(`/groups/${victim.id}/members`), mode: 'error', status: 500 });
    try {
      const err = (await sync().catch((e: unknown) => e)) as DirsyncError;
      expect(err).toBeInstanceOf(DirsyncError);
      expect(err.code).toBe('DIRSYNC_E_IDP_UNAVAILABLE');
    } finally {
      emu.failRequests(null);
    }
    expect(await directory(db.pool, config.name)).toEqual(before);
  });

  it('survives a token revoked mid-run and a 503 storm, and ends equal to the realm', async () => {
    let revoked = false;
    emu.storm(25);
    const summary = await sync({
      onProgress: (p) => {
        if (!revoked && p.source?.phase === 'members' && p.source.done >= 3) {
          revoked = true;
          emu.expireTokens();
        }
      },
    });
    expect(revoked).toBe(true);
    expect(summary.status).toBe('succeeded');
    expect(summary.throttled).toBe(25);
    expect(await directory(db.pool, config.name)).toEqual(truth(emu));
  });
});
