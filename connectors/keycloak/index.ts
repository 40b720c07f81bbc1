/**
 * The `keycloak` connector. Only the config schema loads eagerly: the SDK, the client and the reader
 * load on the first `open`, so validating a config, or syncing another IdP, never pays for them
 * (in memory or start-up time).
 */
import type { Connector } from '../types.js';
import { keycloakConfigSchema, type KeycloakConfig } from './config.js';

export { keycloakConfigSchema, type KeycloakConfig } from './config.js';

export const keycloakConnector: Connector<KeycloakConfig> = {
  kind: 'keycloak',
  configSchema: keycloakConfigSchema,
  open: async (config, ctx) => (await import('./source.js')).keycloakConnectorImpl.open(config, ctx),
  openFeed: async (config, ctx, cursor) =>
    (await import('./source.js')).keycloakConnectorImpl.openFeed!(config, ctx, cursor),
};
