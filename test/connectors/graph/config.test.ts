import { describe, expect, it } from 'vitest';
import { parseConnectorConfig } from '../../../config/load.js';
import { graphConfigSchema, graphConnector } from '../../../connectors/graph/index.js';
import type { Connector } from '../../../connectors/types.js';

const base = {
  kind: 'graph',
  tenantId: 'contoso.onmicrosoft.com',
  clientId: '3f2b1c9e-5a4d-4e7b-9c1a-0d8e6f4b2a11',
  auth: { type: 'clientSecret', clientSecret: { env: 'GRAPH_SECRET' } },
};

describe('graph connector config', () => {
  it('fills the defaults of the public cloud', () => {
    const c = graphConfigSchema.parse(base);
    expect(c).toMatchObject({
      authorityHost: 'https://login.microsoftonline.com',
      graphBaseUrl: 'https://graph.microsoft.com',
      pageSize: 999,
      batchSize: 20,
      concurrency: 4,
      requestBudget: { requests: 3000, perSeconds: 10 },
    });
  });

  it('refuses inline secrets, http endpoints and Graph-impossible sizes', () => {
    const bad = [
      { ...base, auth: { type: 'clientSecret', clientSecret: 'inline-secret' } },
      { ...base, authorityHost: 'http://login.example.test' },
      { ...base, graphBaseUrl: 'http://graph.example.test' },
      { ...base, pageSize: 1000 },
      { ...base, batchSize: 21 },
      { ...base, auth: { type: 'password', password: { env: 'X' } } },
    ];
    for (const raw of bad) expect(graphConfigSchema.safeParse(raw).success).toBe(false);
  });

  it('is a valid connectors[] entry with the common fields (certificate auth, national cloud)', () => {
    const entry = parseConnectorConfig(
      {
        ...base,
        name: 'entra-gov',
        auth: { type: 'certificate', certificate: { file: '/run/secrets/graph.pem' } },
        authorityHost: 'https://login.microsoftonline.us',
        graphBaseUrl: 'https://graph.microsoft.us',
        filters: { groups: { include: ['eng*'] } },
      },
      graphConnector as unknown as Connector,
    );
    expect(entry.kind).toBe('graph');
    expect(entry.auth).toEqual({
      type: 'certificate',
      certificate: { file: '/run/secrets/graph.pem' },
      sendCertificateChain: false,
    });
  });
});
