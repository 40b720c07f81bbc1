/**
 * The `okta` connector. Only the config schema loads eagerly: the SDK, the client and the reader
 * load on the first `open`, so validating a config, or syncing another IdP, never pays for them
 * (in memory or start-up time).
 */
import type { Connector } from '../types.js';
import { oktaConfigSchema, type OktaConfig } from './config.js';

export { oktaConfigSchema, type OktaConfig } from './config.js';

export const oktaConnector: Connector<OktaConfig> = {
  kind: 'okta',
  configSchema: oktaConfigSchema,
  open: async (config, ctx) => (await import('./source.js')).oktaConnectorImpl.open(config, ctx),
  openFeed: async (config, ctx, cursor) =>
    (await import('./source.js')).oktaConnectorImpl.openFeed!(config, ctx, cursor),
};
