/**
 * The real connector (the official Okta SDK over HTTP) against the emulator: complete reads equal
 * the org's truth, paging edges, throttling, auth failures, token expiry, failing pages, malformed
 * records and filter push-down.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateOrg, type Org } from '../../../connectors/emulator-kit/org.js';
import type { OktaEmulator } from '../../../connectors/okta/emulator/index.js';
import { isDirsyncError } from '../../../src/errors.js';
import { expectRefusedOpsSkipped, postMutate } from '../emulator-mutate.js';
import { configFor, emulator, readAll, readFailing, snapshotSets, truth } from './helpers.js';

describe('okta connector: complete reads', () => {
  let emu: OktaEmulator;
  beforeAll(async () => {
    emu = await emulator({ users: 300, groups: 25, membersPerGroup: 12 });
  });
  afterAll(() => emu.close());

  it('reads every user (all statuses), group and membership with an API token', async () => {
    const { items, stats } = await readAll(configFor(emu));
    const t = truth(emu.org);
    expect(snapshotSets(items)).toEqual(t);
    // The org has suspended and deprovisioned users; DEPROVISIONED need their own filtered listing.
    expect(emu.org.users.some((u) => u.status === 'deprovisioned')).toBe(true);
    expect(items.filter((i) => i.kind === 'problem')).toEqual([]);
    expect(stats.requests).toBe(stats.pages);
    expect(stats.throttled).toBe(0);
  });

  it('maps Okta fields and statuses', async () => {
    const { items } = await readAll(configFor(emu));
    const users = items.filter((i) => i.kind === 'user');
    const locked = emu.org.users.find(
      (u) =>
        u.status === 'active' &&
        users.some((x) => x.kind === 'user' && x.externalId === u.id && x.attributes.status !== 'ACTIVE'),
    );
    expect(locked, 'some active org users render as LOCKED_OUT/RECOVERY/... and stay active').toBeDefined();
    const suspended = emu.org.users.find((u) => u.status === 'suspended');
    const s = users.find((x) => x.kind === 'user' && x.externalId === suspended?.id);
    expect(s).toMatchObject({ active: false, attributes: { status: 'SUSPENDED' } });
    const u0 = emu.org.users[0];
    const m0 = users.find((x) => x.kind === 'user' && x.externalId === u0?.id);
    expect(m0).toMatchObject({
      givenName: u0?.givenName,
      familyName: u0?.familyName,
      displayName: u0?.displayName,
      attributes: { department: u0?.department, title: u0?.title },
    });
    const groups = items.filter((i) => i.kind === 'group');
    expect(
      groups.some(
        (g) =>
          g.kind === 'group' &&
          g.attributes.type === 'APP_GROUP' &&
          typeof g.attributes.sourceAppId === 'string',
      ),
    ).toBe(true);
  });

  it('reads with a private key (client assertion + DPoP nonce dance) and DPoP-bound API calls', async () => {
    const pk = await emulator({
      users: 80,
      groups: 6,
      membersPerGroup: 10,
      auth: 'privateKey',
      requireDpop: true,
    });
    try {
      const { items, stats } = await readAll(configFor(pk));
      expect(snapshotSets(items)).toEqual(truth(pk.org));
      // One nonce challenge, then the token; every API call verified against the bound key.
      expect(pk.stats().tokenRequests).toBe(2);
      expect(stats.requests).toBe(pk.stats().requests);
    } finally {
      await pk.close();
    }
  });

  it('reads with a private key when the app does not require DPoP (Bearer token)', async () => {
    const pk = await emulator({
      users: 40,
      groups: 4,
      membersPerGroup: 5,
      auth: 'privateKey',
      requireDpop: false,
    });
    try {
      const { items } = await readAll(configFor(pk));
      expect(snapshotSets(items)).toEqual(truth(pk.org));
      expect(pk.stats().tokenRequests).toBe(1);
    } finally {
      await pk.close();
    }
  });
});

/** An org of `n` users, all active, with one group holding all of them. */
function flatOrg(n: number, groups = 1): Org {
  const org = generateOrg({ users: n, groups: 0, membersPerGroup: 0, nestingDepth: 0, seed: 3 });
  for (const u of org.users) u.status = 'active';
  for (let g = 0; g < groups; g++) {
    const id = `g${g.toString(16).padStart(8, '0')}`;
    org.groups.push({
      id,
      name: `team-${g}`,
      description: '',
      parentId: null,
      created: '2020-01-01T00:00:00.000Z',
    });
    org.members.set(id, new Set(org.users.map((u) => u.id)));
  }
  return org;
}

