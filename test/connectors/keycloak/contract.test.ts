/**
 * Contract tests: the real Keycloak admin client, through the connector, against the emulator
 * over real HTTP. Each test compares sets of users, groups and edges with the org's truth.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  addUser,
  moveGroup,
  removeGroup,
  removeUser,
} from '../../../connectors/emulator-kit/mutate.js';
import type { Org, OrgUser } from '../../../connectors/emulator-kit/org.js';
import { startEmulator, type KeycloakEmulator } from '../../../connectors/keycloak/emulator/index.js';
import { DirsyncError } from '../../../src/errors.js';
import { configFor, countKind, readAll, snapshotSets, truthSets } from './helpers.js';

const small = { users: 230, groups: 40, membersPerGroup: 12, nestingDepth: 3, seed: 7 };

function userOf(i: number, over: Partial<OrgUser> = {}): OrgUser {
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    login: `user${String(i).padStart(4, '0')}`,
    email: `user${i}@example.com`,
    givenName: 'Test',
    familyName: `User ${i}`,
    displayName: `Test User ${i}`,
    status: 'active',
    department: 'Engineering',
    title: 'Engineer',
    created: '2024-01-01T00:00:00.000Z',
    ...over,
  };
}

/** An org of exactly `users` users and `groups` flat groups, each group holding `perGroup` users. */
function exactOrg(users: number, groups: number, perGroup: number): Org {
  const org: Org = { domain: 'example.com', users: [], groups: [], members: new Map() };
  for (let i = 0; i < users; i++) org.users.push(userOf(i));
  for (let g = 0; g < groups; g++) {
    const id = `10000000-0000-4000-8000-${String(g).padStart(12, '0')}`;
    org.groups.push({
      id,
      name: `team-${g}`,
      description: '',
      parentId: null,
      created: '2024-01-01T00:00:00.000Z',
    });
    org.members.set(id, new Set(org.users.slice(0, perGroup).map((u) => u.id)));
  }
  return org;
}

describe('keycloak connector: full read', () => {
  let emu: KeycloakEmulator;
  beforeAll(async () => {
    emu = await startEmulator(small);
  });
  afterAll(() => emu.close());

  it('reads users, the group tree and direct members exactly as the org has them', async () => {
    const { items, stats } = await readAll(configFor(emu, { pageSize: 50 }));
    const got = snapshotSets(items);
    const want = truthSets(emu.org);
    expect(got.problems).toEqual([]);
    expect(got.users).toEqual(want.users);
    expect(got.groups).toEqual(want.groups);
    expect(got.edges).toEqual(want.edges);
    // Each record once: a user or group yielded twice would be a duplicate id for the pipeline.
    expect(countKind(items, 'user')).toBe(emu.org.users.length);
    expect(countKind(items, 'group')).toBe(emu.org.groups.length);
    expect(emu.org.groups.some((g) => g.parentId !== null)).toBe(true);
    expect(stats.requests).toBeGreaterThan(stats.pages);
    expect(stats.throttled).toBe(0);
  });

  it('maps Keycloak fields: disabled users inactive, attributes flattened, display name composed', async () => {
    const { items } = await readAll(configFor(emu));
    const users = items.filter((i) => i.kind === 'user');
    const byId = new Map(users.map((u) => [u.externalId, u]));
    for (const u of emu.org.users) {
      const got = byId.get(u.id);
      expect(got?.active).toBe(u.status === 'active');
      expect(got?.email).toBe(u.email === null ? null : u.email.toLowerCase());
      expect(got?.givenName).toBe(u.givenName);
      expect(got?.familyName).toBe(u.familyName);
      expect(got?.displayName).toBe(`${u.givenName} ${u.familyName}`);
      expect(got?.attributes.department).toBe(u.department);
      expect(got?.attributes.title).toBe(u.title);
    }
    expect(emu.org.users.some((u) => u.status !== 'active')).toBe(true);
    const groups = items.filter((i) => i.kind === 'group');
    const nested = emu.org.groups.find((g) => g.parentId !== null)!;
    const parent = emu.org.groups.find((g) => g.id === nested.parentId)!;
    const rep = groups.find((g) => g.externalId === nested.id)!;
    expect(String(rep.attributes.path).endsWith(`/${parent.name}/${nested.name}`)).toBe(true);
    const described = emu.org.groups.find((g) => g.description !== '')!;
    expect(groups.find((g) => g.externalId === described.id)?.description).toBe(described.description);
    const undescribed = emu.org.groups.find((g) => g.description === '')!;
    expect(groups.find((g) => g.externalId === undescribed.id)?.description).toBeNull();
  });

  it('reports progress for users, groups and members with totals', async () => {
    const { progress } = await readAll(configFor(emu, { pageSize: 50 }));
    const last = (phase: string) => progress.filter((p) => p.phase === phase).at(-1);
    expect(last('users')).toEqual({
      phase: 'users',
      done: emu.org.users.length,
      total: emu.org.users.length,
    });
    expect(last('members')?.done).toBe(emu.org.groups.length);
    expect(last('members')?.total).toBe(emu.org.groups.length);
    expect(last('groups')?.done).toBe(emu.org.groups.length);
  });
});

