/**
 * Who may talk to the dashboard and API, and how state-changing requests are kept safe.
 *
 * - On a loopback bind without a token, anyone on this machine may read and act (like a local
 *   database console), but the Host header must name a loopback address, so a web page that
 *   rebinds its DNS name to 127.0.0.1 cannot reach us.
 * - Any other bind needs the admin token: `Authorization: Bearer <token>` for the API, or the
 *   login form that sets an HttpOnly, SameSite=Strict session cookie for the browser.
 * - A state-changing request (POST) must come from our own origin (Origin / Sec-Fetch-Site) and,
 *   unless it carries the Bearer token (never sent by a browser on its own), the session's CSRF
 *   token in `X-CSRF-Token`, which only same-origin script can read from `/api/session`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'dirsync_session';
const SESSION_TTL_MS = 12 * 3_600_000;

/** Hosts we treat as "only this machine". Anything else (0.0.0.0, 127.0.0.2, a LAN address) needs auth. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === '127.0.0.1' || h === 'localhost' || h === '::1';
}

/** The hostname of a Host header (`127.0.0.1:8080`, `[::1]:80`, `localhost`). */
function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1);
  return hostHeader.replace(/:\d+$/, '');
}

function sameSecret(a: string, b: string): boolean {
  // Hash first so the comparison takes the same time whatever the lengths.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    try {
      out[k] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      // a malformed cookie is ignored, not an error
    }
  }
  return out;
}

export type Principal = { via: 'token' | 'session' | 'loopback'; csrf: string | null };

export class Guard {
  private readonly sessions = new Map<string, { csrf: string; expires: number }>();
  /** CSRF token of the unauthenticated loopback mode. */
  private readonly loopbackCsrf = randomBytes(24).toString('base64url');

  constructor(
    /** The admin token; `null` on a loopback bind without one. */
    readonly token: string | null,
  ) {}

  get authRequired(): boolean {
    return this.token !== null;
  }

  checkToken(candidate: string): boolean {
    return this.token !== null && sameSecret(candidate, this.token);
  }

  createSession(): { id: string; csrf: string } {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (s.expires < now) this.sessions.delete(id);
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    this.sessions.set(id, { csrf, expires: now + SESSION_TTL_MS });
    return { id, csrf };
  }

  dropSession(req: FastifyRequest): void {
    const id = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (id) this.sessions.delete(id);
  }

  /** Who sent this request, or null when nobody we know. */
  identify(req: FastifyRequest): Principal | null {
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer\s+(.+)$/i.exec(auth);
      // A wrong or malformed Authorization header is refused even in loopback mode: it is a mistake.
      if (!m || !this.token || !this.checkToken(m[1] as string)) return null;
      return { via: 'token', csrf: null };
    }
    if (!this.token) return { via: 'loopback', csrf: this.loopbackCsrf };
    const id = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    const s = id ? this.sessions.get(id) : undefined;
    if (!s || s.expires < Date.now()) return null;
    return { via: 'session', csrf: s.csrf };
  }

  /** Without auth, only loopback Host names are served (DNS rebinding). */
  hostAllowed(req: FastifyRequest): boolean {
    if (this.token) return true;
    return isLoopbackHost(hostnameOf(req.headers.host ?? ''));
  }

  /** The request came from a page of our own origin (or from a non-browser client). */
  sameOrigin(req: FastifyRequest, requireOrigin: boolean): boolean {
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') return false;
    // Set by the browser itself (no page script can forge it); a form POST may send `Origin: null`.
    if (site === 'same-origin')
      return origin === undefined || origin === 'null' || this.originMatches(origin, req);
    if (origin === undefined) return !requireOrigin;
    return this.originMatches(origin, req);
  }

  private originMatches(origin: string, req: FastifyRequest): boolean {
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  }
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).type('application/json').send({ error: { code, message } });
}
