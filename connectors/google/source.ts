/**
 * The `google` connector: Google Workspace users, groups and nested group memberships through
 * the Admin SDK Directory API, as a service account with domain-wide delegation; changes through
 * the Reports API's admin audit log (feed.ts).
 *
 * Modules: config (schema) → credentials (key + JWT) → client (SDK calls, paging, retries) →
 * read (the walk) / feed (the changes) → map (resources → records); pushdown turns filters into
 * search queries; cursor encodes the feed's cursor.
 */
import { DirsyncError } from '../../src/errors.js';
import { emptyStats, type ChangeFeed, type Connector, type ConnectorContext, type Source } from '../types.js';
import { DirectoryClient } from './client.js';
import {
  DIRECTORY_SCOPES,
  GOOGLE_TOKEN_URL,
  googleConfigSchema,
  REPORTS_SCOPE,
  type GoogleConfig,
} from './config.js';
import { createJwt, readServiceAccountKey } from './credentials.js';
import { decodeCursor, encodeCursor, type FeedCursor } from './cursor.js';
import { MAX_CURSOR_AGE_MS, readFeed, type FeedOptions } from './feed.js';
import { groupPlan, userQuery } from './pushdown.js';
import { readSnapshot } from './read.js';

/** The SDK client, stats and a close handle for one source or feed. */
function connect(config: GoogleConfig, ctx: ConnectorContext, scopes: readonly string[]) {
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
    scopes,
  });
  const client = new DirectoryClient({ config, jwt, tokenUrl, stats, signal, logger: ctx.logger });
  return { client, stats, close: () => closing.abort() };
}

export const googleConnectorImpl: Required<Connector<GoogleConfig>> = {
  kind: 'google',
  configSchema: googleConfigSchema,
  async open(config, ctx): Promise<Source> {
    const { client, stats, close } = connect(config, ctx, DIRECTORY_SCOPES);
    const groups = groupPlan(ctx.groupFilter);
    const record = { users: 0, groups: {} as Record<string, string> };
    let reading = false;
    let started = 0;
    let completed = false;
    return {
      read() {
        if (reading) throw new DirsyncError('DIRSYNC_E_INTERNAL', 'a google source is read once');
        reading = true;
        // The feed continues from the moment before the read began: changes made while it read
        // are read again (idempotently) by the next feed.
        started = Date.now();
        const items = readSnapshot({
          client,
          ctx,
          stats,
          concurrency: config.memberConcurrency,
          groups,
          userQuery: userQuery(ctx.activeUsersOnly),
          record,
        });
        return (async function* () {
          yield* items;
          completed = true;
        })();
      },
      stats: () => stats,
      cursor() {
        // A pushed-down group filter has no feed (see openFeed): full reads only.
        if (!completed || !groups.all) return null;
        return encodeCursor({ t: started, users: record.users, groups: record.groups });
      },
      async close() {
        close();
      },
    };
  },
  async openFeed(config, ctx, cursorText): Promise<ChangeFeed> {
    if (!groupPlan(ctx.groupFilter).all) {
      // Which groups a pushed-down include filter selects (and their nested groups) can change
      // with any rename or membership; the audit log cannot say which, so these read in full.
      throw new DirsyncError(
        'DIRSYNC_E_FEED_UNAVAILABLE',
        'google: the change feed does not follow a pushed-down group include filter',
      );
    }
    const cursor: FeedCursor = decodeCursor(cursorText);
    const now = Date.now();
    if (now - cursor.t > MAX_CURSOR_AGE_MS) {
      throw new DirsyncError(
        'DIRSYNC_E_CURSOR_EXPIRED',
        `google: the cursor is from ${new Date(cursor.t).toISOString()}; deleted users are listed for 20 days only`,
      );
    }
    const { client, stats, close } = connect(config, ctx, [...DIRECTORY_SCOPES, REPORTS_SCOPE]);
    const o: FeedOptions = {
      client,
      ctx,
      stats,
      cursor,
      overlapMs: config.feedOverlap,
      now,
      concurrency: config.memberConcurrency,
      userPageSize: config.pageSize.users,
      activeUsersOnly: ctx.activeUsersOnly === true,
      ...(userQuery(ctx.activeUsersOnly) ? { userQuery: userQuery(ctx.activeUsersOnly) as string } : {}),
    };
    let reading = false;
    return {
      read() {
        if (reading) throw new DirsyncError('DIRSYNC_E_INTERNAL', 'a google feed is read once');
        reading = true;
        return readFeed(o);
      },
      cursor() {
        if (!o.next) throw new DirsyncError('DIRSYNC_E_INTERNAL', 'google: the feed was not read to its end');
        return encodeCursor(o.next);
      },
      stats: () => stats,
      async close() {
        close();
      },
    };
  },
};