describe('okta connector: paging edges', () => {
  it('reads an empty org', async () => {
    const emu = await emulator({ org: { domain: 'example.com', users: [], groups: [], members: new Map() } });
    try {
      const { items, stats } = await readAll(configFor(emu));
      expect(items).toEqual([]);
      // Users (plain listing, then the DEPROVISIONED filter) and groups: one empty page each.
      expect(stats.pages).toBe(3);
    } finally {
      await emu.close();
    }
  });

  for (const [label, n] of [
    ['exact multiple of the page size', 15],
    ['page size + 1', 6],
    ['page size - 1', 4],
  ] as const) {
    it(`reads users and members at ${label}`, async () => {
      const emu = await emulator({ org: flatOrg(n, 2) });
      try {
        const config = configFor(emu, { pageSize: { users: 5, groups: 1, members: 5 } });
        const { items, stats } = await readAll(config);
        expect(snapshotSets(items)).toEqual(truth(emu.org));
        // Full pages carry a next link, so an exact multiple costs one empty page more.
        const userPages = Math.floor(n / 5) + 1;
        const groupPages = 2 + 1;
        expect(stats.pages).toBe(userPages + 1 + groupPages + 2 * userPages);
      } finally {
        await emu.close();
      }
    });
  }
});

describe('okta connector: rate limits and faults', () => {
  let emu: OktaEmulator;
  beforeAll(async () => {
    emu = await emulator({ users: 120, groups: 20, membersPerGroup: 10 });
  });
  afterAll(() => emu.close());

  it('finishes correctly through a storm of 429s, counting them', async () => {
    let stormed = false;
    const config = configFor(emu, {
      memberConcurrency: 6,
      retry: { maxRetries: 10, baseDelayMs: 5, maxDelayMs: 5000 },
    });
    const { items, stats } = await readAll(config, {
      progress: (p) => {
        // A storm while member lists are fetched six at a time.
        if (p.phase === 'members' && !stormed) {
          stormed = true;
          emu.throttle(12);
        }
      },
    });
    expect(snapshotSets(items)).toEqual(truth(emu.org));
    expect(stats.throttled).toBe(12);
    expect(stats.requests).toBe(stats.pages + 12);
  });

  it('paces itself from X-Rate-Limit-* headers instead of running into 429s', async () => {
    const slow = await emulator({
      users: 30,
      groups: 16,
      membersPerGroup: 5,
      rateLimits: { users: 20, groups: 10 },
      rateLimitWindowMs: 1000,
    });
    try {
      const { items, stats } = await readAll(configFor(slow, { memberConcurrency: 8 }));
      expect(snapshotSets(items)).toEqual(truth(slow.org));
      expect(stats.throttled).toBe(0);
      expect(slow.stats().throttled).toBe(0);
    } finally {
      await slow.close();
    }
  });

  it('stays correct when the org-wide concurrency cap answers 429', async () => {
    const capped = await emulator({
      users: 40,
      groups: 10,
      membersPerGroup: 6,
      concurrencyLimit: 2,
      latencyMs: 20,
    });
    try {
      const config = configFor(capped, {
        memberConcurrency: 6,
        rateLimit: { maxConcurrent: 6, reservePercent: 20 },
      });
      const { items, stats } = await readAll(config);
      expect(snapshotSets(items)).toEqual(truth(capped.org));
      expect(stats.throttled).toBeGreaterThan(0);
      expect(stats.throttled).toBe(capped.stats().throttled);
    } finally {
      await capped.close();
    }
  });

  it('gives up with DIRSYNC_E_IDP_THROTTLED when 429s outlast the retries', async () => {
    emu.throttle(1000);
    try {
      const { error, stats } = await readFailing(
        configFor(emu, { retry: { maxRetries: 1, baseDelayMs: 5, maxDelayMs: 3000 } }),
      );
      expect(isDirsyncError(error, 'DIRSYNC_E_IDP_THROTTLED')).toBe(true);
      expect(error).toMatchObject({ status: 429, vendorCode: 'E0000047' });
      expect(stats.throttled).toBe(2);
    } finally {
      emu.throttle(0);
    }
  });

  it('survives random 5xx, resets and truncated pages', async () => {
    emu.setFaults({ errorRate: 0.1, resetRate: 0.05, truncateRate: 0.05 });
    try {
      const { items, stats } = await readAll(
        configFor(emu, { retry: { maxRetries: 10, baseDelayMs: 2, maxDelayMs: 50 } }),
      );
      expect(snapshotSets(items)).toEqual(truth(emu.org));
      expect(stats.requests).toBeGreaterThan(stats.pages);
    } finally {
      emu.setFaults(undefined);
    }
  });

  it('fails (does not end early) when a page keeps failing mid-read', async () => {
    emu.setFaultRule({ pathPrefix: '/api/v1/users', withCursor: true, fault: 'error' });
    try {
      const { error, items, stats } = await readFailing(
        configFor(emu, { pageSize: { users: 50, groups: 200, members: 1000 } }),
      );
      expect(isDirsyncError(error, 'DIRSYNC_E_IDP_UNAVAILABLE')).toBe(true);
      expect((error as Error).message).toMatch(/\/api\/v1\/users.*HTTP 500.*4 retries/);
      expect(items.filter((i) => i.kind === 'user').length).toBe(50);
      expect(stats.requests).toBe(1 + 5);
    } finally {
      emu.setFaultRule(null);
    }
  });

  it('fails with DIRSYNC_E_IDP_BAD_RESPONSE when a page keeps arriving cut off', async () => {
    emu.setFaultRule({ pathPrefix: '/api/v1/groups/', fault: 'truncate' });
    try {
      const { error } = await readFailing(configFor(emu));
      expect(isDirsyncError(error, 'DIRSYNC_E_IDP_BAD_RESPONSE')).toBe(true);
    } finally {
      emu.setFaultRule(null);
    }
  });

  it('retries a request that times out', async () => {
    emu.setFaultRule({ pathPrefix: '/api/v1/groups', fault: 'timeout', times: 1 });
    try {
      // Long enough that only the hung request times out, even with many requests in flight on a busy machine.
      const { items, stats } = await readAll(configFor(emu, { requestTimeoutMs: 1500 }));
      expect(snapshotSets(items)).toEqual(truth(emu.org));
      expect(stats.requests).toBe(stats.pages + 1);
    } finally {
      emu.setFaultRule(null);
    }
  });

  it('stops promptly with DIRSYNC_E_RUN_CANCELLED when the run is aborted', async () => {
    const ac = new AbortController();
    const { error } = await readFailing(configFor(emu), {
      signal: ac.signal,
      progress: (p) => {
        if (p.phase === 'groups') ac.abort();
      },
    });
    expect(isDirsyncError(error, 'DIRSYNC_E_RUN_CANCELLED')).toBe(true);
  });
});

