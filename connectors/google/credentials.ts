/**
 * Service-account credentials with domain-wide delegation: parses the JSON key and builds the
 * SDK's JWT client, pointed at the configured token endpoint.
 */
import { auth } from '@googleapis/admin';
import { resolveSecret, type SecretRef } from '../../config/secrets.js';
import { DirsyncError } from '../../src/errors.js';
import { DIRECTORY_SCOPES, GOOGLE_TOKEN_URL } from './config.js';

export type JwtClient = InstanceType<typeof auth.JWT>;

/** The fields of a service-account key file the connector uses. */
export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri?: string;
}

/**
 * Reads and checks the key. Error messages never quote the key's text: `JSON.parse` errors do
 * (V8 puts an excerpt of the input in them), so they are not passed on.
 */
export function readServiceAccountKey(ref: SecretRef): ServiceAccountKey {
  const text = resolveSecret(ref);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new DirsyncError(
      'DIRSYNC_E_CONFIG_INVALID',
      'serviceAccountKey is not valid JSON (expected a key file)',
    );
  }
  const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  if (o.type !== undefined && o.type !== 'service_account') {
    throw new DirsyncError(
      'DIRSYNC_E_CONFIG_INVALID',
      `serviceAccountKey has type ${JSON.stringify(o.type)}, expected "service_account"`,
    );
  }
  if (typeof o.client_email !== 'string' || typeof o.private_key !== 'string') {
    throw new DirsyncError(
      'DIRSYNC_E_CONFIG_INVALID',
      'serviceAccountKey needs client_email and private_key',
    );
  }
  return {
    client_email: o.client_email,
    private_key: o.private_key,
    ...(typeof o.private_key_id === 'string' ? { private_key_id: o.private_key_id } : {}),
    ...(typeof o.token_uri === 'string' ? { token_uri: o.token_uri } : {}),
  };
}

export interface JwtOptions {
  key: ServiceAccountKey;
  subject: string;
  /** Where token requests really go. */
  tokenUrl: string;
  timeoutMs: number;
  /** Called once per HTTP attempt (token and API requests, including the library's own retries). */
  onRequest: () => void;
  /** OAuth scopes to request (default: the Directory read scopes). */
  scopes?: readonly string[];
}

/**
 * Builds the JWT client. Two hooks on its gaxios transporter (which carries both the token
 * requests and, through `OAuth2Client.request`, every API request):
 * - a request interceptor that sends the token request to `tokenUrl`: gtoken hard-codes
 *   `https://oauth2.googleapis.com/token` and ignores `token_uri` from the key file
 *   (google-auth-library 10 / gtoken 8). The assertion's `aud` stays Google's URL, as gtoken signs it.
 * - an adapter wrapper counting every attempt, including gaxios' own retries of the token POST,
 *   which do not pass through interceptors again.
 */
export function createJwt(opts: JwtOptions): JwtClient {
  const jwt = new auth.JWT({
    email: opts.key.client_email,
    key: opts.key.private_key,
    ...(opts.key.private_key_id ? { keyId: opts.key.private_key_id } : {}),
    scopes: [...(opts.scopes ?? DIRECTORY_SCOPES)],
    subject: opts.subject,
  });
  const transporter = jwt.transporter;
  transporter.defaults.timeout = opts.timeoutMs;
  transporter.defaults.adapter = (config, defaultAdapter) => {
    opts.onRequest();
    return defaultAdapter(config);
  };
  if (opts.tokenUrl !== GOOGLE_TOKEN_URL) {
    const target = new URL(opts.tokenUrl);
    transporter.interceptors.request.add({
      resolved: async (config) => {
        if (String(config.url) === GOOGLE_TOKEN_URL) config.url = new URL(target);
        return config;
      },
    });
  }
  return jwt;
}

/** Makes the next request fetch a new access token (after a 401 from the API). */
export function forceTokenRefresh(jwt: JwtClient): void {
  // isTokenExpiring() is what makes gtoken bypass its own cache (`forceRefresh`); an expiry in the
  // past triggers it. Clearing the credentials would not: gtoken would hand back the cached token.
  jwt.credentials = { ...jwt.credentials, expiry_date: 1 };
}
