/**
 * Google's OAuth token endpoint for service accounts (JWT bearer grant, RFC 7523), as the
 * emulator plays it: the assertion is verified against the service account's public key and its
 * claims are checked the way Google does; access tokens are opaque and kept in memory.
 * https://developers.google.com/identity/protocols/oauth2/service-account#httprest
 */
import { generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const GOOGLE_TOKEN_AUD = 'https://oauth2.googleapis.com/token';

/** A service account of the emulated project, with its key file. */
export interface ServiceAccount {
  email: string;
  keyId: string;
  publicKey: KeyObject;
  /** The JSON key file as the Cloud console hands it out. */
  keyFile: Record<string, string>;
}

export function createServiceAccount(tokenUri: string, projectId = 'dirsync-emulator'): ServiceAccount {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const email = `dirsync-sync@${projectId}.iam.gserviceaccount.com`;
  const keyId = randomBytes(20).toString('hex');
  return {
    email,
    keyId,
    publicKey,
    keyFile: {
      type: 'service_account',
      project_id: projectId,
      private_key_id: keyId,
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: email,
      client_id: String(100_000_000_000_000_000_000n + BigInt(`0x${keyId.slice(0, 12)}`)),
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: tokenUri,
      auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
      client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
      universe_domain: 'googleapis.com',
    },
  };
}

/** A JSON key file for a service account the emulator does not know (for auth-failure tests). */
export function foreignKeyFile(sa: ServiceAccount): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return JSON.stringify({
    ...sa.keyFile,
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  });
}

export interface AccessToken {
  sub: string | null;
  scopes: Set<string>;
  expiresAt: number;
}

export type TokenAnswer =
  | { ok: true; token: string; expiresIn: number }
  | { ok: false; status: 400 | 401; error: string; description: string };

export interface TokenPolicy {
  serviceAccount: ServiceAccount;
  /** Scopes the domain-wide delegation entry allows. */
  delegatedScopes: Set<string>;
  /** Admins the service account may act as. */
  admins: Set<string>;
  /** Other known users (a token is issued; the API then says 403). */
  isUser(email: string): boolean;
  /** Audiences accepted: Google's token URL (what gtoken signs) and the emulator's own. */
  audiences: Set<string>;
  tokenTtlSec: number;
}

const b64json = (part: string): unknown => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

const invalidGrant = (description: string): TokenAnswer => ({
  ok: false,
  status: 400,
  error: 'invalid_grant',
  description,
});

/** Checks a JWT bearer assertion; on success stores and returns a new access token. */
export function exchangeAssertion(
  form: URLSearchParams,
  policy: TokenPolicy,
  tokens: Map<string, AccessToken>,
  now = Date.now(),
): TokenAnswer {
  const grant = form.get('grant_type');
  if (grant !== JWT_BEARER) {
    return {
      ok: false,
      status: 400,
      error: 'unsupported_grant_type',
      description: `Invalid grant_type: ${grant ?? ''}`,
    };
  }
  const assertion = form.get('assertion') ?? '';
  const parts = assertion.split('.');
  if (parts.length !== 3)
    return invalidGrant('Invalid JWT: Token must be a short-lived token and in a reasonable timeframe');
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = b64json(parts[0] as string) as Record<string, unknown>;
    claims = b64json(parts[1] as string) as Record<string, unknown>;
  } catch {
    return invalidGrant('Invalid JWT: could not decode');
  }
  if (header.alg !== 'RS256') return invalidGrant('Invalid JWT: unsupported algorithm');
  if (claims.iss !== policy.serviceAccount.email) return invalidGrant('Invalid grant: account not found');
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
  const signature = Buffer.from(parts[2] as string, 'base64url');
  if (!verify('RSA-SHA256', signed, policy.serviceAccount.publicKey, signature))
    return invalidGrant('Invalid JWT Signature.');
  if (typeof claims.aud !== 'string' || !policy.audiences.has(claims.aud)) {
    return invalidGrant('Invalid JWT: Failed audience check.');
  }
  const iat = claims.iat;
  const exp = claims.exp;
  const nowSec = Math.floor(now / 1000);
  if (
    typeof iat !== 'number' ||
    typeof exp !== 'number' ||
    exp <= nowSec ||
    iat > nowSec + 300 ||
    exp - iat > 3600
  ) {
    return invalidGrant(
      'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
    );
  }
  const scopes = typeof claims.scope === 'string' ? claims.scope.split(/\s+/).filter(Boolean) : [];
  if (scopes.length === 0)
    return {
      ok: false,
      status: 400,
      error: 'invalid_scope',
      description: 'Empty or missing scope not allowed.',
    };
  const sub = typeof claims.sub === 'string' ? claims.sub.toLowerCase() : null;
  if (sub !== null) {
    if (!policy.admins.has(sub) && !policy.isUser(sub)) return invalidGrant('Invalid email or User ID');
    // Domain-wide delegation: every requested scope must be in the admin console entry.
    if (scopes.some((s) => !policy.delegatedScopes.has(s))) {
      return {
        ok: false,
        status: 401,
        error: 'unauthorized_client',
        description:
          'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
      };
    }
  }
  const token = `ya29.c.emu${randomBytes(32).toString('base64url')}`;
  tokens.set(token, { sub, scopes: new Set(scopes), expiresAt: now + policy.tokenTtlSec * 1000 });
  return { ok: true, token, expiresIn: policy.tokenTtlSec };
}
