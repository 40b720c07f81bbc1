/**
 * The `okta` connector: users, groups and group members of an Okta org through the official
 * `@okta/okta-sdk-nodejs` v8, with an API token (SSWS) or an OAuth 2.0 service app (private key,
 * DPoP when the app requires it). See README.md for setup and quirks.
 */
import { emptyStats, type Connector, type Source } from '../types.js';
import { createOktaApi } from './client.js';
import { oktaConfigSchema, type OktaConfig } from './config.js';
import { readOrg } from './read.js';

export const oktaConnectorImpl: Connector<OktaConfig> = {
  kind: 'okta',
  configSchema: oktaConfigSchema,
  async open(config, ctx): Promise<Source> {
    const stats = emptyStats();
    // Resolves secrets and parses the key now, so a bad credential fails before anything is read.
    const api = createOktaApi(config, stats, ctx.signal, ctx.logger);
    return {
      read: () => readOrg(api, config, ctx, stats),
      stats: () => stats,
      close: () => api.close(),
    };
  },
};
