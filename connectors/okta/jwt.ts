/**
 * The little JOSE the Okta private-key flow needs: compact JWS signing (client assertions, DPoP
 * proofs), decoding, verification and RFC 7638 thumbprints, on node:crypto. Shared by the connector
 * (signing) and the emulator (verifying).
 */
import { createHash, createPublicKey, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

export const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** JWS algorithm for a key: RS256 for RSA, ES256/384/512 by curve for EC. */
export function algOf(key: KeyObject): string {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec') {
    const crv = key.asymmetricKeyDetails?.namedCurve;
    if (crv === 'prime256v1') return 'ES256';
    if (crv === 'secp384r1') return 'ES384';
    if (crv === 'secp521r1') return 'ES512';
  }
  throw new Error(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'}`);
}

const hashOf = (alg: string): string => `sha${alg.slice(2)}`;

/** Signs `header.payload` as a compact JWS. */
export function signJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: KeyObject,
): string {
  const alg = algOf(key);
  const input = `${b64url(JSON.stringify({ ...header, alg }))}.${b64url(JSON.stringify(payload))}`;
  const sig = sign(hashOf(alg), Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(sig)}`;
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

/** Decodes a compact JWS without checking it; null when it is not one. */
export function decodeJwt(token: string): DecodedJwt | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString('utf8')) as unknown;
    const payload = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as unknown;
    if (typeof header !== 'object' || header === null || typeof payload !== 'object' || payload === null)
      return null;
    return {
      header: header as Record<string, unknown>,
      payload: payload as Record<string, unknown>,
      signingInput: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2] as string, 'base64url'),
    };
  } catch {
    return null;
  }
}

/** Checks a decoded JWS signature against a public key, for the algorithm its header names. */
export function verifyJwt(jwt: DecodedJwt, key: KeyObject): boolean {
  const alg = jwt.header.alg;
  if (typeof alg !== 'string' || !/^(RS|ES)(256|384|512)$/.test(alg)) return false;
  if ((alg.startsWith('RS') ? 'rsa' : 'ec') !== key.asymmetricKeyType) return false;
  try {
    return verify(
      hashOf(alg),
      Buffer.from(jwt.signingInput),
      { key, dsaEncoding: 'ieee-p1363' },
      jwt.signature,
    );
  } catch {
    return false;
  }
}

/** The public members of a key as a JWK (what a DPoP proof carries in its header). */
export function publicJwk(key: KeyObject): JsonWebKey {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  return jwk.kty === 'RSA'
    ? { kty: 'RSA', e: jwk.e, n: jwk.n }
    : { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url): what a DPoP-bound token's `cnf.jkt` holds. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const canonical =
    jwk.kty === 'RSA'
      ? JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n })
      : JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y });
  return b64url(createHash('sha256').update(canonical).digest());
}

/** `ath` claim of a DPoP proof: base64url(SHA-256(access token)). */
export const accessTokenHash = (token: string): string => b64url(createHash('sha256').update(token).digest());
