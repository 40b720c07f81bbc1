/**
 * An emulated Keycloak 26 server on node:http: the token endpoint and the admin REST API paths the
 * connector reads, over a generated org (emulator-kit), with Keycloak's paging defaults, orderings,
 * error bodies and overload behaviour, plus knobs for tests and a control API for other processes.
 *
 * Two realms: the target realm (default `acme`) with the confidential client `dirsync` whose
 * service account may read the realm, and `master` with the `admin` user and the public
 * `admin-cli` client for the password grant.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PlanReport } from '../../emulator-kit/apply.js';
import { generateOrg, orgShape, prng, type Org } from '../../emulator-kit/org.js';
import type { EmulatorOptions, FaultOptions, RunningEmulator } from '../../emulator-kit/types.js';
import { planMutations, type PlanOptions } from '../../emulator-kit/plan.js';
import { serveControl } from './admin.js';
import { AdminEventLog, type AdminEventSettings } from './events.js';
import { RealmMutations } from './mutations.js';
import { realmIdOf } from './realm.js';
import { serveKeycloak, type EmulatedRealm, type EmulatorState, type FailureRule } from './server.js';
import { RealmStore } from './store.js';
import { TokenIssuer } from './tokens.js';

export interface KeycloakEmulatorOptions extends EmulatorOptions {
  /** Name of the realm holding the org (default `acme`). */
  realm?: string;
  /** Access token lifespan in seconds (default 300, Keycloak's realm default). */
  tokenLifetimeSec?: number;
  /** Concurrent admin requests beyond this get 503 (Keycloak's `http-max-queued-requests`); 0 = no limit. */
  maxInFlight?: number;
  /**
   * Admin-event settings of the realm (default: enabled, with representations, kept forever, as
   * Dirsync's setup guide asks; Keycloak's own default is disabled).
   */
  adminEvents?: Partial<AdminEventSettings>;
}

export interface KeycloakEmulator extends RunningEmulator {
  kind: 'keycloak';
  realm: string;
  /** The live org; mutate it with emulator-kit/mutate.ts between syncs. */
  readonly org: Org;
  setFaults(f: FaultOptions | undefined): void;
  setLatency(ms: number): void;
  /** The next `count` admin requests are answered 503 (default) with no body: an overload storm. */
  storm(count: number, status?: number): void;
  /** A persistent (or `times`-limited) failure of matching requests; null clears it. */
  failRequests(rule: FailureRule | null): void;
  /** Revokes every token issued so far (Keycloak's "push not-before"). */
  expireTokens(): void;
  setTokenLifetime(sec: number): void;
  setMaxInFlight(n: number): void;
  /** Answers 403 to every admin request (the service account lost its roles). */
  setForbidden(forbidden: boolean): void;
  /** JSON merged over a user's representation (`undefined` values delete keys); null clears. */
  patchUser(id: string, patch: Record<string, unknown> | null): void;
  /** Token requests served so far. */
  tokenRequestCount(): number;
  /** Admin requests answered 401 for a missing, expired or revoked token. */
  rejectedTokenCount(): number;
  /** Most admin requests that were in flight at once. */
  peakInFlight(): number;
  /** The realm's mutation path: changes made through it are recorded as admin events. */
  readonly mutations: RealmMutations;
  /** The realm's admin events. */
  readonly adminEvents: AdminEventLog;
  /** Draws a seeded plan (emulator-kit/plan.ts) and applies it through {@link mutations}. */
  mutate(opts: PlanOptions): PlanReport;
  /** Changes the realm's admin-event settings (as `PUT /events/config` and the realm attributes do). */
  setAdminEvents(settings: Partial<AdminEventSettings>): void;
}

