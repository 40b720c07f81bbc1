/**
 * End to end: emulated Okta org → connector (the official SDK over HTTP) → pipeline → Postgres.
 * After each sync the directory must equal the org's truth as sets; failed runs must leave it as it was.
 */
import type pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectorConfig } from '../../../config/load.js';
import type { ConnectorConfig } from '../../../config/schema.js';
import {
  addGroup,
  addMember,
  addUser,
  removeMember,
  removeUser,
  updateGroup,
  updateUser,
} from '../../../connectors/emulator-kit/mutate.js';
import {
  oktaEmail,
  oktaLogin,
  oktaGroupType,
  type OktaEmulator,
} from '../../../connectors/okta/emulator/index.js';
import { oktaConnector } from '../../../connectors/okta/index.js';
import type { Connector } from '../../../connectors/types.js';
import { isDirsyncError } from '../../../src/errors.js';
import { runSync } from '../../../src/pipeline/run.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { directorySets, type DirectorySets } from '../../helpers/truth.js';
import { emulator } from './helpers.js';

const connector = oktaConnector as unknown as Connector;
const silent = pino({ level: 'silent' });

type Directory = DirectorySets;

const directory = (pool: pg.Pool, name: string): Promise<Directory> =>
  directorySets(pool, name, (r) => `${r.external_id}|${r.username}|${r.email}|${r.active}`);

/** The org as the directory must hold it: all statuses (suspended/deprovisioned inactive), no nesting. */
function truth(emu: OktaEmulator): Directory {
  const org = emu.org;
  const groups = org.groups.filter((g) => oktaGroupType(g) !== 'BUILT_IN');
  const memberships = new Set<string>();
  for (const g of groups) for (const u of org.members.get(g.id) ?? []) memberships.add(`${g.id}>${u}`);
  return {
    users: new Set(
      org.users.map((u) => `${u.id}|${oktaLogin(org, u)}|${oktaEmail(org, u)}|${u.status === 'active'}`),
    ),
    groups: new Set(groups.map((g) => `${g.id}|${g.name}`)),
    memberships,
    // Okta has no nested groups: the org model's parents are not rendered, so no nesting either.
    nesting: new Set(),
  };
}

describe('okta → pipeline → Postgres', () => {
  let db: TestDatabase;
  let emu: OktaEmulator;
  let config: ConnectorConfig;

  const sync = (extra: Partial<Parameters<typeof runSync>[0]> = {}) =>
    runSync({ pool: db.pool, config, connector, trigger: 'test', logger: silent, ...extra });

  beforeAll(async () => {
    db = await createTestDatabase();
    // Generous rate limits: these runs are about correctness; pacing is covered by the contract tests.
    emu = await emulator({
      users: 400,
      groups: 40,
      membersPerGroup: 15,
      nestingDepth: 3,
      seed: 31,
      auth: 'privateKey',
      rateLimits: { users: 100_000, groups: 100_000, token: 100_000 },
    });
    config = parseConnectorConfig(
      {
        ...emu.connector,
        pageSize: { users: 50, groups: 10, members: 20 },
        retry: { maxRetries: 4, baseDelayMs: 2, maxDelayMs: 3000 },
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

  it('a first sync makes the directory equal to the org', async () => {
    Object.assign(process.env, emu.env);
    const summary = await sync();
    expect(summary.status).toBe('succeeded');
    expect(summary.counts.users.create).toBe(emu.org.users.length);
    expect(summary.requests).toBeGreaterThan(0);
    const dir = await directory(db.pool, config.name);
    expect(dir).toEqual(truth(emu));
    expect([...dir.users].some((u) => u.endsWith('|false'))).toBe(true);
  });

  it('follows adds, renames, suspensions, deprovisioning, removals and membership changes', async () => {
    const org = emu.org;
    const [a, b, c, d] = org.users.filter((u) => u.status === 'active');
    addUser(org, {
      id: 'u7f000001',
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
    updateUser(org, a!.id, { login: `${a!.login}.renamed` });
    updateUser(org, b!.id, { status: 'suspended' });
    updateUser(org, c!.id, { status: 'deprovisioned' });
    removeUser(org, d!.id);
    const reactivated = org.users.find((u) => u.status === 'suspended' && u.id !== b!.id);
    if (reactivated) updateUser(org, reactivated.id, { status: 'active' });
    const g0 = org.groups.find((g) => oktaGroupType(g) === 'OKTA_GROUP')!;
    const g1 = org.groups.find((g) => g.id !== g0.id && (org.members.get(g.id)?.size ?? 0) > 0)!;
    addMember(org, g0.id, 'u7f000001');
    removeMember(org, g1.id, [...org.members.get(g1.id)!][0]!);
    updateGroup(org, g0.id, { name: `${g0.name}-renamed` });
    addGroup(org, {
      id: 'g7f000001',
      name: 'brand-new',
      description: 'fresh',
      parentId: null,
      created: '2025-01-01T00:00:00.000Z',
    });
    addMember(org, 'g7f000001', a!.id);

    Object.assign(process.env, emu.env);
    const summary = await sync();
    expect(summary.status).toBe('succeeded');
    expect(summary.counts.users.create).toBe(1);
    expect(summary.counts.groups.create).toBe(1);
    expect(summary.counts.memberships.add).toBeGreaterThanOrEqual(2);
    expect(await directory(db.pool, config.name)).toEqual(truth(emu));
  });

  it('survives a 429 storm and an access token expiring mid-run', async () => {
    Object.assign(process.env, emu.env);
    let stormed = false;
    const summary = await sync({
      onProgress: (p) => {
        if (p.source?.phase === 'members' && !stormed) {
          stormed = true;
          emu.expireTokens();
          emu.throttle(6);
        }
      },
    });
    expect(stormed).toBe(true);
    expect(summary.status).toBe('succeeded');
    expect(summary.throttled).toBe(6);
    expect(await directory(db.pool, config.name)).toEqual(truth(emu));
  });

  it('an auth failure fails the run with DIRSYNC_E_IDP_AUTH and changes nothing', async () => {
    const before = await directory(db.pool, config.name);
    updateUser(emu.org, emu.org.users[5]!.id, { login: 'should.not.appear' });
    process.env.DIRSYNC_OKTA_PRIVATE_KEY = (await import('node:crypto'))
      .generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ format: 'pem', type: 'pkcs8' })
      .toString();
    const err = await sync().catch((e: unknown) => e);
    expect(isDirsyncError(err, 'DIRSYNC_E_IDP_AUTH')).toBe(true);
    expect((err as Error).message).not.toMatch(/PRIVATE KEY/);
    expect(await directory(db.pool, config.name)).toEqual(before);
  });

  it('a page failing mid-run fails the run and changes nothing', async () => {
    Object.assign(process.env, emu.env);
    const before = await directory(db.pool, config.name);
    emu.setFaultRule({ pathPrefix: '/api/v1/groups/', withCursor: true, fault: 'error' });
    try {
      const err = await sync().catch((e: unknown) => e);
      expect(isDirsyncError(err, 'DIRSYNC_E_IDP_UNAVAILABLE')).toBe(true);
    } finally {
      emu.setFaultRule(null);
    }
    expect(await directory(db.pool, config.name)).toEqual(before);
    // With the fault gone the next run catches up.
    await sync();
    expect(await directory(db.pool, config.name)).toEqual(truth(emu));
  });
});
