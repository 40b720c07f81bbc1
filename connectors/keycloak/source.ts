/**
 * The `keycloak` connector: reads one realm's users, group tree and direct memberships through the
 * admin REST API with the official `@keycloak/keycloak-admin-client`.
 */
import type { Credentials } from './tokens.js';
import { resolveSecret } from '../../config/secrets.js';
import type { Connector, Source } from '../types.js';
import { KeycloakApi } from './client.js';
import { keycloakConfigSchema, type KeycloakConfig } from './config.js';
import { readRealm } from './read.js';

/** The token request for the configured grant; secrets are resolved at the moment of use. */
function credentialsOf(cfg: KeycloakConfig): () => Credentials {
  const auth = cfg.auth;
  if (auth.type === 'clientCredentials') {
    return () => ({
      grantType: 'client_credentials',
      clientId: auth.clientId,
      clientSecret: resolveSecret(auth.clientSecret),
    });
  }
  return () => ({
    grantType: 'password',
    clientId: auth.clientId,
    username: auth.username,
    password: resolveSecret(auth.password),
    ...(auth.clientSecret ? { clientSecret: resolveSecret(auth.clientSecret) } : {}),
  });
}

export const keycloakConnectorImpl: Connector<KeycloakConfig> = {
  kind: 'keycloak',
  configSchema: keycloakConfigSchema,
  async open(config, ctx): Promise<Source> {
    const credentials = credentialsOf(config);
    // Resolve once up front so a missing secret fails at open, not in the middle of a retry loop.
    credentials();
    const api = new KeycloakApi({
      url: config.url,
      realm: config.realm,
      authRealm: config.authRealm ?? (config.auth.type === 'password' ? 'master' : config.realm),
      credentials,
      concurrency: config.concurrency,
      requestTimeoutMs: config.requestTimeout,
      retry: {
        maxAttempts: config.retry.maxAttempts,
        baseDelayMs: config.retry.baseDelay,
        maxDelayMs: config.retry.maxDelay,
      },
      logger: ctx.logger,
      signal: ctx.signal,
    });
    return {
      read: () => readRealm(api, { pageSize: config.pageSize, concurrency: config.concurrency }, ctx),
      stats: () => api.stats,
      close: () => api.close(),
    };
  },
};