/** Keycloak ids are UUIDs; re-key a generated org deterministically (same seed, same ids). */
function withUuids(org: Org, seed: number): Org {
  const rnd = prng(seed ^ 0x6b63);
  const uuid = () => {
    const b = Buffer.alloc(16);
    for (let i = 0; i < 16; i += 4) b.writeUInt32BE(Math.floor(rnd() * 2 ** 32), i);
    b[6] = ((b[6] as number) & 0x0f) | 0x40;
    b[8] = ((b[8] as number) & 0x3f) | 0x80;
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  const ids = new Map<string, string>();
  for (const u of org.users) ids.set(u.id, uuid());
  for (const g of org.groups) ids.set(g.id, uuid());
  const re = (id: string) => ids.get(id) as string;
  return {
    domain: org.domain,
    users: org.users.map((u) => ({ ...u, id: re(u.id) })),
    groups: org.groups.map((g) => ({
      ...g,
      id: re(g.id),
      parentId: g.parentId === null ? null : re(g.parentId),
    })),
    members: new Map([...org.members].map(([g, set]) => [re(g), new Set([...set].map(re))])),
  };
}

export async function startEmulator(opts: KeycloakEmulatorOptions): Promise<KeycloakEmulator> {
  const realmName = opts.realm ?? 'acme';
  const org = opts.org ?? withUuids(generateOrg(orgShape(opts)), opts.seed);
  const clientSecret = randomBytes(24).toString('base64url');
  const adminPassword = randomBytes(18).toString('base64url');
  const serviceAccount = { id: '5e7f1c7a-0000-4000-8000-5e7f1c7a0001', username: 'service-account-dirsync' };
  const host = opts.host ?? '127.0.0.1';

  let server: Server | null = null;
  const realms = new Map<string, EmulatedRealm>();
  const state: EmulatorState = {
    realms,
    tokens: new TokenIssuer('', opts.tokenLifetimeSec ?? 300),
    startedAt: Date.now(),
    faults: opts.faults,
    latencyMs: opts.latencyMs ?? 0,
    stormRemaining: 0,
    stormStatus: 503,
    failure: null,
    maxInFlight: opts.maxInFlight ?? 0,
    inFlight: 0,
    peakInFlight: 0,
    forbidden: false,
    requests: 0,
    tokenRequests: 0,
    rejectedTokens: 0,
  };
  const adminUserId = '5e7f1c7a-0000-4000-8000-ad0000000001';
  const events = new AdminEventLog(
    realmIdOf(realmName),
    { enabled: true, details: true, ...opts.adminEvents },
    {
      realmId: realmIdOf('master'),
      clientId: realmIdOf('admin-cli'),
      userId: adminUserId,
      ipAddress: '127.0.0.1',
    },
  );
  const mutations = new RealmMutations(org, events);
  realms.set(realmName, {
    store: new RealmStore(realmName, org, { ...serviceAccount, created: Date.UTC(2024, 0, 1) }),
    events,
    mutations,
    clients: new Map([
      ['dirsync', { clientId: 'dirsync', secret: clientSecret, serviceAccount, directAccessGrants: false }],
    ]),
    passwords: new Map(),
  });
  if (realmName !== 'master') {
    const masterOrg: Org = { domain: 'master', users: [], groups: [], members: new Map() };
    const masterEvents = new AdminEventLog(
      realmIdOf('master'),
      { enabled: false, details: false },
      {
        realmId: realmIdOf('master'),
        clientId: realmIdOf('admin-cli'),
        userId: adminUserId,
        ipAddress: '127.0.0.1',
      },
    );
    realms.set('master', {
      store: new RealmStore('master', masterOrg, null),
      events: masterEvents,
      mutations: new RealmMutations(masterOrg, masterEvents),
      clients: new Map([
        [
          'admin-cli',
          { clientId: 'admin-cli', secret: null, serviceAccount: null, directAccessGrants: true },
        ],
      ]),
      passwords: new Map([['admin', { id: adminUserId, password: adminPassword }]]),
    });
  }

  server = createServer((req, res) => {
    state.requests++;
    const handle = req.url?.startsWith('/__emulator/')
      ? serveControl(state, realms.get(realmName) as EmulatedRealm, req, res)
      : serveKeycloak(state, req, res);
    handle.catch((e: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'unknown_error' }));
      } else res.destroy();
      console.error('keycloak emulator:', e);
    });
  });
  // Keep-alive sockets must not hold `close()` up.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server!.once('error', reject);
    server!.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host}:${port}`;
  state.tokens = new TokenIssuer(url, opts.tokenLifetimeSec ?? 300);
  const srv = server;

  return {
    kind: 'keycloak',
    url,
    realm: realmName,
    org,
    connector: {
      name: 'keycloak-emulator',
      kind: 'keycloak',
      url,
      realm: realmName,
      auth: {
        type: 'clientCredentials',
        clientId: 'dirsync',
        clientSecret: { env: 'DIRSYNC_KEYCLOAK_CLIENT_SECRET' },
      },
    },
    env: { DIRSYNC_KEYCLOAK_CLIENT_SECRET: clientSecret, DIRSYNC_KEYCLOAK_ADMIN_PASSWORD: adminPassword },
    requestCount: () => state.requests,
    tokenRequestCount: () => state.tokenRequests,
    rejectedTokenCount: () => state.rejectedTokens,
    peakInFlight: () => state.peakInFlight,
    setFaults: (f) => (state.faults = f),
    setLatency: (ms) => (state.latencyMs = ms),
    storm: (count, status = 503) => {
      state.stormRemaining = count;
      state.stormStatus = status;
    },
    failRequests: (rule) => (state.failure = rule),
    expireTokens: () => state.tokens.revokeAll(),
    setTokenLifetime: (sec) => (state.tokens.lifetimeSec = sec),
    setMaxInFlight: (n) => (state.maxInFlight = n),
    setForbidden: (f) => (state.forbidden = f),
    patchUser: (id, patch) => {
      const store = realms.get(realmName)?.store;
      if (patch === null) store?.userPatches.delete(id);
      else store?.userPatches.set(id, patch);
    },
    mutations,
    adminEvents: events,
    mutate: (o) => mutations.apply(planMutations(org, o)),
    setAdminEvents: (s) => {
      Object.assign(events.settings, s);
      // RealmAdminResource.updateRealmEventsConfig records this (when admin events are on after it).
      events.record('UPDATE', 'REALM', 'events/config', { ...events.settings });
    },
    close: async () => {
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}
