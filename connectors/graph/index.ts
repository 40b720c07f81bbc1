/**
 * The `graph` connector. Only the config schema loads eagerly: the SDK, the client and the reader
 * load on the first `open`, so validating a config, or syncing another IdP, never pays for them
 * (in memory or start-up time).
 */
import type { Connector } from '../types.js';
import { graphConfigSchema, type GraphConfig } from './config.js';

export { graphConfigSchema, type GraphConfig } from './config.js';

const impl = async () => (await import('./source.js')).graphConnectorImpl;

export const graphConnector: Connector<GraphConfig> = {
  kind: 'graph',
  configSchema: graphConfigSchema,
  open: async (config, ctx) => (await impl()).open(config, ctx),
  openFeed: async (config, ctx, cursor) => (await impl()).openFeed!(config, ctx, cursor),
};
