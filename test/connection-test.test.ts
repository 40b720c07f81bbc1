/**
 * `dirsync test <connector>` against real emulators: it signs in, reads a first page, stops early,
 * writes nothing, and names what is missing in the IdP's own words.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectorConfig } from '../config/load.js';
import type { ConnectorConfig } from '../config/schema.js';
import { startEmulator, type GraphEmulator } from '../connectors/graph/emulator/index.js';
import { graphConnector } from '../connectors/graph/index.js';
import type { Connector } from '../connectors/types.js';
import { testConnection } from '../src/connection-test.js';
import { fileSource, users } from './helpers/snapshot.js';

describe('test connection', () => {
  let emu: GraphEmulator;
  let config: ConnectorConfig;
  beforeAll(async () => {
    emu = await startEmulator({ users: 3000, groups: 50, membersPerGroup: 30, nestingDepth: 2, seed: 5 });
    for (const [k, v] of Object.entries(emu.env)) process.env[k] = v;
    config = parseConnectorConfig(
      { ...emu.connector, name: 'graph-test', pageSize: 100 },
      graphConnector as unknown as Connector,
    );
  });
  afterAll(async () => {
    await emu?.close();
  });

  it('reads users, groups and memberships and stops early on a large tenant', async () => {
    const before = emu.requestCount();
    const r = await testConnection(config);
    expect(r.ok).toBe(true);
    expect(r.read.users).toBeGreaterThan(0);
    expect(r.read.groups).toBeGreaterThan(0);
    expect(r.read.memberships).toBeGreaterThan(0);
    expect(r.findings[0]).toMatch(
      /^Signed in and read \d+ user\(s\), \d+ group\(s\) and \d+ membership\(s\)/,
    );
    // Far fewer requests than a full read of 3,000 users in pages of 100 plus 50 member lists.
    expect(emu.requestCount() - before).toBeLessThan(45);
  });

  it('says the app lacks GroupMember.Read.All when only User.Read.All is granted', async () => {
    emu.setRoles(['User.Read.All']);
    try {
      const r = await testConnection(config);
      expect(r.ok).toBe(false);
      expect(r.error?.code).toBe('DIRSYNC_E_IDP_FORBIDDEN');
      expect(r.findings.join(' ')).toContain('lacks GroupMember.Read.All');
    } finally {
      emu.setRoles(['User.Read.All', 'GroupMember.Read.All', 'Organization.Read.All']);
    }
  });

  it('says the credentials were refused, without the secret', async () => {
    const secretEnv = Object.keys(emu.env)[0] as string;
    const real = process.env[secretEnv] as string;
    process.env[secretEnv] = 'wrong-secret-value';
    try {
      const r = await testConnection(config);
      expect(r.ok).toBe(false);
      expect(r.error?.code).toMatch(/DIRSYNC_E_IDP_AUTH|DIRSYNC_E_IDP_FORBIDDEN/);
      expect(r.findings.join(' ')).toMatch(/refused the app credentials/);
      expect(JSON.stringify(r)).not.toContain('wrong-secret-value');
      expect(JSON.stringify(r)).not.toContain(real);
    } finally {
      process.env[secretEnv] = real;
    }
  });

  it('a missing secret is named; a readable file is OK', async () => {
    const missing = parseConnectorConfig(
      {
        ...emu.connector,
        name: 'graph-nosecret',
        auth: { type: 'clientSecret', clientSecret: { env: 'DIRSYNC_TEST_NOT_SET' } },
      },
      graphConnector as unknown as Connector,
    );
    const r = await testConnection(missing);
    expect(r.ok).toBe(false);
    expect(r.findings[0]).toContain('DIRSYNC_TEST_NOT_SET');

    const f = fileSource({}, 'hr-test');
    f.write({ users: users(2), groups: [{ id: 'g', name: 'all', members: ['u0'] }] });
    const ok = await testConnection(f.config);
    expect(ok).toMatchObject({ ok: true, read: { users: 2, groups: 1, memberships: 1 } });
  });
});
