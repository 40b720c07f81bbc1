/**
 * The Google change-feed bench (`bench/idp-google.ts --feed 1`): connector only, no database.
 * A full read, a feed on the unchanged directory, and a feed after 1% of the users changed and 1%
 * of the memberships moved; requests, wall time and items of each, and the time each would take
 * at Google's documented default quota.
 */
import type { Logger } from 'pino';
import type { ConnectorConfig } from '../config/schema.js';
import { googleConnector } from '../connectors/google/index.js';
import type { ChangeFeed, Connector, ConnectorContext, SourceStats } from '../connectors/types.js';

/** Google's default Admin SDK quota: 2,400 queries per minute per user per project. */
const QUOTA_PER_MINUTE = 2400;

interface Pass {
  requests: number;
  wallMs: number;
  items: number;
  /** Minutes the requests alone would take at the default quota (a floor on a real tenant). */
  atDefaultQuotaMinutes: number;
}

const pass = (stats: SourceStats, wallMs: number, items: number): Pass => ({
  requests: stats.requests,
  wallMs: Math.round(wallMs),
  items,
  atDefaultQuotaMinutes: Math.round((stats.requests / QUOTA_PER_MINUTE) * 100) / 100,
});

export async function feedBench(url: string, config: ConnectorConfig, logger: Logger) {
  const connector = googleConnector as unknown as Required<Connector>;
  const ctx: ConnectorContext = { logger, signal: new AbortController().signal, progress: () => {} };

  let t = performance.now();
  const source = await connector.open(config as never, ctx);
  let items = 0;
  for await (const _ of source.read()) items++;
  const full = pass(source.stats(), performance.now() - t, items);
  const cursor0 = source.cursor?.();
  await source.close();
  if (!cursor0) throw new Error('the full read gave no cursor');

  const drain = async (cursor: string): Promise<{ pass: Pass; cursor: string }> => {
    const started = performance.now();
    const feed: ChangeFeed = await connector.openFeed(config as never, ctx, cursor);
    let n = 0;
    try {
      for await (const _ of feed.read()) n++;
      return { pass: pass(feed.stats(), performance.now() - started, n), cursor: feed.cursor() };
    } finally {
      await feed.close();
    }
  };

  const unchanged = await drain(cursor0);
  t = performance.now();
  const res = await fetch(`${url}/__emulator/mutate`, {
    method: 'POST',
    body: JSON.stringify({ seed: 4242, users: 0.01, memberships: 0.01 }),
  });
  const { applied } = (await res.json()) as { applied: number };
  const mutateMs = Math.round(performance.now() - t);
  const onePercent = await drain(unchanged.cursor);

  return {
    idp: 'google',
    mode: 'feed',
    fullRead: full,
    unchangedFeed: unchanged.pass,
    onePercent: { mutations: applied, mutateMs, ...onePercent.pass },
    targets: {
      unchangedRequestsAtMost10: unchanged.pass.requests <= 10,
      onePercentRequestsShareOfFull: Math.round((onePercent.pass.requests / full.requests) * 10000) / 100,
      onePercentAtMost3PercentOfFull: onePercent.pass.requests <= full.requests * 0.03,
    },
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}
