/**
 * The `graph` connector: Microsoft Entra ID users, groups and direct memberships (nested groups
 * included) through Microsoft Graph v1.0, with @azure/identity app-only credentials; and its
 * change feed through `/users/delta` and `/groups/delta` (see feed.ts).
 */
import { DirsyncError } from '../../src/errors.js';
import type { Connector, Source } from '../types.js';
import { graphConfigSchema, type GraphConfig } from './config.js';
import { encodeCursor, latestCursor, openGraphFeed, feedPushDown } from './feed.js';
import { readTenant } from './read.js';
import { openSession } from './session.js';

export const graphConnectorImpl: Connector<GraphConfig> = {
  kind: 'graph',
  configSchema: graphConfigSchema,
  async open(config, ctx): Promise<Source> {
    const { client, stats, retry } = openSession(config, ctx);
    let reading = false;
    let cursor: string | null | undefined;
    async function* read() {
      // The delta links are taken before the full read, so a change made while it runs is in
      // the first feed too (re-applying it is harmless). Two requests instead of a full read
      // through delta, whose group pages can only be read one after another.
      const links = feedPushDown(ctx).feedable ? await latestCursor(client, config, ctx) : null;
      yield* readTenant({ client, config, ctx, stats, retry });
      cursor = links === null ? null : encodeCursor(links);
    }
    return {
      read() {
        if (reading) throw new DirsyncError('DIRSYNC_E_INTERNAL', 'a Graph source can be read once');
        reading = true;
        return read();
      },
      cursor() {
        if (cursor === undefined) {
          throw new DirsyncError(
            'DIRSYNC_E_INTERNAL',
            'the Graph cursor is known only after a complete read',
          );
        }
        return cursor;
      },
      stats: () => stats,
      close: () => client.close(),
    };
  },
  openFeed: (config, ctx, cursor) => openGraphFeed(config, ctx, cursor),
};
