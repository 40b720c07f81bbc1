/**
 * Access tokens for an OAuth 2.0 service app (private_key_jwt), with DPoP when the app requires it.
 *
 * It stands in for the SDK's own `OAuth` object (the SDK calls `getAccessToken()` before every
 * request and `clearCachedAccessToken()` once on a 401) because the SDK's v8 flow cannot complete
 * against a DPoP-enforcing app: Okta answers the first token request with
 * `400 {"error":"use_dpop_nonce"}` + a `DPoP-Nonce` header, and the SDK's error filter throws on
 * that 400 before its nonce branch can run. DPoP is on by default for API Services apps created
 * since 2024 (okta-sdk-nodejs#424, https://developer.okta.com/docs/guides/dpop/oktaresourceserver/main/).
 * It also renews the token shortly before `expires_in` instead of waiting for a 401 per expiry, and
 * fetches one token at a time however many requests wait for it.
 */
import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { DirsyncError } from '../../src/errors.js';
import { parsedBody, type DpopSigner, type FetchResponse, type OktaRequestExecutor } from './executor.js';
import { accessTokenHash, publicJwk, signJwt } from './jwt.js';

interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in?: number;
  scope?: string;
}

/** Parses a PEM or JWK (JSON) private key; the error never quotes the key. */
export function parsePrivateKey(text: string): { key: KeyObject; kid?: string } {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('{')) {
      const jwk = JSON.parse(trimmed) as { kid?: string; d?: string };
      if (!jwk.d) throw new Error('not a private JWK');
      return {
        key: createPrivateKey({ key: jwk as never, format: 'jwk' }),
        ...(jwk.kid ? { kid: jwk.kid } : {}),
      };
    }
    return { key: createPrivateKey(trimmed) };
  } catch {
    throw new DirsyncError(
      'DIRSYNC_E_CONFIG_INVALID',
      'auth.privateKey is not a PEM or JWK private key (RSA or EC)',
    );
  }
}

export class PrivateKeyTokenProvider implements DpopSigner {
  /** Read by the SDK's Http: false keeps it sending `Bearer`; the executor switches to DPoP itself. */
  readonly isDPoP = false;
  bound = false;
  private token: { value: string; renewAt: number } | null = null;
  private inFlight: Promise<{ access_token: string }> | null = null;
  private nonce: string | null = null;
  private readonly jwk;
  private readonly tokenUrl: string;

  constructor(
    private readonly orgUrl: string,
    private readonly clientId: string,
    private readonly key: KeyObject,
    private readonly keyId: string | undefined,
    private readonly scopes: string[],
    private readonly executor: OktaRequestExecutor,
  ) {
    this.jwk = publicJwk(key);
    this.tokenUrl = `${orgUrl}/oauth2/v1/token`;
  }

  /** Called by the SDK before each request. */
  getAccessToken(): Promise<{ access_token: string }> {
    if (this.token && this.token.renewAt > Date.now())
      return Promise.resolve({ access_token: this.token.value });
    this.inFlight ??= this.fetchToken().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** The token requests are sent with now, if any (the executor retries stale ones with it). */
  current(): string | null {
    return this.token?.value ?? null;
  }

  /** Called by the SDK once after a 401 (an expired or revoked token). */
  clearCachedAccessToken(): void {
    this.token = null;
  }

  proof(method: string, htu: string, accessToken: string | null): string {
    const payload: Record<string, unknown> = {
      htm: method,
      htu,
      iat: Math.floor(Date.now() / 1000),
      jti: randomUUID(),
    };
    if (this.nonce && accessToken === null) payload.nonce = this.nonce;
    if (accessToken !== null) payload.ath = accessTokenHash(accessToken);
    return signJwt({ typ: 'dpop+jwt', jwk: this.jwk }, payload, this.key);
  }

  private assertion(): string {
    const now = Math.floor(Date.now() / 1000);
    return signJwt(
      { typ: 'JWT', ...(this.keyId ? { kid: this.keyId } : {}) },
      {
        iss: this.clientId,
        sub: this.clientId,
        aud: this.tokenUrl,
        iat: now,
        exp: now + 300,
        jti: randomUUID(),
      },
      this.key,
    );
  }

  private async fetchToken(): Promise<{ access_token: string }> {
    // At most two nonce challenges: Okta rotates nonces, but never twice in a row for one client.
    for (let round = 0; round < 3; round++) {
      const body = new URLSearchParams({
        grant_type: 'client_credentials',
        scope: this.scopes.join(' '),
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: this.assertion(),
      }).toString();
      const res = await this.executor.fetch({
        url: this.tokenUrl,
        method: 'POST',
        body,
        headers: {
          Accept: 'application/json',
          'Content-Type': 'application/x-www-form-urlencoded',
          // Always offered: an app that does not require DPoP ignores it and issues a Bearer token.
          DPoP: this.proof('POST', this.tokenUrl, null),
        },
      });
      const json = (parsedBody(res)?.value ?? (await safeJson(res))) as Partial<TokenResponse> & {
        error?: string;
        error_description?: string;
      };
      const nonce = res.headers.get('dpop-nonce');
      if (nonce) this.nonce = nonce;
      if (res.status === 400 && json?.error === 'use_dpop_nonce' && nonce) continue;
      if (res.ok && typeof json?.access_token === 'string') {
        this.bound = /^dpop$/i.test(json.token_type ?? '');
        const ttl = typeof json.expires_in === 'number' ? json.expires_in * 1000 : 300_000;
        // Renew a minute early (a tenth early for short-lived tokens): a token that expires
        // mid-request costs a 401 and a retry.
        this.token = { value: json.access_token, renewAt: Date.now() + ttl - Math.min(60_000, ttl / 10) };
        return { access_token: json.access_token };
      }
      throw tokenError(res.status, json?.error, json?.error_description);
    }
    throw new DirsyncError('DIRSYNC_E_IDP_AUTH', 'Okta token endpoint kept asking for a new DPoP nonce', {
      status: 400,
    });
  }
}

async function safeJson(res: FetchResponse): Promise<unknown> {
  try {
    return JSON.parse(await res.text());
  } catch {
    return null;
  }
}

function tokenError(
  status: number,
  error: string | undefined,
  description: string | undefined,
): DirsyncError {
  const detail = `Okta token endpoint answered ${status}${error ? ` ${error}` : ''}${description ? `: ${description}` : ''}`;
  const opts = { status, ...(error ? { vendorCode: error } : {}) };
  if (error === 'invalid_scope' || status === 403)
    return new DirsyncError('DIRSYNC_E_IDP_FORBIDDEN', detail, opts);
  if (status === 400 || status === 401) return new DirsyncError('DIRSYNC_E_IDP_AUTH', detail, opts);
  if (status === 404) return new DirsyncError('DIRSYNC_E_IDP_NOT_FOUND', detail, opts);
  return new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', detail, opts);
}