describe('keycloak connector: paging edges', () => {
  it('reads an empty realm as an empty snapshot', async () => {
    const emu = await startEmulator({
      ...small,
      org: { domain: 'x', users: [], groups: [], members: new Map() },
    });
    try {
      const { items } = await readAll(configFor(emu, { pageSize: 10 }));
      expect(items).toEqual([]);
    } finally {
      await emu.close();
    }
  });

  for (const [users, groups, perGroup] of [
    [40, 20, 20], // exact multiples of the page size
    [41, 21, 21], // page size + 1
    [39, 19, 19], // one short
  ] as const) {
    it(`reads ${users} users, ${groups} groups of ${perGroup} members with pages of 20`, async () => {
      const emu = await startEmulator({ ...small, org: exactOrg(users, groups, perGroup) });
      try {
        const { items, stats } = await readAll(configFor(emu, { pageSize: 20 }));
        const got = snapshotSets(items);
        const want = truthSets(emu.org);
        expect(got.users).toEqual(want.users);
        expect(got.groups).toEqual(want.groups);
        expect(got.edges).toEqual(want.edges);
        expect(countKind(items, 'edge')).toBe(groups * perGroup);
        expect(stats.pages).toBeGreaterThan(0);
      } finally {
        await emu.close();
      }
    });
  }

  it("reads subgroups past Keycloak's default of 10 children per page", async () => {
    const org = exactOrg(5, 1, 2);
    const root = org.groups[0]!;
    for (let i = 0; i < 25; i++) {
      const id = `20000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      org.groups.push({ id, name: `sub-${i}`, description: '', parentId: root.id, created: root.created });
      org.members.set(id, new Set([org.users[i % 5]!.id]));
    }
    const emu = await startEmulator({ ...small, org });
    try {
      const got = snapshotSets((await readAll(configFor(emu, { pageSize: 10 }))).items);
      expect(got.edges).toEqual(truthSets(emu.org).edges);
      expect([...got.edges].filter((e) => e.startsWith(`${root.id}>g:`))).toHaveLength(25);
    } finally {
      await emu.close();
    }
  });

  it('sees org changes between reads (added, removed users, new memberships, moved groups)', async () => {
    const emu = await startEmulator(small);
    try {
      const config = configFor(emu, { pageSize: 50 });
      await readAll(config);
      const added = addUser(emu.org, userOf(9001, { login: 'zz.new' }));
      removeUser(emu.org, emu.org.users[3]!.id);
      addMember(emu.org, emu.org.groups[0]!.id, added.id);
      const child = emu.org.groups.find((g) => g.parentId !== null)!;
      moveGroup(emu.org, child.id, null);
      const got = snapshotSets((await readAll(config)).items);
      const want = truthSets(emu.org);
      expect(got.users).toEqual(want.users);
      expect(got.edges).toEqual(want.edges);
      expect(got.edges.has(`${emu.org.groups[0]!.id}>u:${added.id}`)).toBe(true);
    } finally {
      await emu.close();
    }
  });
});

describe('keycloak connector: failures', () => {
  let emu: KeycloakEmulator;
  beforeAll(async () => {
    emu = await startEmulator(small);
  });
  afterAll(() => emu.close());

  it('finishes correctly through a storm of 503s (Keycloak shedding load)', async () => {
    // Counted in requests: the first (sequential) requests take many of them, hence the budget.
    emu.storm(60);
    const { items, stats } = await readAll(
      configFor(emu, { pageSize: 50, retry: { maxAttempts: 70, baseDelay: '1ms', maxDelay: '4ms' } }),
    ).finally(() => emu.storm(0));
    const got = snapshotSets(items);
    const want = truthSets(emu.org);
    expect(got.users).toEqual(want.users);
    expect(got.edges).toEqual(want.edges);
    expect(stats.throttled).toBe(60);
  });

  it('stays correct when more concurrency than Keycloak accepts is configured', async () => {
    emu.setMaxInFlight(2);
    emu.setLatency(2);
    try {
      const { items, stats } = await readAll(
        configFor(emu, {
          pageSize: 50,
          concurrency: 8,
          retry: { maxAttempts: 50, baseDelay: '1ms', maxDelay: '8ms' },
        }),
      );
      expect(snapshotSets(items).edges).toEqual(truthSets(emu.org).edges);
      expect(stats.throttled).toBeGreaterThan(0);
    } finally {
      emu.setMaxInFlight(0);
      emu.setLatency(0);
    }
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    const fresh = await startEmulator({ ...small, latencyMs: 3 });
    try {
      await readAll(configFor(fresh, { pageSize: 20, concurrency: 3 }));
      expect(fresh.peakInFlight()).toBeLessThanOrEqual(3);
      expect(fresh.peakInFlight()).toBeGreaterThan(1);
    } finally {
      await fresh.close();
    }
  });

  it('retries random 503s, resets and truncated pages and still reads everything', async () => {
    emu.setFaults({ errorRate: 0.08, resetRate: 0.04, truncateRate: 0.04 });
    try {
      const { items, stats } = await readAll(
        configFor(emu, { pageSize: 50, retry: { maxAttempts: 12, baseDelay: '1ms', maxDelay: '5ms' } }),
      );
      const got = snapshotSets(items);
      expect(got.users).toEqual(truthSets(emu.org).users);
      expect(got.edges).toEqual(truthSets(emu.org).edges);
      expect(stats.requests).toBeGreaterThan(stats.pages + 3);
    } finally {
      emu.setFaults(undefined);
    }
  });

  it('fails with DIRSYNC_E_IDP_AUTH on a wrong secret, without the secret in the message', async () => {
    process.env.KC_WRONG_SECRET = 'not-the-secret-s3cr3t';
    const config = configFor(emu);
    const err = await readAll({
      ...config,
      auth: { type: 'clientCredentials', clientId: 'dirsync', clientSecret: { env: 'KC_WRONG_SECRET' } },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DirsyncError);
    expect((err as DirsyncError).code).toBe('DIRSYNC_E_IDP_AUTH');
    expect((err as DirsyncError).status).toBe(401);
    expect((err as DirsyncError).vendorCode).toBe('unauthorized_client');
    const text = `${(err as Error).message} ${JSON.stringify(err)}`;
    expect(text).not.toContain('not-the-secret-s3cr3t');
    expect(text).not.toContain(emu.env.DIRSYNC_KEYCLOAK_CLIENT_SECRET);
  });

  it('authenticates with the password grant against the master realm', async () => {
    const config = configFor(emu, {
      auth: { type: 'password', username: 'admin', password: { env: 'DIRSYNC_KEYCLOAK_ADMIN_PASSWORD' } },
    });
    expect(config.auth.type === 'password' && config.auth.clientId).toBe('admin-cli');
    const got = snapshotSets((await readAll(config)).items);
    expect(got.users).toEqual(truthSets(emu.org).users);
  });

  it('fails with DIRSYNC_E_IDP_AUTH on a wrong password', async () => {
    process.env.KC_WRONG_PASSWORD = 'hunter2-wrong';
    const config = configFor(emu, {
      auth: { type: 'password', username: 'admin', password: { env: 'KC_WRONG_PASSWORD' } },
    });
    const err = (await readAll(config).catch((e: unknown) => e)) as DirsyncError;
    expect(err.code).toBe('DIRSYNC_E_IDP_AUTH');
    expect(err.vendorCode).toBe('invalid_grant');
    expect(err.message).not.toContain('hunter2-wrong');
  });

  it('fails with DIRSYNC_E_IDP_FORBIDDEN when the service account lacks roles', async () => {
    emu.setForbidden(true);
    try {
      const err = (await readAll(configFor(emu)).catch((e: unknown) => e)) as DirsyncError;
      expect(err.code).toBe('DIRSYNC_E_IDP_FORBIDDEN');
      expect(err.status).toBe(403);
    } finally {
      emu.setForbidden(false);
    }
  });

  it('re-authenticates when the token is revoked mid-read', async () => {
    const before = emu.tokenRequestCount();
    let revoked = false;
    const config = configFor(emu, { pageSize: 20 });
    const { items } = await readAll(config, {
      progress: (p) => {
        if (!revoked && p.phase === 'members' && p.done === 5) {
          revoked = true;
          emu.expireTokens();
        }
      },
    });
    expect(revoked).toBe(true);
    expect(emu.rejectedTokenCount()).toBeGreaterThan(0);
    expect(emu.tokenRequestCount() - before).toBeGreaterThanOrEqual(2);
    expect(snapshotSets(items).edges).toEqual(truthSets(emu.org).edges);
  });

  it('gets a new token before the old one expires (client credentials cannot be refreshed)', async () => {
    // 3 s tokens; the read below takes longer (about 160 requests of 20 ms one at a time). What
    // is asserted is not timing but that no request ever went out with an expired token.
    emu.setTokenLifetime(3);
    emu.setLatency(20);
    try {
      const tokensBefore = emu.tokenRequestCount();
      const rejectedBefore = emu.rejectedTokenCount();
      const { items } = await readAll(configFor(emu, { pageSize: 5, concurrency: 1 }));
      expect(snapshotSets(items).edges).toEqual(truthSets(emu.org).edges);
      expect(emu.tokenRequestCount() - tokensBefore).toBeGreaterThanOrEqual(2);
      expect(emu.rejectedTokenCount() - rejectedBefore).toBe(0);
    } finally {
      emu.setTokenLifetime(300);
      emu.setLatency(0);
    }
  });

  for (const mode of ['error', 'truncate', 'reset'] as const) {
    it(`throws (does not end early) when a members page fails persistently (${mode})`, async () => {
      const group = emu.org.groups.find((g) => (emu.org.members.get(g.id)?.size ?? 0) > 0)!;
      emu.failRequests({ match: new RegExp(`/groups/${group.id}/members`), mode, status: 500 });
      try {
        const err = (await readAll(
          configFor(emu, { retry: { maxAttempts: 3, baseDelay: '1ms', maxDelay: '2ms' } }),
        ).catch((e: unknown) => e)) as DirsyncError;
        expect(err).toBeInstanceOf(DirsyncError);
        expect(['DIRSYNC_E_IDP_UNAVAILABLE', 'DIRSYNC_E_IDP_BAD_RESPONSE']).toContain(err.code);
        expect(err.retryable).toBe(true);
      } finally {
        emu.failRequests(null);
      }
    });
  }

  it('throws when a users page is cut off on every attempt', async () => {
    emu.failRequests({ match: /\/users\/?\?.*first=50/, mode: 'truncate' });
    try {
      const err = (await readAll(
        configFor(emu, { pageSize: 50, retry: { maxAttempts: 2, baseDelay: '1ms', maxDelay: '1ms' } }),
      ).catch((e: unknown) => e)) as DirsyncError;
      expect(err.code).toBe('DIRSYNC_E_IDP_BAD_RESPONSE');
    } finally {
      emu.failRequests(null);
    }
  });

  it('retries a request that hangs past the request timeout', async () => {
    const group = emu.org.groups[2]!;
    emu.failRequests({ match: new RegExp(`/groups/${group.id}/members`), mode: 'timeout', times: 2 });
    try {
      const { items, stats } = await readAll(configFor(emu, { requestTimeout: '200ms' }));
      expect(snapshotSets(items).edges).toEqual(truthSets(emu.org).edges);
      expect(stats.requests).toBeGreaterThan(stats.pages + 2);
    } finally {
      emu.failRequests(null);
    }
  });

  it('fails retryably, instead of missing users, when users are added or removed during the read', async () => {
    const fresh = await startEmulator(small);
    try {
      let changed = false;
      const err = (await readAll(configFor(fresh, { pageSize: 20, concurrency: 1 }), {
        progress: (p) => {
          if (!changed && p.phase === 'users' && p.done === 40) {
            changed = true;
            // Deleting a user on an early page shifts every later page by one: offset paging
            // would silently skip a user, who would then be deactivated.
            removeUser(fresh.org, [...fresh.org.users].sort((a, b) => (a.login < b.login ? -1 : 1))[0]!.id);
          }
        },
      }).catch((e: unknown) => e)) as DirsyncError;
      expect(changed).toBe(true);
      expect(err).toBeInstanceOf(DirsyncError);
      expect(err.code).toBe('DIRSYNC_E_SOURCE_FAILED');
      expect(err.retryable).toBe(true);
    } finally {
      await fresh.close();
    }
  });

  it('fails retryably when a group is deleted between being listed and its members being read', async () => {
    const fresh = await startEmulator(small);
    try {
      let removed = false;
      const err = (await readAll(configFor(fresh, { pageSize: 20, concurrency: 1 }), {
        progress: (p) => {
          if (!removed && p.phase === 'members' && p.done === 1) {
            removed = true;
            // A top-level group: listed already, its members not read yet (one request at a time).
            const top = fresh.org.groups
              .filter((g) => g.parentId === null)
              .sort((a, b) => (a.name < b.name ? -1 : 1));
            removeGroup(fresh.org, top[10]!.id);
          }
        },
      }).catch((e: unknown) => e)) as DirsyncError;
      expect(removed).toBe(true);
      expect(err.code).toBe('DIRSYNC_E_SOURCE_FAILED');
      expect(err.retryable).toBe(true);
      expect(err.status).toBe(404);
    } finally {
      await fresh.close();
    }
  });

  it('turns malformed records into problems, not crashes or silent drops', async () => {
    const victim = emu.org.users[5]!;
    const other = emu.org.users[6]!;
    emu.patchUser(victim.id, { username: undefined });
    emu.patchUser(other.id, { enabled: 'yes' });
    try {
      const { items } = await readAll(configFor(emu));
      const problems = snapshotSets(items).problems;
      expect(problems.map((p) => p.externalId).sort()).toEqual([victim.id, other.id].sort());
      expect(problems.every((p) => p.objectType === 'user')).toBe(true);
      expect(items.some((i) => i.kind === 'user' && i.externalId === victim.id)).toBe(false);
    } finally {
      emu.patchUser(victim.id, null);
      emu.patchUser(other.id, null);
    }
  });

  it('stops promptly when the run is cancelled', async () => {
    const ac = new AbortController();
    emu.setLatency(20);
    try {
      const p = readAll(configFor(emu, { pageSize: 20 }), { signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      // Whatever is in flight at that moment (the token request, a page), the read stops with the
      // cancellation, not with a transport error from the torn-down connections.
      const err = (await p.catch((e: unknown) => e)) as DirsyncError;
      expect(err.code).toBe('DIRSYNC_E_RUN_CANCELLED');
    } finally {
      emu.setLatency(0);
    }
  });
});
