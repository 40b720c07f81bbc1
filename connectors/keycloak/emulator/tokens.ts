/**
 * Access tokens as Keycloak issues them: JWTs with `exp`/`iat`, issued per realm, checked on every
 * admin request. Signed with HS256 and a per-process key (Keycloak signs RS256; the admin client
 * never checks the signature, the emulator does). `revokeAll()` plays Keycloak's "not before" push:
 * every token issued so far is refused from then on, whatever its `exp`.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface TokenClaims {
  exp: number;
  iat: number;
  jti: string;
  iss: string;
  sub: string;
  typ: string;
  azp: string;
  preferred_username: string;
  scope: string;
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

export class TokenIssuer {
  private readonly key = randomBytes(32);
  private seq = 0;
  private validFromSeq = 0;

  constructor(
    private readonly baseUrl: string,
    /** Access token lifespan in seconds (Keycloak's realm default is 300; the master realm's 60). */
    public lifetimeSec: number,
  ) {}

  issue(realm: string, sub: string, azp: string, username: string): { token: string; expiresIn: number } {
    const iat = Math.floor(Date.now() / 1000);
    const claims: TokenClaims = {
      exp: iat + this.lifetimeSec,
      iat,
      jti: `emu-${++this.seq}-${randomBytes(4).toString('hex')}`,
      iss: `${this.baseUrl}/realms/${realm}`,
      sub,
      typ: 'Bearer',
      azp,
      preferred_username: username,
      scope: 'profile email',
    };
    const head = b64({ alg: 'HS256', typ: 'JWT', kid: 'emulator' });
    const body = b64(claims);
    const sig = createHmac('sha256', this.key).update(`${head}.${body}`).digest('base64url');
    return { token: `${head}.${body}.${sig}`, expiresIn: this.lifetimeSec };
  }

  /** The token's claims when it is genuine, unexpired and not revoked; otherwise null. */
  verify(token: string): TokenClaims | null {
    const [head, body, sig] = token.split('.');
    if (!head || !body || !sig) return null;
    const want = createHmac('sha256', this.key).update(`${head}.${body}`).digest();
    const got = Buffer.from(sig, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return null;
    }
    if (claims.exp * 1000 <= Date.now()) return null;
    const seq = Number(claims.jti.split('-')[1]);
    if (!(seq > this.validFromSeq)) return null;
    return claims;
  }

  revokeAll(): void {
    this.validFromSeq = this.seq;
  }
}
