/**
 * The `google` connector: Google Workspace users, groups and nested group memberships through
 * the Admin SDK Directory API, as a service account with domain-wide delegation.
 *
 * Modules: config (schema) → credentials (key + JWT) → client (SDK calls, paging, retries) →
 * read (the walk) → map (resources → records); pushdown turns filters into search queries.
 */
import { DirsyncError } from '../../src/errors.js';
import { emptyStats, type Connector, type Source } from '../types.js';
import { DirectoryClient } from './client.js';
import { GOOGLE_TOKEN_URL, googleConfigSchema, type GoogleConfig } from './config.js';
import { createJwt, readServiceAccountKey } from './credentials.js';
import { groupPlan, userQuery } from './pushdown.js';
import { readSnapshot } from './read.js';

export const googleConnectorImpl: Connector<GoogleConfig> = {
  kind: 'google',
  configSchema: googleConfigSchema,
  async open(config, ctx): Promise<Source> {
    const key = readServiceAccountKey(config.serviceAccountKey);
    const tokenUrl = config.tokenUrl ?? key.token_uri ?? GOOGLE_TOKEN_URL;
    const stats = emptyStats();
    // close() aborts whatever is still in flight, as does the run's own signal.
    const closing = new AbortController();
    const signal = AbortSignal.any([ctx.signal, closing.signal]);
    const jwt = createJwt({
      key,
      subject: config.subject,
      tokenUrl,
      timeoutMs: config.requestTimeout,
      onRequest: () => stats.requests++,
    });
    const client = new DirectoryClient({ config, jwt, tokenUrl, stats, signal, logger: ctx.logger });
    let reading = false;
    return {
      read() {
        if (reading) throw new DirsyncError('DIRSYNC_E_INTERNAL', 'a google source is read once');
        reading = true;
        return readSnapshot({
          client,
          ctx,
          stats,
          concurrency: config.memberConcurrency,
          groups: groupPlan(ctx.groupFilter),
          userQuery: userQuery(ctx.activeUsersOnly),
        });
      },
      stats: () => stats,
      async close() {
        closing.abort();
      },
    };
  },
};
