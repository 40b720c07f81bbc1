/**
 * Who is asking: Crowd authenticates the application, not a user. Each request carries HTTP Basic
 * credentials with the application's name and password (as in Crowd), and may be limited to the
 * application's allowed client addresses.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { CrowdApplicationConfig } from '../../../config/schema.js';
import { resolveSecret } from '../../../config/secrets.js';
import { CrowdError } from './errors.js';

/** An application as the API holds it: the password as a digest, never as text. */
export interface CrowdApplication {
  name: string;
  /** Connector names, in precedence order. */
  directories: string[];
  allowedAddresses: string[] | null;
  passwordDigest: Buffer;
  allowList: BlockList | null;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Any client address matches some IPv4 or IPv6 block, as written; `::ffff:a.b.c.d` is IPv4. */
function blockList(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr = '', bits] = c.split('/');
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

/** Reads each application's password once, at start: a missing secret stops `dirsync serve`. */
export function loadApplications(
  apps: readonly CrowdApplicationConfig[],
  env: NodeJS.ProcessEnv = process.env,
): Map<string, CrowdApplication> {
  const out = new Map<string, CrowdApplication>();
  for (const a of apps) {
    out.set(a.name.toLowerCase(), {
      name: a.name,
      directories: [...a.directories],
      allowedAddresses: a.allowedAddresses ? [...a.allowedAddresses] : null,
      passwordDigest: digest(resolveSecret(a.password, env)),
      allowList: a.allowedAddresses ? blockList(a.allowedAddresses) : null,
    });
  }
  return out;
}

function addressAllowed(list: BlockList, ip: string): boolean {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (v4) return list.check(v4, 'ipv4') || list.check(ip, 'ipv6');
  return list.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
}

/** The same answer for an unknown application and a wrong password: neither is revealed. */
const DENIED = 'Application failed to authenticate';

/**
 * The application of a request, or a CrowdError: 401 APPLICATION_ACCESS_DENIED for missing,
 * unknown or wrong credentials, 403 APPLICATION_PERMISSION_DENIED for a disallowed address.
 * The password is compared in constant time (digests of equal length), and an unknown name costs
 * the same comparison.
 */
export function authenticate(
  apps: Map<string, CrowdApplication>,
  authorization: string | undefined,
  clientIp: string,
): CrowdApplication {
  const m = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(authorization ?? '');
  if (!m) throw new CrowdError('APPLICATION_ACCESS_DENIED', DENIED);
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new CrowdError('APPLICATION_ACCESS_DENIED', DENIED);
  const name = decoded.slice(0, colon);
  const given = digest(decoded.slice(colon + 1));
  const app = apps.get(name.toLowerCase());
  const expected = app?.passwordDigest ?? digest(`\0no application\0${name}`);
  const same = timingSafeEqual(given, expected);
  if (!app || !same) throw new CrowdError('APPLICATION_ACCESS_DENIED', DENIED);
  if (app.allowList && !addressAllowed(app.allowList, clientIp)) {
    throw new CrowdError(
      'APPLICATION_PERMISSION_DENIED',
      `Client with address "${clientIp}" is forbidden from making requests to the application, ${app.name}.`,
    );
  }
  return app;
}
