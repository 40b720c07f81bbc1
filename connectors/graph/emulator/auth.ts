/**
 * The Microsoft identity platform endpoints MSAL calls for the client-credentials flow:
 * the OpenID configuration document and the v2.0 token endpoint, with a client secret or a
 * certificate-signed client assertion (RS256, or PS256 with `x5t#S256`, as MSAL Node sends).
 * Error bodies follow Entra ID's `{ error, error_description: "AADSTSnnnn: ...", error_codes }`.
 * https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
 * https://learn.microsoft.com/entra/identity-platform/certificate-credentials
 */
import {
  createHash,
  createHmac,
  constants,
  randomBytes,
  randomUUID,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import type { X509Certificate } from 'node:crypto';
import { GraphHttpError } from './http.js';

export interface AppRegistration {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  certificates: X509Certificate[];
}

export interface TokenClaims {
  tid: string;
  appid: string;
  roles: string[];
  iat: number;
  exp: number;
  /** Issue time in ms, for revocation by {@link TokenService.revokeAll}. */
  iatMs: number;
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

export class TokenService {
  /** Lifetime of issued tokens, seconds (Entra ID: 60–90 minutes). */
  lifetimeSec = 3599;
  /** Application permissions carried by new tokens. */
  roles = ['User.Read.All', 'GroupMember.Read.All', 'Organization.Read.All'];
  tokensIssued = 0;
  private readonly key = randomBytes(32);
  private revokedBefore = 0;

  /** `https://127.0.0.1:PORT`, known once the server listens. */
  baseUrl = '';

  constructor(readonly app: AppRegistration) {}

  /** Every token issued so far stops working (as after a key rollover or a revoked grant). */
  revokeAll(): void {
    this.revokedBefore = Date.now() + 1;
  }

  openIdConfiguration(tenant: string): unknown {
    this.checkTenant(tenant);
    const t = `${this.baseUrl}/${tenant}`;
    return {
      token_endpoint: `${t}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${t}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${t}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${this.baseUrl}/oidc/userinfo`,
      authorization_endpoint: `${t}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${t}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${t}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'tid'],
      kerberos_endpoint: `${t}/kerberos`,
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: new URL(this.baseUrl).host,
      rbac_url: 'https://pas.windows.net',
    };
  }

  private checkTenant(tenant: string): void {
    if (tenant !== this.app.tenantId) {
      throw aadError(
        400,
        'invalid_request',
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      );
    }
  }

  /** POST /{tenant}/oauth2/v2.0/token (form-encoded). */
  token(tenant: string, form: URLSearchParams): unknown {
    this.checkTenant(tenant);
    if (form.get('grant_type') !== 'client_credentials') {
      throw aadError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    }
    const clientId = form.get('client_id') ?? '';
    if (clientId !== this.app.clientId) {
      throw aadError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`,
      );
    }
    const scope = form.get('scope') ?? '';
    const resource = scope.split(' ').find((s) => s.endsWith('/.default'));
    if (!resource) {
      throw aadError(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`,
      );
    }
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      if (!safeEqual(secret, this.app.clientSecret)) {
        throw aadError(
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
        );
      }
    } else if (assertion !== null) {
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
        throw aadError(400, 'invalid_request', 50027, 'Invalid client_assertion_type.');
      }
      this.checkAssertion(assertion, `${this.baseUrl}/${tenant}/oauth2/v2.0/token`);
    } else {
      throw aadError(
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    }
    const now = Date.now();
    const claims: TokenClaims = {
      tid: tenant,
      appid: clientId,
      roles: [...this.roles],
      iat: Math.floor(now / 1000),
      exp: Math.floor(now / 1000) + this.lifetimeSec,
      iatMs: now,
    };
    const head = b64({ typ: 'JWT', alg: 'HS256', kid: 'emulator' });
    const body = b64({
      aud: resource.slice(0, -'/.default'.length),
      iss: `https://sts.windows.net/${tenant}/`,
      ...claims,
    });
    const sig = createHmac('sha256', this.key).update(`${head}.${body}`).digest('base64url');
    this.tokensIssued++;
    return {
      token_type: 'Bearer',
      expires_in: this.lifetimeSec,
      ext_expires_in: this.lifetimeSec,
      access_token: `${head}.${body}.${sig}`,
    };
  }

  private checkAssertion(jwt: string, audience: string): void {
    const fail = (why: string) =>
      aadError(401, 'invalid_client', 700027, `Client assertion failed signature validation. (${why})`);
    const parts = jwt.split('.');
    if (parts.length !== 3) throw fail('not a JWT');
    const [h, p, s] = parts as [string, string, string];
    let header: Record<string, unknown>;
    let payload: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
      payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    } catch {
      throw fail('undecodable');
    }
    const byS256 = typeof header['x5t#S256'] === 'string';
    const thumb = (byS256 ? header['x5t#S256'] : header.x5t) as string | undefined;
    const cert = this.app.certificates.find((c) => {
      const der = c.raw;
      const t = createHash(byS256 ? 'sha256' : 'sha1')
        .update(der)
        .digest('base64url');
      return t === thumb;
    });
    if (!cert) {
      throw aadError(
        401,
        'invalid_client',
        700027,
        `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.]`,
      );
    }
    const alg = header.alg;
    const data = Buffer.from(`${h}.${p}`);
    const sig = Buffer.from(s, 'base64url');
    let valid = false;
    if (alg === 'RS256') valid = verify('sha256', data, cert.publicKey, sig);
    else if (alg === 'PS256') {
      valid = verify(
        'sha256',
        data,
        { key: cert.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        sig,
      );
    } else throw fail(`unsupported alg ${String(alg)}`);
    if (!valid) throw fail('bad signature');
    const now = Math.floor(Date.now() / 1000);
    if (payload.aud !== audience)
      throw aadError(
        401,
        'invalid_client',
        700212,
        `No matching federated identity record found for presented assertion audience '${String(payload.aud)}'.`,
      );
    if (payload.iss !== this.app.clientId || payload.sub !== this.app.clientId)
      throw fail('iss/sub must be the client id');
    if (typeof payload.exp !== 'number' || payload.exp < now)
      throw aadError(401, 'invalid_client', 700024, 'Client assertion is not within its valid time range.');
  }

  /** Checks `Authorization: Bearer` on a Graph call; returns the claims or throws Graph's 401. */
  checkBearer(authorization: string | undefined): TokenClaims {
    const bad = (msg: string) =>
      new GraphHttpError(401, 'InvalidAuthenticationToken', msg, {
        'WWW-Authenticate': `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
      });
    if (!authorization) throw bad('Access token is empty.');
    const m = /^Bearer (.+)$/i.exec(authorization);
    if (!m) throw bad('Access token is empty.');
    const parts = (m[1] as string).split('.');
    if (parts.length !== 3) throw bad('IDX14100: JWT is not well formed, there are no dots (.).');
    const [h, p, s] = parts as [string, string, string];
    const expect = createHmac('sha256', this.key).update(`${h}.${p}`).digest('base64url');
    if (!safeEqual(s, expect)) throw bad('Access token validation failure. Invalid audience.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as TokenClaims;
    if (claims.tid !== this.app.tenantId) throw bad('Access token validation failure. Invalid audience.');
    if (claims.exp * 1000 <= Date.now() || claims.iatMs < this.revokedBefore) {
      throw bad('Lifetime validation failed, the token is expired.');
    }
    return claims;
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Entra ID's token endpoint error body. */
export class AadError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.error_description));
  }
}

function aadError(status: number, error: string, code: number, text: string): AadError {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const ts = new Date().toISOString().replace('T', ' ').replace('Z', 'Z');
  return new AadError(status, {
    error,
    error_description: `AADSTS${code}: ${text} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${ts}`,
    error_codes: [code],
    timestamp: ts,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  });
}
