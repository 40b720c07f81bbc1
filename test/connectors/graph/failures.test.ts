import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GraphEmulator } from '../../../connectors/graph/emulator/index.js';
import { makeCert } from '../../../connectors/graph/emulator/tls.js';
import { graphConnector } from '../../../connectors/graph/index.js';
import { DirsyncError } from '../../../src/errors.js';
import { configFor, emulator, readAll, silent, sorted } from './helpers.js';

async function readError(p: Promise<unknown>): Promise<DirsyncError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DirsyncError);
    return e as DirsyncError;
  }
  throw new Error('expected the read to fail');
}

describe('graph connector: throttling, auth, failures', () => {
  let emu: GraphEmulator;
  beforeAll(async () => {
    emu = await emulator({ users: 90, groups: 14, membersPerGroup: 10, nestingDepth: 2 });
  });
  afterAll(() => emu.close());
  afterEach(() => {
    emu.clearFaultRules();
    emu.setFaults(undefined);
    emu.throttle({ limit: 8000, windowMs: 10_000 });
    emu.throttleNext(0);
    emu.setRoles(['User.Read.All', 'GroupMember.Read.All']);
  });

  it('finishes correctly through a throttling storm (tenant limit, inner $batch 429s)', async () => {
    emu.throttle({ limit: 8, windowMs: 1000 });
    const before = emu.counters().throttled ?? 0;
    const got = await readAll(configFor(emu, { pageSize: 20, batchSize: 5, concurrency: 3, maxRetries: 10 }));
    const truth = emu.truth();
    expect(sorted(got.users.keys())).toEqual(sorted(truth.users.keys()));
    expect(sorted(got.edges)).toEqual(sorted(truth.edges));
    expect((emu.counters().throttled ?? 0) - before).toBeGreaterThan(0);
    expect(got.stats.throttled).toBeGreaterThan(0);
    expect(got.stats.requests).toBeGreaterThan(got.stats.pages / 5);
  });

  it('retries a burst of 429s honouring Retry-After and still reads everything', async () => {
    emu.throttleNext(5, 0);
    const got = await readAll(configFor(emu));
    expect(sorted(got.users.keys())).toEqual(sorted(emu.truth().users.keys()));
    expect(got.stats.throttled).toBe(5);
  });

  it('fails with DIRSYNC_E_IDP_THROTTLED when throttling outlasts the retries', async () => {
    emu.throttleNext(50, 0);
    const err = await readError(readAll(configFor(emu, { maxRetries: 2 })));
    expect(err.code).toBe('DIRSYNC_E_IDP_THROTTLED');
    expect(err.status).toBe(429);
    expect(err.retryAfterMs).toBe(0);
  });

  it('keeps under the tenant limit with a request budget below the limit (no 429 at all)', async () => {
    emu.throttle({ limit: 20, windowMs: 1000 });
    const before = emu.counters().throttled ?? 0;
    const got = await readAll(
      configFor(emu, { requestBudget: { requests: 6, perSeconds: 1 }, batchSize: 5 }),
    );
    expect(sorted(got.edges)).toEqual(sorted(emu.truth().edges));
    expect(got.stats.throttled).toBe(0);
    expect(emu.counters().throttled ?? 0).toBe(before);
  });

  it('a wrong client secret fails with DIRSYNC_E_IDP_AUTH and the secret is nowhere in the error', async () => {
    const secret = 'wrong-8Q~secret-value-that-must-not-leak';
    process.env.DIRSYNC_GRAPH_WRONG_SECRET = secret;
    const config = configFor(emu, {
      auth: { type: 'clientSecret', clientSecret: { env: 'DIRSYNC_GRAPH_WRONG_SECRET' } },
    });
    const err = await readError(readAll(config));
    expect(err.code).toBe('DIRSYNC_E_IDP_AUTH');
    expect(err.vendorCode).toContain('AADSTS7000215');
    const text = `${err.message} ${String(err.stack)} ${JSON.stringify(err)}`;
    expect(text).not.toContain(secret);
    expect(text).not.toContain(emu.env.DIRSYNC_GRAPH_CLIENT_SECRET);
  });

  it('verifies TLS: without tls.caFile the self-signed emulator is refused', async () => {
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined();
    const config = configFor(emu);
    delete (config as { tls?: unknown }).tls;
    const err = await readError(readAll({ ...config, maxRetries: 0 }));
    expect(err.code).toBe('DIRSYNC_E_IDP_UNAVAILABLE');
    expect(err.vendorCode).toMatch(/CERT/);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('tls.caFile');
  });

  it('an unreachable authority fails with a retryable DIRSYNC_E_IDP_UNAVAILABLE', async () => {
    const err = await readError(readAll(configFor(emu, { authorityHost: 'https://127.0.0.1:1' })));
    expect(err.code).toBe('DIRSYNC_E_IDP_UNAVAILABLE');
    expect(err.retryable).toBe(true);
  });

  it('an unknown tenant fails with DIRSYNC_E_IDP_AUTH', async () => {
    const err = await readError(
      readAll(configFor(emu, { tenantId: '00000000-0000-0000-0000-000000000001' })),
    );
    expect(err.code).toBe('DIRSYNC_E_IDP_AUTH');
  });

  it('missing Graph permissions fail with DIRSYNC_E_IDP_FORBIDDEN', async () => {
    emu.setRoles([]);
    emu.expireTokens();
    const err = await readError(readAll(configFor(emu)));
    expect(err.code).toBe('DIRSYNC_E_IDP_FORBIDDEN');
    expect(err.vendorCode).toBe('Authorization_RequestDenied');
  });

  it('authenticates with a certificate (signed client assertion)', async () => {
    const got = await readAll(
      configFor(emu, { auth: { type: 'certificate', certificate: { file: emu.clientCertificateFile } } }),
    );
    expect(sorted(got.users.keys())).toEqual(sorted(emu.truth().users.keys()));
  });

  it('an unregistered certificate fails with DIRSYNC_E_IDP_AUTH', async () => {
    const stranger = makeCert('someone-else', false);
    process.env.DIRSYNC_GRAPH_OTHER_CERT = `${stranger.cert}${stranger.key}`;
    const err = await readError(
      readAll(
        configFor(emu, { auth: { type: 'certificate', certificate: { env: 'DIRSYNC_GRAPH_OTHER_CERT' } } }),
      ),
    );
    expect(err.code).toBe('DIRSYNC_E_IDP_AUTH');
    expect(err.vendorCode).toContain('AADSTS700027');
    expect(`${err.message} ${String(err.stack)}`).not.toContain('PRIVATE KEY');
  });

  it('re-authenticates when tokens are revoked mid-read', async () => {
    const source = await graphConnector.open(configFor(emu, { pageSize: 10 }), {
      logger: silent,
      signal: new AbortController().signal,
      progress: () => {},
    });
    const issued = emu.counters().tokensIssued ?? 0;
    const users = new Set<string>();
    try {
      for await (const item of source.read()) {
        if (item.kind === 'user') {
          users.add(item.externalId);
          if (users.size === 15) emu.expireTokens();
        }
      }
    } finally {
      await source.close();
    }
    expect(sorted(users)).toEqual(sorted(emu.truth().users.keys()));
    expect((emu.counters().tokensIssued ?? 0) - issued).toBe(2);
  });

  it('a persistently failing page mid-read throws (after yielding earlier pages) instead of ending early', async () => {
    emu.addFaultRule({ match: /^\/v1\.0\/users\?.*skiptoken/, fault: 'error', status: 500 });
    const source = await graphConnector.open(configFor(emu, { pageSize: 10, maxRetries: 2 }), {
      logger: silent,
      signal: new AbortController().signal,
      progress: () => {},
    });
    let seen = 0;
    const err = await readError(
      (async () => {
        try {
          for await (const item of source.read()) if (item.kind === 'user') seen++;
        } finally {
          await source.close();
        }
      })(),
    );
    expect(seen).toBe(10);
    expect(err.code).toBe('DIRSYNC_E_IDP_UNAVAILABLE');
    expect(err.status).toBe(500);
  });

  it('a persistently truncated page throws DIRSYNC_E_IDP_BAD_RESPONSE', async () => {
    emu.addFaultRule({ match: /^\/v1\.0\/groups\?/, fault: 'truncate' });
    const err = await readError(readAll(configFor(emu, { maxRetries: 1 })));
    expect(err.code).toBe('DIRSYNC_E_IDP_BAD_RESPONSE');
  });

  it('recovers from a truncated page, a reset connection and a 503 once each', async () => {
    emu.addFaultRule({ match: /^\/v1\.0\/users\?.*skiptoken/, fault: 'truncate', times: 1 });
    emu.addFaultRule({ match: /^\/v1\.0\/groups\?/, fault: 'reset', times: 1 });
    emu.addFaultRule({ match: /^\/v1\.0\/\$batch/, fault: 'error', status: 503, times: 1 });
    const got = await readAll(configFor(emu, { pageSize: 30 }));
    const truth = emu.truth();
    expect(sorted(got.users.keys())).toEqual(sorted(truth.users.keys()));
    expect(sorted(got.edges)).toEqual(sorted(truth.edges));
    expect(got.stats.requests).toBeGreaterThan(got.stats.pages - 14);
  });

  it('a member list failing inside $batch on every try throws', async () => {
    emu.addFaultRule({ match: /\/members/, fault: 'error', status: 503 });
    const err = await readError(readAll(configFor(emu, { maxRetries: 1 })));
    expect(err.code).toBe('DIRSYNC_E_IDP_UNAVAILABLE');
    expect(err.status).toBe(503);
  });

  it('a request that hangs times out and is retried', async () => {
    emu.addFaultRule({ match: /^\/v1\.0\/groups\?/, fault: 'timeout', times: 1 });
    const got = await readAll(configFor(emu, { requestTimeoutMs: 300 }));
    expect(sorted(got.groups.keys())).toEqual(sorted(emu.truth().groups.keys()));
  });

  it('survives random faults (10% errors and resets) with a correct snapshot', async () => {
    emu.setFaults({ errorRate: 0.1, resetRate: 0.05 });
    const got = await readAll(configFor(emu, { pageSize: 15, batchSize: 4, maxRetries: 8 }));
    emu.setFaults(undefined);
    const truth = emu.truth();
    expect(sorted(got.users.keys())).toEqual(sorted(truth.users.keys()));
    expect(sorted(got.edges)).toEqual(sorted(truth.edges));
  });
});
