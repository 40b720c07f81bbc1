/**
 * App-only credentials from @azure/identity, pointed at the configured authority host, and the
 * TLS trust both SDKs use. The client secret or certificate is read when the source opens and
 * only handed to the credential; it never reaches a log line or an error message.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { ClientCertificateCredential, ClientSecretCredential, type TokenCredential } from '@azure/identity';
import { Agent, request } from 'undici';
import { resolveSecret } from '../../config/secrets.js';
import { DirsyncError } from '../../src/errors.js';
import type { GraphConfig } from './config.js';

/** Clouds whose authority MSAL can validate through instance discovery. */
const KNOWN_AUTHORITIES = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);

/** The CA list both clients trust: the public roots plus `tls.caFile` (added, not replacing). */
export function trustedCas(config: GraphConfig): string[] | undefined {
  if (!config.tls) return undefined;
  let extra: string;
  try {
    extra = readFileSync(config.tls.caFile, 'utf8');
  } catch (cause) {
    throw new DirsyncError('DIRSYNC_E_CONFIG_INVALID', `tls.caFile ${config.tls.caFile} cannot be read`, {
      cause,
    });
  }
  return [...rootCertificates, extra];
}

/** A factory, so a revoked token can be replaced by starting from an empty token cache. */
export function credentialFactory(config: GraphConfig, ca: string[] | undefined): () => TokenCredential {
  const options = {
    authorityHost: config.authorityHost,
    // Instance discovery asks login.microsoftonline.com whether the authority is valid; a private
    // or emulated authority is unknown there and MSAL would fail after a slow round trip.
    disableInstanceDiscovery: !KNOWN_AUTHORITIES.has(new URL(config.authorityHost).hostname),
    ...(ca ? { tlsOptions: { ca } } : {}),
  };
  if (config.auth.type === 'clientSecret') {
    const secret = resolveSecret(config.auth.clientSecret);
    return () => new ClientSecretCredential(config.tenantId, config.clientId, secret, options);
  }
  const pem = resolveSecret(config.auth.certificate);
  if (
    !/-----BEGIN CERTIFICATE-----/.test(pem) ||
    !/-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(pem)
  ) {
    throw new DirsyncError(
      'DIRSYNC_E_CONFIG_INVALID',
      'auth.certificate must be a PEM holding the certificate and its private key',
    );
  }
  const sendCertificateChain = config.auth.sendCertificateChain;
  return () =>
    new ClientCertificateCredential(
      config.tenantId,
      config.clientId,
      { certificate: pem },
      { ...options, sendCertificateChain },
    );
}

/** The `.default` scope of the configured Graph endpoint (national clouds have their own). */
export function graphScope(config: GraphConfig): string {
  return `${new URL(config.graphBaseUrl).origin}/.default`;
}

/**
 * Turns a failed token request into a DirsyncError. Entra ID answers `invalid_client` /
 * `unauthorized_client` / `invalid_request` with an AADSTS code; the description can name the
 * app and tenant but never the secret, and we keep only the error code and AADSTS number anyway.
 */
export function tokenError(e: unknown, config: GraphConfig): DirsyncError {
  if (e instanceof DirsyncError) return e;
  const err = e as {
    name?: string;
    statusCode?: number;
    errorResponse?: { error?: string; errorDescription?: string };
  };
  const status = err.statusCode;
  const code = err.errorResponse?.error;
  const aadsts = /AADSTS\d+/.exec(err.errorResponse?.errorDescription ?? (e as Error)?.message ?? '')?.[0];
  const vendorCode = [code, aadsts].filter(Boolean).join(' ') || err.name || 'unknown';
  const where = `token request to ${config.authorityHost} for tenant ${config.tenantId}`;
  if (status !== undefined && status >= 500) {
    return new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', `${where} failed with ${status}`, {
      status,
      vendorCode,
    });
  }
  if (
    (status !== undefined && status >= 400) ||
    code ||
    aadsts ||
    err.name === 'CredentialUnavailableError'
  ) {
    return new DirsyncError('DIRSYNC_E_IDP_AUTH', `${where} was refused (${vendorCode})`, {
      ...(status !== undefined ? { status } : {}),
      vendorCode,
    });
  }
  // No HTTP answer at all (connection refused, TLS failure, DNS): possibly transient.
  return new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', `${where} failed (${err.name ?? 'error'})`, {
    vendorCode,
  });
}

/**
 * MSAL reports every failure to read the authority's OpenID configuration as one opaque
 * `endpoints_resolution_error` (unknown tenant, wrong host, network down, untrusted certificate).
 * Ask the authority once ourselves to tell them apart: a refused tenant is an auth error, the
 * rest is an availability (or TLS trust) problem.
 */
export async function diagnoseAuthority(
  config: GraphConfig,
  ca: string[] | undefined,
): Promise<DirsyncError> {
  const url = `${config.authorityHost.replace(/\/$/, '')}/${encodeURIComponent(config.tenantId)}/v2.0/.well-known/openid-configuration`;
  const where = `OpenID configuration of tenant ${config.tenantId} at ${config.authorityHost}`;
  const dispatcher = new Agent({ connect: ca ? { ca } : {}, headersTimeout: 15_000, bodyTimeout: 15_000 });
  try {
    const res = await request(url, { dispatcher });
    const body = await res.body.text();
    const status = res.statusCode;
    if (status >= 400 && status < 500) {
      const aadsts = /AADSTS\d+/.exec(body)?.[0];
      return new DirsyncError(
        'DIRSYNC_E_IDP_AUTH',
        `${where} was refused (${status}${aadsts ? ` ${aadsts}` : ''})`,
        {
          status,
          vendorCode: aadsts ?? 'endpoints_resolution_error',
        },
      );
    }
    return new DirsyncError('DIRSYNC_E_IDP_UNAVAILABLE', `${where} answered ${status}`, { status });
  } catch (e) {
    const code = (e as { code?: string }).code ?? ((e as Error).cause as { code?: string } | undefined)?.code;
    if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
      return new DirsyncError(
        'DIRSYNC_E_IDP_UNAVAILABLE',
        `${where}: the server certificate is not trusted (${code}); for a private CA set tls.caFile`,
        { vendorCode: code, retryable: false },
      );
    }
    return new DirsyncError(
      'DIRSYNC_E_IDP_UNAVAILABLE',
      `${where} cannot be reached (${code ?? (e as Error).name})`,
      {
        ...(code ? { vendorCode: code } : {}),
      },
    );
  } finally {
    await dispatcher.close();
  }
}
