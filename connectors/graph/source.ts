/**
 * The `graph` connector: Microsoft Entra ID users, groups and direct memberships (nested groups
 * included) through Microsoft Graph v1.0, with @azure/identity app-only credentials.
 */
import { DirsyncError } from '../../src/errors.js';
import { emptyStats, type Connector, type Source } from '../types.js';
import { budgetFor } from './budget.js';
import { GraphClient, TokenSource, type RetryPolicy } from './client.js';
import { graphConfigSchema, type GraphConfig } from './config.js';
import { credentialFactory, graphScope, trustedCas } from './credentials.js';
import { readTenant } from './read.js';

export const graphConnectorImpl: Connector<GraphConfig> = {
  kind: 'graph',
  configSchema: graphConfigSchema,
  async open(config, ctx): Promise<Source> {
    const ca = trustedCas(config);
    const tokens = new TokenSource(credentialFactory(config, ca), graphScope(config), config, ca);
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
    let reading = false;
    return {
      read() {
        if (reading) throw new DirsyncError('DIRSYNC_E_INTERNAL', 'a Graph source can be read once');
        reading = true;
        return readTenant({ client, config, ctx, stats, retry });
      },
      stats: () => stats,
      close: () => client.close(),
    };
  },
};