describe('okta connector: auth', () => {
  let emu: OktaEmulator;
  beforeAll(async () => {
    emu = await emulator({ users: 50, groups: 10, membersPerGroup: 6, auth: 'privateKey' });
  });
  afterAll(() => emu.close());

  it('a wrong API token fails with DIRSYNC_E_IDP_AUTH and never shows the token', async () => {
    process.env.DIRSYNC_OKTA_BAD_TOKEN = '00wrongTokenValue1234567890';
    const { error, items } = await readFailing(
      configFor(emu, { auth: { type: 'apiToken', token: { env: 'DIRSYNC_OKTA_BAD_TOKEN' } } }),
    );
    expect(isDirsyncError(error, 'DIRSYNC_E_IDP_AUTH')).toBe(true);
    expect(error).toMatchObject({ status: 401, vendorCode: 'E0000011' });
    expect(items).toEqual([]);
    expect(JSON.stringify({ m: (error as Error).message, e: error })).not.toContain('00wrongTokenValue');
  });

  it('a key the app does not know fails with DIRSYNC_E_IDP_AUTH and never shows the key', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    process.env.DIRSYNC_OKTA_OTHER_KEY = JSON.stringify(other);
    const { error } = await readFailing(
      configFor(emu, {
        auth: { ...(emu.connector.auth as object), privateKey: { env: 'DIRSYNC_OKTA_OTHER_KEY' } },
      }),
    );
    expect(isDirsyncError(error, 'DIRSYNC_E_IDP_AUTH')).toBe(true);
    expect((error as Error).message).toMatch(/invalid_client/);
    const shown = JSON.stringify({ m: (error as Error).message, e: error });
    expect(shown).not.toContain(String(other.d).slice(0, 20));
  });

  it('a scope the app was not granted fails with DIRSYNC_E_IDP_FORBIDDEN', async () => {
    const { error } = await readFailing(
      configFor(emu, {
        auth: { ...(emu.connector.auth as object), scopes: ['okta.users.read', 'okta.apps.read'] },
      }),
    );
    expect(isDirsyncError(error, 'DIRSYNC_E_IDP_FORBIDDEN')).toBe(true);
  });

  it('renews short-lived access tokens before they expire, mid-read', async () => {
    const short = await emulator({
      users: 30,
      groups: 12,
      membersPerGroup: 4,
      auth: 'privateKey',
      tokenTtlSeconds: 1,
      latencyMs: 40,
    });
    try {
      const { items } = await readAll(
        configFor(short, { memberConcurrency: 1, pageSize: { users: 5, groups: 5, members: 2 } }),
      );
      expect(snapshotSets(items)).toEqual(truth(short.org));
      // Nonce challenge + first token, then renewals as each one-second token runs out.
      expect(short.stats().tokenRequests).toBeGreaterThanOrEqual(3);
    } finally {
      await short.close();
    }
  });

  it('gets a new access token when the old one expires mid-read', async () => {
    const before = emu.stats().tokenRequests;
    let expired = 0;
    const { items } = await readAll(configFor(emu), {
      progress: (p) => {
        // Once while listing (sequential), once while member lists are fetched four at a time.
        if ((p.phase === 'groups' || (p.phase === 'members' && p.done === 6)) && expired < 2) {
          expired++;
          emu.expireTokens();
        }
      },
    });
    expect(expired).toBe(2);
    expect(snapshotSets(items)).toEqual(truth(emu.org));
    // First token (nonce challenge + token), then one per expiry: the nonce is remembered.
    expect(emu.stats().tokenRequests - before).toBe(2 + 2);
  });
});

