/**
 * Contract tests: the real connector (official SDK, real HTTP) against the emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, addUser, moveGroup, removeGroup } from '../../../connectors/emulator-kit/mutate.js';
import type { OrgUser } from '../../../connectors/emulator-kit/org.js';
import { googleConnector } from '../../../connectors/google/index.js';
import type { GoogleEmulator } from '../../../connectors/google/emulator/index.js';
import { foreignKeyFile } from '../../../connectors/google/emulator/token.js';
import { DirsyncError } from '../../../src/errors.js';
import { collect, configFor, context, readWith, startGoogle, truth } from './helpers.js';

async function readError(
  emu: GoogleEmulator,
  overrides: Record<string, unknown> = {},
  ctx = context(),
): Promise<DirsyncError> {
  const err = await readWith(emu, overrides, ctx).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DirsyncError);
  return err as DirsyncError;
}

function expectNoSecret(emu: GoogleEmulator, err: Error): void {
  const text = `${err.message} ${JSON.stringify(err)} ${String((err.cause as Error | undefined)?.message ?? '')}`;
  expect(text).not.toContain('PRIVATE KEY');
  expect(text).not.toContain(emu.serviceAccount.keyFile.private_key?.slice(40, 80));
  expect(text).not.toMatch(/ya29\./);
  expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/); // a JWT assertion
}

describe('google connector: full read', () => {
  let emu: GoogleEmulator;
  beforeAll(async () => {
    emu = await startGoogle({ users: 120, groups: 20, membersPerGroup: 15, nestingDepth: 4, seed: 11 });
  });
  afterAll(() => emu.close());

  it('reads users, groups and direct edges equal to the org, statuses mapped', async () => {
    const { snap, stats, ctx } = await readWith(emu, { pageSize: { users: 50, groups: 7, members: 9 } });
    const t = truth(emu);
    expect(snap.users).toEqual(t.users);
    expect(snap.groups).toEqual(t.groups);
    expect(snap.edges).toEqual(t.edges);
    expect(snap.problems).toEqual([]);
    // Both kinds of inactive user exist in this org and read as inactive.
    const statuses = new Set(emu.org.users.filter((u) => u.status !== 'active').map((u) => u.status));
    expect(statuses).toEqual(new Set(['suspended', 'deprovisioned']));
    const archived = emu.org.users.find((u) => u.status === 'deprovisioned');
    const item = snap.items.find((i) => i.kind === 'user' && i.externalId === archived?.id);
    expect(item).toMatchObject({ active: false, attributes: { status: 'archived', archived: true } });
    // Nested groups exist, several levels deep.
    expect([...snap.edges].some((e) => e.includes('>group:'))).toBe(true);
    expect(stats.pages).toBeGreaterThan(20);
    expect(ctx.seen.some((p) => p.phase === 'members' && p.done === 20 && p.total === 20)).toBe(true);
  });

  it('maps attributes: department, title, org unit; group email and member count', async () => {
    const { snap } = await readWith(emu);
    const u = emu.org.users[3];
    const item = snap.items.find((i) => i.kind === 'user' && i.externalId === u?.id);
    expect(item).toMatchObject({
      kind: 'user',
      givenName: u?.givenName,
      familyName: u?.familyName,
      attributes: { department: u?.department, title: u?.title, orgUnitPath: '/' },
    });
    const g = emu.org.groups[1];
    const gi = snap.items.find((i) => i.kind === 'group' && i.externalId === g?.id);
    expect(gi).toMatchObject({ attributes: { email: emu.directory.groupEmail(g!) } });
  });

  it('counts requests the server saw (token requests and retries included)', async () => {
    const before = emu.requestCount();
    const { stats } = await readWith(emu);
    expect(stats.requests).toBe(emu.requestCount() - before);
  });
});

describe('google connector: members Google has and the directory has not', () => {
  it('skips CUSTOMER and external members and counts them; DAG nesting and a cycle are read as edges', async () => {
    const emu = await startGoogle({ users: 30, groups: 6, membersPerGroup: 5, nestingDepth: 2, seed: 3 });
    try {
      const [g0, g1, g2] = emu.org.groups.map((g) => g.id) as [string, string, string];
      emu.addExternalMember(g0, { type: 'CUSTOMER' });
      emu.addExternalMember(g0, { type: 'USER', email: 'friend@gmail.com' });
      emu.addExternalMember(g1, { type: 'USER', email: 'contractor@partner.example' });
      emu.addSubgroup(g0, g2);
      emu.addSubgroup(g2, g0); // a cycle: Google allows it, the pipeline reports it
      const { snap, stats } = await readWith(emu);
      expect(snap.edges).toEqual(truth(emu).edges);
      expect(snap.edges.has(`${g0}>group:${g2}`) && snap.edges.has(`${g2}>group:${g0}`)).toBe(true);
      expect(stats.skipped).toBe(3);
    } finally {
      await emu.close();
    }
  });
});

describe('google connector: paging edges', () => {
  it('reads an empty account', async () => {
    const emu = await startGoogle({ users: 0, groups: 0, membersPerGroup: 0, nestingDepth: 0 });
    try {
      const { snap, stats } = await readWith(emu);
      expect(snap.items).toEqual([]);
      expect(stats.pages).toBe(0); // empty pages carry no list at all
    } finally {
      await emu.close();
    }
  });

  for (const tokenOnFullLastPage of [true, false]) {
    it(`reads exact multiples of the page size and page size + 1 (tokenOnFullLastPage=${tokenOnFullLastPage})`, async () => {
      const emu = await startGoogle({
        users: 20,
        groups: 8,
        membersPerGroup: 4,
        nestingDepth: 0,
        tokenOnFullLastPage,
      });
      try {
        // Group 0 gets exactly 10 members (2 pages of 5), group 2 gets 11 (page size + 1).
        const [g0, , g2] = emu.org.groups.map((g) => g.id) as [string, string, string];
        emu.org.members.set(g0, new Set(emu.org.users.slice(0, 10).map((u) => u.id)));
        emu.org.members.set(g2, new Set(emu.org.users.slice(0, 11).map((u) => u.id)));
        const { snap } = await readWith(emu, { pageSize: { users: 5, groups: 4, members: 5 } });
        const t = truth(emu);
        expect(snap.users).toEqual(t.users);
        expect(snap.groups).toEqual(t.groups);
        expect(snap.edges).toEqual(t.edges);
        addUser(emu.org, { ...emu.org.users[0]!, id: 'u-extra', login: 'extra.person' });
        const again = await readWith(emu, { pageSize: { users: 7, groups: 4, members: 5 } }); // 21 = 3 × 7
        expect(again.snap.users).toEqual(truth(emu).users);
      } finally {
        await emu.close();
      }
    });
  }
});

describe('google connector: filter push-down', () => {
  let emu: GoogleEmulator;
  beforeAll(async () => {
    emu = await startGoogle({ users: 60, groups: 40, membersPerGroup: 5, nestingDepth: 0, seed: 5 });
  });
  afterAll(() => emu.close());

  it('activeUsersOnly leaves suspended users out (isSuspended=false) and skips their edges', async () => {
    const { snap } = await readWith(emu, {}, context({ activeUsersOnly: true }));
    const suspended = emu.org.users.filter((u) => u.status === 'suspended').map((u) => u.id);
    expect(suspended.length).toBeGreaterThan(0);
    for (const id of suspended) expect(snap.users.has(id)).toBe(false);
    for (const e of snap.edges) expect(suspended.some((id) => e.endsWith(`user:${id}`))).toBe(false);
    expect(snap.users.size).toBe(emu.org.users.length - suspended.length);
  });

  it('include filters are pushed down as group queries; subgroups of included groups come along', async () => {
    const eng = emu.org.groups.filter((g) => g.name.startsWith('eng')).map((g) => g.id);
    const sre = emu.org.groups.find((g) => g.name === 'sre')!;
    const payments = emu.org.groups.find((g) => g.name === 'payments')!;
    const child = emu.org.groups.find((g) => g.name.startsWith('qa'))!;
    moveGroup(emu.org, child.id, sre.id);
    const before = emu.requestCount();
    const { snap } = await readWith(
      emu,
      {},
      context({
        groupFilter: { include: [{ glob: 'eng*' }, { name: 'SRE' }, { id: payments.id }], exclude: [] },
      }),
    );
    expect(new Set(snap.groups.keys())).toEqual(new Set([...eng, sre.id, payments.id, child.id]));
    expect(snap.edges.has(`${sre.id}>group:${child.id}`)).toBe(true);
    // Far fewer member lists than the 40 groups: push-down saved requests.
    expect(emu.requestCount() - before).toBeLessThan(20);
    moveGroup(emu.org, child.id, null);
  });

  it('a glob Google cannot express falls back to listing every group', async () => {
    const { snap } = await readWith(
      emu,
      {},
      context({ groupFilter: { include: [{ glob: '*ops' }], exclude: [] } }),
    );
    expect(snap.groups.size).toBe(emu.org.groups.length);
  });
});

describe('google connector: throttling', () => {
  let emu: GoogleEmulator;
  beforeAll(async () => {
    emu = await startGoogle({ users: 80, groups: 16, membersPerGroup: 10, nestingDepth: 2, seed: 9 });
  });
  afterAll(() => emu.close());

  it('finishes correctly through a storm of 403 userRateLimitExceeded', async () => {
    // The storm hits the member lists, read 8 at a time: every stream is throttled several times.
    emu.throttle({ count: 40, status: 403, path: /\/members$/ });
    const { snap, stats } = await readWith(emu, {
      memberConcurrency: 8,
      maxRetries: 15,
      pageSize: { users: 20 },
    });
    expect(snap.edges).toEqual(truth(emu).edges);
    expect(snap.users).toEqual(truth(emu).users);
    expect(stats.throttled).toBe(40);
  });

  it('finishes correctly through a storm of 429 rateLimitExceeded with Retry-After', async () => {
    emu.throttle({ count: 30, status: 429, retryAfterSec: 0, path: /\/members$/ });
    const { snap, stats } = await readWith(emu, { memberConcurrency: 8, maxRetries: 15 });
    expect(snap.edges).toEqual(truth(emu).edges);
    expect(stats.throttled).toBe(30);
  });

  it('gives up with DIRSYNC_E_IDP_THROTTLED when throttling outlasts the retries (and does not end early)', async () => {
    emu.throttle({ count: 1000, status: 403, reason: 'quotaExceeded' });
    const err = await readError(emu, { maxRetries: 2 });
    expect(err.code).toBe('DIRSYNC_E_IDP_THROTTLED');
    expect(err.vendorCode).toBe('quotaExceeded');
    emu.clearFailures();
  });

  it('a 403 that is not a rate limit is not retried: DIRSYNC_E_IDP_FORBIDDEN', async () => {
    emu.throttle({ count: 1, status: 403, reason: 'forbidden' });
    const before = emu.requestCount();
    const err = await readError(emu);
    expect(err.code).toBe('DIRSYNC_E_IDP_FORBIDDEN');
    expect(emu.requestCount() - before).toBe(2); // token + the one refused call
  });
});

describe('google connector: server-side limits', () => {
  it('the per-user quota (403 userRateLimitExceeded) is waited out', async () => {
    const emu = await startGoogle({
      users: 40,
      groups: 20,
      membersPerGroup: 4,
      userQpm: 8,
      quotaWindowMs: 300,
    });
    try {
      const { snap, stats } = await readWith(emu, { maxRetries: 20, maxBackoff: '200ms' });
      expect(snap.edges).toEqual(truth(emu).edges);
      expect(stats.throttled).toBeGreaterThan(0);
    } finally {
      await emu.close();
    }
  });

  it('the concurrency limit per account (429 rateLimitExceeded) is waited out', async () => {
    const emu = await startGoogle({
      users: 40,
      groups: 20,
      membersPerGroup: 4,
      maxConcurrent: 2,
      latencyMs: 20,
    });
    try {
      const { snap, stats } = await readWith(emu, { memberConcurrency: 8, maxRetries: 20 });
      expect(snap.edges).toEqual(truth(emu).edges);
      expect(stats.throttled).toBeGreaterThan(0);
    } finally {
      await emu.close();
    }
  });
});

describe('google connector: auth', () => {
  let emu: GoogleEmulator;
  beforeAll(async () => {
    emu = await startGoogle();
  });
  afterAll(() => emu.close());

  it('a key the account does not know → DIRSYNC_E_IDP_AUTH (invalid_grant), no secret in the error', async () => {
    process.env.DIRSYNC_GOOGLE_SA_KEY_BAD = foreignKeyFile(emu.serviceAccount);
    const err = await readError(emu, { serviceAccountKey: { env: 'DIRSYNC_GOOGLE_SA_KEY_BAD' } });
    expect(err.code).toBe('DIRSYNC_E_IDP_AUTH');
    expect(err.vendorCode).toBe('invalid_grant');
    expect(err.message).toContain('Invalid JWT Signature');
    expectNoSecret(emu, err);
  });

  it('an unknown subject → DIRSYNC_E_IDP_AUTH; a subject who is not an admin → DIRSYNC_E_IDP_FORBIDDEN', async () => {
    const unknown = await readError(emu, { subject: 'nobody@example.com' });
    expect(unknown.code).toBe('DIRSYNC_E_IDP_AUTH');
    expectNoSecret(emu, unknown);
    const plain = emu.directory.primaryEmail(emu.org.users[0]!);
    const notAdmin = await readError(emu, { subject: plain });
    expect(notAdmin.code).toBe('DIRSYNC_E_IDP_FORBIDDEN');
    expect(notAdmin.status).toBe(403);
  });

  it('a key that is not JSON → DIRSYNC_E_CONFIG_INVALID without quoting it', async () => {
    process.env.DIRSYNC_GOOGLE_SA_KEY_BAD = '-----BEGIN PRIVATE KEY----- not json';
    const err = await googleConnector
      .open(configFor(emu, { serviceAccountKey: { env: 'DIRSYNC_GOOGLE_SA_KEY_BAD' } }), context())
      .then(
        () => null,
        (e: unknown) => e as DirsyncError,
      );
    expect(err?.code).toBe('DIRSYNC_E_CONFIG_INVALID');
    expect(err?.message).not.toContain('PRIVATE KEY');
  });

  it('re-authenticates when the access token is revoked mid-read', async () => {
    const tokensBefore = emu.tokenRequests();
    let expired = false;
    const ctx = context({
      progress: (p) => {
        if (p.phase === 'groups' && !expired) {
          expired = true;
          emu.expireTokens();
        }
      },
    });
    const { snap } = await readWith(emu, {}, ctx);
    expect(expired).toBe(true);
    expect(snap.edges).toEqual(truth(emu).edges);
    expect(emu.tokenRequests() - tokensBefore).toBe(2);
  });

  it('takes the token endpoint from token_uri in the key file when tokenUrl is not set', async () => {
    const { snap } = await readWith(emu, { tokenUrl: undefined });
    expect(snap.users).toEqual(truth(emu).users);
  });
});

describe('google connector: failures mid-read', () => {
  let emu: GoogleEmulator;
  beforeAll(async () => {
    emu = await startGoogle({ users: 60, groups: 12, membersPerGroup: 8, seed: 4 });
  });
  afterAll(() => emu.close());

  it('persistent 500s on a members page → the read throws DIRSYNC_E_IDP_UNAVAILABLE', async () => {
    emu.failRequests({ path: /\/members$/, fault: 'error', status: 500, after: 3 });
    const err = await readError(emu, { maxRetries: 2 });
    expect(err.code).toBe('DIRSYNC_E_IDP_UNAVAILABLE');
    expect(err.status).toBe(500);
    emu.clearFailures();
  });

  it('a persistently truncated users page → the read throws DIRSYNC_E_IDP_BAD_RESPONSE', async () => {
    emu.failRequests({ path: /\/users$/, fault: 'truncate', after: 1 });
    const err = await readError(emu, { maxRetries: 2, pageSize: { users: 20 } });
    expect(err.code).toBe('DIRSYNC_E_IDP_BAD_RESPONSE');
    emu.clearFailures();
  });

  it('transient 503s, resets, truncations and token-endpoint errors are retried to a complete read', async () => {
    emu.failRequests({ path: /\/token$/, fault: 'error', status: 503, times: 1 });
    emu.failRequests({ path: /\/users$/, fault: 'truncate', times: 2 });
    emu.failRequests({ path: /\/members$/, fault: 'reset', after: 2, times: 2 });
    emu.failRequests({ path: /\/groups$/, fault: 'error', status: 503, times: 1 });
    emu.setFaults({ errorRate: 0.1, resetRate: 0.05 });
    const { snap } = await readWith(emu, { maxRetries: 12, pageSize: { users: 20 } });
    emu.setFaults(undefined);
    emu.clearFailures();
    expect(snap.users).toEqual(truth(emu).users);
    expect(snap.edges).toEqual(truth(emu).edges);
  });

  it('a hung request times out and is retried', async () => {
    emu.failRequests({ path: /\/groups$/, fault: 'timeout', times: 1 });
    const { snap } = await readWith(emu, { requestTimeout: '300ms' });
    emu.clearFailures();
    expect(snap.groups).toEqual(truth(emu).groups);
  });

  it('a group deleted while members are read (404) ends its edges; the read completes', async () => {
    const victim = emu.org.groups[emu.org.groups.length - 1]!;
    let removed = false;
    const ctx = context({
      progress: (p) => {
        if (p.phase === 'groups' && !removed) {
          removed = true;
          removeGroup(emu.org, victim.id);
        }
      },
    });
    const { snap } = await readWith(emu, { memberConcurrency: 1 }, ctx);
    expect(snap.groups.has(victim.id)).toBe(true); // listed before it went
    expect([...snap.edges].some((e) => e.startsWith(`${victim.id}>`))).toBe(false);
    expect(snap.users).toEqual(truth(emu).users);
  });

  it('reads by domain instead of customer', async () => {
    const { snap } = await readWith(emu, { domain: emu.org.domain });
    expect(snap.users).toEqual(truth(emu).users);
    expect(snap.groups).toEqual(truth(emu).groups);
  });

  it('a cancelled run stops with DIRSYNC_E_RUN_CANCELLED', async () => {
    const ac = new AbortController();
    emu.setLatency(50);
    const source = await googleConnector.open(configFor(emu), context({ signal: ac.signal }));
    const pending = collect(source).then(
      () => null,
      (e: unknown) => e as DirsyncError,
    );
    setTimeout(() => ac.abort(), 120);
    const err = await pending;
    emu.setLatency(0);
    await source.close();
    expect(err?.code).toBe('DIRSYNC_E_RUN_CANCELLED');
  });
});

describe('google connector: abort reasons', () => {
  it("a run that times out stops with the run's own reason", async () => {
    const emu = await startGoogle({ latencyMs: 40 });
    try {
      const ac = new AbortController();
      const source = await googleConnector.open(configFor(emu), context({ signal: ac.signal }));
      const pending = collect(source).then(
        () => null,
        (e: unknown) => e as DirsyncError,
      );
      setTimeout(() => ac.abort(new DirsyncError('DIRSYNC_E_RUN_TIMEOUT', 'test')), 100);
      const err = await pending;
      await source.close();
      expect(err?.code).toBe('DIRSYNC_E_RUN_TIMEOUT');
    } finally {
      await emu.close();
    }
  });
});

describe('google connector: malformed records', () => {
  it('become SourceProblems with the id when known; the rest of the read goes on', async () => {
    const emu = await startGoogle({ users: 20, groups: 4, membersPerGroup: 5, nestingDepth: 0 });
    try {
      const [u0, u1] = emu.org.users as [OrgUser, OrgUser];
      emu.directory.corruptions.set(u0.id, { primaryEmail: undefined });
      emu.directory.corruptions.set(u1.id, { suspended: 'yes' });
      const g0 = emu.org.groups[0]!;
      emu.directory.corruptions.set(g0.id, { description: 42 });
      addMember(emu.org, g0.id, u0.id);
      const { snap } = await readWith(emu);
      expect(snap.problems).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            objectType: 'user',
            externalId: u0.id,
            reason: 'primaryEmail is missing',
          }),
          expect.objectContaining({
            objectType: 'user',
            externalId: u1.id,
            reason: 'suspended is not a boolean',
          }),
          expect.objectContaining({ objectType: 'group', externalId: g0.id }),
        ]),
      );
      expect(snap.problems).toHaveLength(3);
      expect(snap.users.size).toBe(18);
      // The edge of a problem user is kept: the pipeline holds that user as it is.
      expect(snap.edges.has(`${g0.id}>user:${u0.id}`)).toBe(true);
    } finally {
      await emu.close();
    }
  });
});
