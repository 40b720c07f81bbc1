/**
 * The `google` connector. Only the config schema loads eagerly: the SDK, the client and the reader
 * load on the first `open`, so validating a config, or syncing another IdP, never pays for them
 * (in memory or start-up time).
 */
import type { Connector } from '../types.js';
import { googleConfigSchema, type GoogleConfig } from './config.js';

export { googleConfigSchema, type GoogleConfig } from './config.js';

export const googleConnector: Connector<GoogleConfig> = {
  kind: 'google',
  configSchema: googleConfigSchema,
  open: async (config, ctx) => (await import('./source.js')).googleConnectorImpl.open(config, ctx),
  openFeed: async (config, ctx, cursor) =>
    (await import('./source.js')).googleConnectorImpl.openFeed(config, ctx, cursor),
};
