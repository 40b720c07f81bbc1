/**
 * The realm-level and server-level representations of the emulator: `GET /admin/realms/{realm}`
 * (RealmRepresentation), `GET /admin/realms` and `GET /admin/serverinfo`
 * (ServerInfoRepresentation), shaped like Keycloak 26's (shared/idp-specs/keycloak/openapi.json).
 *
 * Keycloak 26 `ServerInfoAdminResource.getInfo`: `systemInfo`, `cpuInfo` and `memoryInfo` are given
 * to admins of the master (administration) realm only; an admin of another realm gets the rest
 * (profile, features, themes, providers, enums...) without them.
 */
import type { AdminEventSettings } from './events.js';

const VERSION = '26.6.0';

/** A stable id per realm name (Keycloak's realm ids are UUIDs unless set at import). */
function realmId(name: string): string {
  let h = 0x811c9dc5;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  const x = h.toString(16).padStart(8, '0');
  return `${x}-0000-4000-8000-${x}${x.slice(0, 4)}`;
}

export function realmIdOf(name: string): string {
  return realmId(name);
}

export function realmRep(name: string, ev: AdminEventSettings): Record<string, unknown> {
  return {
    id: realmId(name),
    realm: name,
    displayName: name === 'master' ? 'Keycloak' : name,
    notBefore: 0,
    defaultSignatureAlgorithm: 'RS256',
    revokeRefreshToken: false,
    accessTokenLifespan: 300,
    ssoSessionIdleTimeout: 1800,
    ssoSessionMaxLifespan: 36000,
    enabled: true,
    sslRequired: 'external',
    registrationAllowed: false,
    registrationEmailAsUsername: false,
    rememberMe: false,
    verifyEmail: false,
    loginWithEmailAllowed: true,
    duplicateEmailsAllowed: false,
    resetPasswordAllowed: false,
    editUsernameAllowed: false,
    bruteForceProtected: false,
    eventsEnabled: false,
    eventsListeners: ['jboss-logging'],
    enabledEventTypes: [],
    adminEventsEnabled: ev.enabled,
    adminEventsDetailsEnabled: ev.details,
    internationalizationEnabled: false,
    supportedLocales: [],
    organizationsEnabled: false,
    verifiableCredentialsEnabled: false,
    adminPermissionsEnabled: false,
    // Keycloak 26 keeps the admin-event retention as a realm attribute (seconds), set from the
    // admin console's "Expiration"; absent means events are kept forever.
    attributes: {
      frontendUrl: '',
      ...(ev.expirationSec !== undefined ? { adminEventsExpiration: String(ev.expirationSec) } : {}),
    },
  };
}

export function serverInfo(masterAdmin: boolean, startedAt: number): Record<string, unknown> {
  const uptimeMs = Date.now() - startedAt;
  const mem = process.memoryUsage();
  return {
    ...(masterAdmin
      ? {
          systemInfo: {
            version: VERSION,
            serverTime: new Date().toString(),
            uptime: `${Math.floor(uptimeMs / 1000)} seconds`,
            uptimeMillis: uptimeMs,
            javaVersion: '21.0.5',
            javaVendor: 'Red Hat, Inc.',
            javaVm: 'OpenJDK 64-Bit Server VM',
            javaVmVersion: '21.0.5+11-LTS',
            javaRuntime: 'OpenJDK Runtime Environment',
            javaHome: '/usr/lib/jvm/java-21-openjdk',
            osName: 'Linux',
            osArchitecture: 'amd64',
            osVersion: '6.1.0',
            fileEncoding: 'UTF-8',
            userName: 'keycloak',
            userDir: '/opt/keycloak',
            userTimezone: 'UTC',
            userLocale: 'en_US',
            isRunningInContainer: true,
          },
          cpuInfo: { processorCount: 2 },
          memoryInfo: {
            total: mem.heapTotal,
            totalFormated: `${Math.round(mem.heapTotal / 1048576)} MB`,
            used: mem.heapUsed,
            usedFormated: `${Math.round(mem.heapUsed / 1048576)} MB`,
            free: mem.heapTotal - mem.heapUsed,
            freePercentage: Math.round((100 * (mem.heapTotal - mem.heapUsed)) / mem.heapTotal),
            freeFormated: `${Math.round((mem.heapTotal - mem.heapUsed) / 1048576)} MB`,
          },
        }
      : {}),
    profileInfo: { name: 'community', disabledFeatures: [], previewFeatures: [], experimentalFeatures: [] },
    features: [
      { name: 'ADMIN_API', label: 'Admin API', type: 'DEFAULT', enabled: true, dependencies: [] },
      { name: 'ORGANIZATION', label: 'Organization', type: 'DEFAULT', enabled: true, dependencies: [] },
    ],
    themes: {
      login: [{ name: 'keycloak.v2', locales: ['en'] }],
      admin: [{ name: 'keycloak.v2', locales: ['en'] }],
    },
    providers: {},
    protocolMapperTypes: {},
    builtinProtocolMappers: {},
    clientInstallations: {},
    componentTypes: {},
    passwordPolicies: [],
    identityProviders: [],
    clientImporters: [],
    cryptoInfo: {
      cryptoProvider: 'DefaultCryptoProvider',
      supportedKeystoreTypes: ['JKS', 'PKCS12'],
      clientSignatureSymmetricAlgorithms: ['HS256', 'HS384', 'HS512'],
      clientSignatureAsymmetricAlgorithms: ['ES256', 'ES384', 'ES512', 'PS256', 'RS256'],
    },
    enums: {
      operationType: ['ACTION', 'CREATE', 'DELETE', 'UPDATE'],
      resourceType: [
        'CLIENT',
        'CLIENT_ROLE',
        'CLIENT_ROLE_MAPPING',
        'GROUP',
        'GROUP_MEMBERSHIP',
        'REALM',
        'REALM_ROLE',
        'REALM_ROLE_MAPPING',
        'USER',
      ],
    },
  };
}
