/**
 * Credentials of the emulated org: one SSWS API token, and one API Services app (private_key_jwt)
 * with its registered public key, granted scopes and the "Require DPoP" setting. Implements the
 * org authorization server's `POST /oauth2/v1/token` (client_credentials) as strictly as Okta:
 * the client assertion's signature, `kid`, `iss`/`sub`, `aud`, `exp`, `jti` reuse; DPoP proofs with
 * a server nonce; and DPoP-bound tokens checked on every API call (`ath`, `htm`, `htu`, key binding).
 * https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/
 * https://developer.okta.com/docs/guides/dpop/oktaresourceserver/main/
 */
import { createPublicKey, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { accessTokenHash, decodeJwt, jwkThumbprint, verifyJwt } from '../jwt.js';

export interface ServiceApp {
  clientId: string;
  publicKey: KeyObject;
  keyId: string;
  scopes: Set<string>;
  requireDpop: boolean;
}

interface IssuedToken {
  scopes: Set<string>;
  expiresAt: number;
  /** RFC 7638 thumbprint of the DPoP key the token is bound to. */
  jkt: string | null;
}

/** Outcome of the token endpoint: status, JSON body, extra headers. */
export interface TokenResult {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** Outcome of checking an API request's credentials: ok, or an Okta error. */
export type AuthResult =
  | { ok: true; scopes: Set<string> | 'all' }
  | { ok: false; status: number; code: string; summary: string; wwwAuthenticate?: string };

const PROOF_MAX_AGE_S = 300;

export class OrgAuth {
  private readonly tokens = new Map<string, IssuedToken>();
  /** jti values seen (client assertions and DPoP proofs), with their expiry for pruning. */
  private readonly seenJti = new Map<string, number>();
  private nonce = randomBytes(16).toString('base64url');
  tokenTtlSeconds: number;

  constructor(
    readonly apiToken: string,
    readonly app: ServiceApp,
    tokenTtlSeconds: number,
  ) {
    this.tokenTtlSeconds = tokenTtlSeconds;
  }

  /** Revokes every issued access token (the next call with one answers 401 E0000011). */
  expireTokens(): void {
    this.tokens.clear();
  }

  /** Rotates the DPoP nonce (Okta renews it every 24 h). */
  rotateNonce(): void {
    this.nonce = randomBytes(16).toString('base64url');
  }

  issuedTokens(): number {
    return this.tokens.size;
  }

  private useJti(jti: unknown, expiresAt: number): boolean {
    if (typeof jti !== 'string' || jti === '') return false;
    const now = Date.now();
    if (this.seenJti.size > 10_000)
      for (const [k, exp] of this.seenJti) if (exp < now) this.seenJti.delete(k);
    if (this.seenJti.has(jti)) return false;
    this.seenJti.set(jti, expiresAt);
    return true;
  }

  /** POST /oauth2/v1/token with a form body. */
  token(form: URLSearchParams, dpopHeader: string | undefined, tokenUrl: string): TokenResult {
    const err = (
      status: number,
      error: string,
      description: string,
      headers?: Record<string, string>,
    ): TokenResult => ({
      status,
      body: { error, error_description: description },
      ...(headers ? { headers } : {}),
    });
    if (form.get('grant_type') !== 'client_credentials') {
      return err(
        400,
        'unsupported_grant_type',
        'The authorization grant type is not supported by the authorization server.',
      );
    }
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
      return err(
        401,
        'invalid_client',
        'Client authentication failed. Either the client or the client credentials are invalid.',
      );
    }
    const assertion = decodeJwt(form.get('client_assertion') ?? '');
    const now = Math.floor(Date.now() / 1000);
    if (!assertion) return err(401, 'invalid_client', 'The client_assertion is not a valid JWT.');
    const { header, payload } = assertion;
    if (header.kid !== undefined && header.kid !== this.app.keyId) {
      return err(
        401,
        'invalid_client',
        'The client_assertion token has a kid which does not identify a key in the client.',
      );
    }
    if (!verifyJwt(assertion, this.app.publicKey))
      return err(401, 'invalid_client', 'The client_assertion signature is invalid.');
    if (payload.iss !== this.app.clientId || payload.sub !== this.app.clientId) {
      return err(401, 'invalid_client', "The 'iss' and 'sub' claims must be the client_id.");
    }
    if (payload.aud !== tokenUrl)
      return err(
        401,
        'invalid_client',
        'The audience claim for client_assertion must be the endpoint invoked for the request.',
      );
    const exp = payload.exp;
    if (typeof exp !== 'number' || exp <= now)
      return err(401, 'invalid_client', 'The client_assertion token is expired.');
    const iat = typeof payload.iat === 'number' ? payload.iat : now;
    if (exp - iat > 3600)
      return err(
        401,
        'invalid_client',
        'The client_assertion token has an expiration too far in the future.',
      );
    if (payload.jti !== undefined && !this.useJti(`a:${String(payload.jti)}`, exp * 1000)) {
      return err(401, 'invalid_client', 'The client_assertion token has already been used.');
    }
    const requested = (form.get('scope') ?? '').split(/\s+/).filter(Boolean);
    if (requested.length === 0)
      return err(400, 'invalid_scope', 'The authorization server requires the scope parameter.');
    const denied = requested.filter((s) => !this.app.scopes.has(s));
    if (denied.length > 0)
      return err(400, 'invalid_scope', `The following scopes are not allowed: ${denied.join(', ')}`);

    let jkt: string | null = null;
    if (this.app.requireDpop) {
      if (!dpopHeader) return err(400, 'invalid_dpop_proof', 'The DPoP proof JWT header is missing.');
      const checked = this.checkProof(dpopHeader, 'POST', tokenUrl, null);
      if ('error' in checked) return err(400, 'invalid_dpop_proof', checked.error);
      if (checked.nonce !== this.nonce) {
        return err(400, 'use_dpop_nonce', 'Authorization server requires nonce in DPoP proof.', {
          'DPoP-Nonce': this.nonce,
        });
      }
      jkt = checked.jkt;
    }
    const accessToken = randomBytes(32).toString('base64url');
    this.tokens.set(accessToken, {
      scopes: new Set(requested),
      expiresAt: Date.now() + this.tokenTtlSeconds * 1000,
      jkt,
    });
    return {
      status: 200,
      body: {
        token_type: jkt ? 'DPoP' : 'Bearer',
        expires_in: this.tokenTtlSeconds,
        access_token: accessToken,
        scope: requested.join(' '),
      },
    };
  }

  /** Verifies a DPoP proof (RFC 9449 section 4.3); returns its key thumbprint and nonce. */
  private checkProof(
    proof: string,
    method: string,
    htu: string,
    accessToken: string | null,
  ): { jkt: string; nonce: unknown } | { error: string } {
    const jwt = decodeJwt(proof);
    if (!jwt) return { error: 'The DPoP proof JWT is malformed.' };
    const { header, payload } = jwt;
    if (header.typ !== 'dpop+jwt') return { error: "The DPoP proof JWT 'typ' header is invalid." };
    const jwk = header.jwk as JsonWebKey | undefined;
    if (!jwk || typeof jwk !== 'object' || 'd' in jwk)
      return { error: "The DPoP proof JWT 'jwk' header is invalid." };
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk, format: 'jwk' });
    } catch {
      return { error: "The DPoP proof JWT 'jwk' header is invalid." };
    }
    if (!verifyJwt(jwt, key)) return { error: 'The DPoP proof JWT signature is invalid.' };
    if (payload.htm !== method) return { error: "'htm' claim in the DPoP proof JWT is invalid." };
    if (payload.htu !== htu) return { error: "'htu' claim in the DPoP proof JWT is invalid." };
    const iat = payload.iat;
    if (typeof iat !== 'number' || Math.abs(Date.now() / 1000 - iat) > PROOF_MAX_AGE_S) {
      return { error: "'iat' claim in the DPoP proof JWT is invalid." };
    }
    if (accessToken !== null && payload.ath !== accessTokenHash(accessToken)) {
      return { error: "'ath' claim in the DPoP proof JWT is invalid." };
    }
    if (!this.useJti(`d:${String(payload.jti)}`, (iat + PROOF_MAX_AGE_S) * 1000)) {
      return { error: "'jti' claim in the DPoP proof JWT is invalid or was already used." };
    }
    return { jkt: jwkThumbprint(jwk), nonce: payload.nonce };
  }

  /** Checks an API request: `SSWS <token>`, `Bearer <token>`, or `DPoP <token>` + a proof. */
  authenticate(req: IncomingMessage, url: string, realm: string): AuthResult {
    const invalid = (extra = ''): AuthResult => ({
      ok: false,
      status: 401,
      code: 'E0000011',
      summary: 'Invalid token provided',
      ...(extra ? { wwwAuthenticate: extra } : {}),
    });
    const header = req.headers.authorization ?? '';
    const [scheme = '', value = ''] = header.split(/\s+(.*)/s);
    if (/^SSWS$/i.test(scheme)) return value === this.apiToken ? { ok: true, scopes: 'all' } : invalid();
    const path = new URL(url).pathname;
    const challenge = (s: string, error: string, description: string) =>
      `${s} authorization_uri="${realm}/oauth2/v1/authorize", realm="${realm}", error="${error}", error_description="${description}", resource="${path}"`;
    if (/^Bearer$/i.test(scheme) || /^DPoP$/i.test(scheme)) {
      const t = this.tokens.get(value);
      if (!t || t.expiresAt <= Date.now()) {
        if (t) this.tokens.delete(value);
        return invalid(
          challenge(
            /^DPoP$/i.test(scheme) ? 'DPoP algs="RS256 ES256"' : 'Bearer',
            'invalid_token',
            'The token has expired.',
          ),
        );
      }
      if (t.jkt !== null) {
        // A DPoP-bound token presented as a bearer token, or without a valid proof.
        const proof = req.headers.dpop;
        if (!/^DPoP$/i.test(scheme) || typeof proof !== 'string') {
          return {
            ok: false,
            status: 400,
            code: 'E0000011',
            summary: 'Invalid token provided',
            wwwAuthenticate: challenge(
              'DPoP algs="RS256 ES256"',
              'invalid_dpop_proof',
              'The DPoP proof JWT header is missing.',
            ),
          };
        }
        const checked = this.checkProof(proof, req.method ?? 'GET', url.split('?')[0] as string, value);
        if ('error' in checked || checked.jkt !== t.jkt) {
          const why =
            'error' in checked ? checked.error : 'The DPoP proof JWT key does not match the token binding.';
          return {
            ok: false,
            status: 400,
            code: 'E0000011',
            summary: 'Invalid token provided',
            wwwAuthenticate: challenge('DPoP algs="RS256 ES256"', 'invalid_dpop_proof', why),
          };
        }
      } else if (/^DPoP$/i.test(scheme)) {
        return invalid(challenge('Bearer', 'invalid_token', 'The token is not DPoP-bound.'));
      }
      return { ok: true, scopes: t.scopes };
    }
    return invalid();
  }
}
