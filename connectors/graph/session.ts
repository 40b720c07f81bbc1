/**
 * One Graph session for a read or a feed: credential, tenant request budget, counters and the
 * SDK-backed client, built the same way for both.
 */
import { getMaxListeners, setMaxListeners } from 'node:events';
import { emptyStats, type ConnectorContext, type SourceStats } from '../types.js';
import { budgetFor } from './budget.js';
import { GraphClient, TokenSource, type RetryPolicy } from './client.js';
import type { GraphConfig } from './config.js';
import { credentialFactory, graphScope, trustedCas } from './credentials.js';

export interface GraphSession {
  client: GraphClient;
  stats: SourceStats;
  retry: RetryPolicy;
}

export function openSession(config: GraphConfig, ctx: ConnectorContext): GraphSession {
  const ca = trustedCas(config);
  const tokens = new TokenSource(credentialFactory(config, ca), graphScope(config), config, ca);
  // Every request in flight and every request waiting for the budget listens on the run's signal:
  // allow as many listeners as there can be, so Node does not warn of a leak that is none.
  setMaxListeners(Math.max(getMaxListeners(ctx.signal), config.maxConcurrency * 2 + 16), ctx.signal);
  const stats = emptyStats();
  const retry: RetryPolicy = { maxRetries: config.maxRetries, baseDelayMs: 500, maxDelayMs: 30_000 };
  const budget = budgetFor(
    `${config.authorityHost}|${config.tenantId}|${config.clientId}`,
    config.requestBudget.requests,
    config.requestBudget.perSeconds,
  );
  const client = new GraphClient(
    config,
    {
      tokens,
      budget,
      stats,
      retry,
      timeoutMs: config.requestTimeoutMs,
      signal: ctx.signal,
      logger: ctx.logger,
    },
    ca,
  );
  return { client, stats, retry };
}