describe('okta connector: malformed records', () => {
  it('reports records it cannot map as problems, with their ids', async () => {
    const emu = await emulator({ users: 40, groups: 5, membersPerGroup: 6 });
    try {
      const g = emu.org.groups[0]!;
      const [u1, u2] = emu.org.users.filter(
        (u) =>
          u.status === 'active' && [...emu.org.members].some(([gid, set]) => gid !== g.id && set.has(u.id)),
      );
      emu.corrupt(u1!.id, { profile: 'not-an-object' });
      emu.corrupt(u2!.id, { status: null, profile: { email: 42 } });
      emu.corrupt(g.id, { profile: { description: 'no name' } });
      const { items } = await readAll(configFor(emu));
      const problems = items.filter((i) => i.kind === 'problem');
      expect(problems).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ objectType: 'user', externalId: u1!.id }),
          expect.objectContaining({ objectType: 'user', externalId: u2!.id }),
          expect.objectContaining({ objectType: 'group', externalId: g.id }),
        ]),
      );
      expect(problems).toHaveLength(3);
      const ids = new Set(
        items.flatMap((i) => (i.kind === 'user' || i.kind === 'group' ? [i.externalId] : [])),
      );
      expect(ids.has(u1!.id) || ids.has(u2!.id) || ids.has(g.id)).toBe(false);
      // Memberships of a user with a problem are kept (the pipeline holds that user as it is).
      const memberOf = [...emu.org.members]
        .filter(([gid, set]) => gid !== g.id && set.has(u1!.id))
        .map(([gid]) => gid);
      const edges = items.flatMap((i) => (i.kind === 'edge' && i.memberId === u1!.id ? [i.groupId] : []));
      expect(memberOf.length).toBeGreaterThan(0);
      expect(edges.sort()).toEqual(memberOf.sort());
    } finally {
      await emu.close();
    }
  });
});

