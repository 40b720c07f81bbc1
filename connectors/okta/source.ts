/**
 * The `okta` connector: users, groups and group members of an Okta org through the official
 * `@okta/okta-sdk-nodejs` v8, with an API token (SSWS) or an OAuth 2.0 service app (private key,
 * DPoP when the app requires it), and its change feed (System Log + `lastUpdated` searches).
 * See README.md for setup and quirks.
 */
import { DirsyncError } from '../../src/errors.js';
import { emptyStats, type ChangeFeed, type Connector, type Source } from '../types.js';
import { createOktaApi } from './client.js';
import { oktaConfigSchema, type OktaConfig } from './config.js';
import { decodeCursor, ReadClock } from './cursor.js';
import { readFeed } from './feed.js';
import { readOrg } from './read.js';

export const oktaConnectorImpl: Connector<OktaConfig> = {
  kind: 'okta',
  configSchema: oktaConfigSchema,
  async open(config, ctx): Promise<Source> {
    const stats = emptyStats();
    // Resolves secrets and parses the key now, so a bad credential fails before anything is read.
    const api = createOktaApi(config, stats, ctx.signal, ctx.logger);
    let clock: ReadClock | null = null;
    let done = false;
    return {
      read: async function* () {
        clock = new ReadClock(config.feed.overlapSeconds * 1000, api.serverOffsetMs);
        yield* readOrg(api, config, ctx, stats);
        done = true;
      },
      stats: () => stats,
      cursor: () => (done && clock ? clock.cursor() : null),
      close: () => api.close(),
    };
  },

  async openFeed(config, ctx, cursor): Promise<ChangeFeed> {
    const since = decodeCursor(cursor);
    if (config.auth.type === 'privateKey' && !config.auth.scopes.includes('okta.logs.read')) {
      throw new DirsyncError(
        'DIRSYNC_E_FEED_UNAVAILABLE',
        'the Okta change feed reads the System Log: grant okta.logs.read to the service app and add it to auth.scopes',
      );
    }
    const stats = emptyStats();
    const api = createOktaApi(config, stats, ctx.signal, ctx.logger);
    let clock: ReadClock | null = null;
    let done = false;
    return {
      read: async function* () {
        clock = new ReadClock(config.feed.overlapSeconds * 1000, api.serverOffsetMs);
        yield* readFeed(api, config, ctx, stats, since);
        done = true;
      },
      cursor: () => {
        if (!done || !clock)
          throw new DirsyncError('DIRSYNC_E_INTERNAL', 'Okta feed cursor asked before the feed was read');
        return clock.cursor();
      },
      stats: () => stats,
      close: () => api.close(),
    };
  },
};