describe('okta connector: filter push-down', () => {
  let emu: OktaEmulator;
  beforeAll(async () => {
    // Generous limits: these tests read the same org many times and are about queries, not pacing.
    emu = await emulator({
      users: 200,
      groups: 40,
      membersPerGroup: 10,
      rateLimits: { users: 100_000, groups: 100_000 },
    });
  });
  afterAll(() => emu.close());

  it('pushes group includes down as a search and fetches members of matching groups only', async () => {
    const before = emu.stats().byFamily.groups ?? 0;
    const { items } = await readAll(configFor(emu), {
      groupFilter: { include: [{ name: 'eng' }, { glob: 'sales-*' }, { id: 'g00000005' }], exclude: [] },
    });
    const names = items.flatMap((i) => (i.kind === 'group' ? [i.name] : []));
    const expected = emu.org.groups.filter(
      (g) => g.name === 'eng' || g.name.startsWith('sales-') || g.id === 'g00000005',
    );
    expect(names.sort()).toEqual(expected.map((g) => g.name).sort());
    // One group listing plus one member page per matching group: nothing else downloaded.
    expect((emu.stats().byFamily.groups ?? 0) - before).toBe(1 + expected.length);
  });

  it('does not fetch members of excluded groups', async () => {
    const { items } = await readAll(configFor(emu), {
      groupFilter: { include: [], exclude: [{ glob: 'sales-*' }] },
    });
    const names = items.flatMap((i) => (i.kind === 'group' ? [i.name] : []));
    expect(names.some((n) => n.startsWith('sales-'))).toBe(false);
    expect(names.length).toBe(emu.org.groups.filter((g) => !g.name.startsWith('sales-')).length);
  });

  it('reads active users only with one status filter when the user filter keeps active users', async () => {
    const { items } = await readAll(configFor(emu), { activeUsersOnly: true });
    // Users who cannot sign in yet (STAGED, PROVISIONED) are left out with the inactive ones.
    const statuses = new Set(['ACTIVE', 'RECOVERY', 'PASSWORD_EXPIRED', 'LOCKED_OUT']);
    const t = truth(emu.org, { statuses });
    expect(t.users.length).toBeLessThan(
      truth(emu.org, { statuses: new Set([...statuses, 'PROVISIONED']) }).users.length,
    );
    expect(snapshotSets(items)).toEqual(t);
  });

  it('reads only the configured statuses (DEPROVISIONED alone needs a filter)', async () => {
    const { items } = await readAll(configFor(emu, { userStatuses: ['DEPROVISIONED'] }));
    const t = truth(emu.org, { statuses: new Set(['DEPROVISIONED']) });
    expect(t.users.length).toBeGreaterThan(0);
    expect(snapshotSets(items)).toEqual(t);
  });

  it('reads the built-in Everyone group when BUILT_IN is selected', async () => {
    const { items } = await readAll(configFor(emu, { groupTypes: ['OKTA_GROUP', 'APP_GROUP', 'BUILT_IN'] }));
    expect(snapshotSets(items)).toEqual(
      truth(emu.org, { groupTypes: ['OKTA_GROUP', 'APP_GROUP', 'BUILT_IN'] }),
    );
  });

  it('reads only APP_GROUPs when configured (type filter)', async () => {
    const { items } = await readAll(configFor(emu, { groupTypes: ['APP_GROUP'] }));
    const t = truth(emu.org, { groupTypes: ['APP_GROUP'] });
    expect(t.groups.length).toBeGreaterThan(0);
    expect(snapshotSets(items)).toEqual(t);
  });
});

describe('okta emulator admin API (for a separate process)', () => {
  it('adds users and memberships, renames groups and injects faults over HTTP', async () => {
    const emu = await emulator({ users: 20, groups: 3, membersPerGroup: 4 });
    try {
      const call = (method: string, path: string, body?: unknown) =>
        fetch(`${emu.url}/__emulator/${path}`, {
          method,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      expect((await call('POST', 'users', { id: 'u7e000001', login: 'admin.added' })).status).toBe(201);
      const group = emu.org.groups.find((g) => truth(emu.org).groups.some((r) => r.startsWith(`${g.id}|`)))!;
      expect((await call('PUT', `groups/${group.id}/members/u7e000001`)).status).toBe(204);
      expect((await call('PATCH', `groups/${group.id}`, { name: 'renamed-by-admin' })).status).toBe(200);
      expect((await call('PATCH', 'users/nobody', { login: 'x' })).status).toBe(404);
      const { items } = await readAll(configFor(emu));
      expect(snapshotSets(items)).toEqual(truth(emu.org));
      expect(items).toContainEqual(
        expect.objectContaining({ kind: 'edge', groupId: group.id, memberId: 'u7e000001' }),
      );
      expect(items).toContainEqual(
        expect.objectContaining({ kind: 'group', externalId: group.id, name: 'renamed-by-admin' }),
      );
      expect((await call('PUT', 'fault-rule', { pathPrefix: '/api/v1/users', fault: 'error' })).status).toBe(
        204,
      );
      const { error } = await readFailing(configFor(emu));
      expect(isDirsyncError(error, 'DIRSYNC_E_IDP_UNAVAILABLE')).toBe(true);
      const stats = (await (await call('GET', 'stats')).json()) as { requests: number };
      expect(stats.requests).toBeGreaterThan(0);
    } finally {
      await emu.close();
    }
  });

  it('mutate skips and reports the operations Okta refuses, applies the rest, and logs only what it applied', async () => {
    const emu = await emulator({ users: 30, groups: 6, membersPerGroup: 5 });
    try {
      await expectRefusedOpsSkipped({
        org: () => emu.org,
        mutate: postMutate(emu.url),
        createdUsers: () => emu.store.log.filter((e) => e.event.eventType === 'user.lifecycle.create').length,
      });
      const { items } = await readAll(configFor(emu));
      expect(snapshotSets(items)).toEqual(truth(emu.org));
    } finally {
      await emu.close();
    }
  });
});
