import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/api/server.js';
import { isDirsyncError } from '../../src/errors.js';
import { fileSource, users } from '../helpers/snapshot.js';
import { harness, testConfig, type Harness } from './helpers.js';

/** Answers are checked field by field; their shape is the API's contract, not a TS type here. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const token = randomBytes(24).toString('hex');
let h: Harness;
let url: string;

beforeAll(async () => {
  const src = fileSource({}, 'hr');
  src.write({ users: users(2) });
  // Not loopback by our rule (only 127.0.0.1, ::1 and localhost are): authentication is required.
  h = await harness([src.config], { host: '127.0.0.2', auth: { token } });
  url = h.server.url;
});
afterAll(async () => {
  await h?.close();
});

describe('a server reachable from other machines', () => {
  it('refuses to start on a non-loopback host without an admin token', async () => {
    const src = fileSource({}, 'x');
    const config = testConfig([src.config], 'unused');
    for (const host of ['0.0.0.0', '127.0.0.2', '192.0.2.10']) {
      const err = await startServer({ config, pool: h.db.pool, host, port: 0, auth: { token: null } }).catch(
        (e) => e,
      );
      expect(isDirsyncError(err, 'DIRSYNC_E_CONFIG_INVALID')).toBe(true);
      expect(err.message).toContain(`server.host is ${host}`);
      expect(err.message).toContain('DIRSYNC_ADMIN_TOKEN');
    }
    const env = { DIRSYNC_ADMIN_TOKEN: 'abc123weak' };
    const weak = await startServer({ config, pool: h.db.pool, host: '0.0.0.0', port: 0, env }).catch(
      (e) => e,
    );
    expect(isDirsyncError(weak, 'DIRSYNC_E_CONFIG_INVALID')).toBe(true);
    expect(weak.message).not.toContain('abc123weak');
  });

  it('answers 401 without the token and 200 with it', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
    for (const path of [
      '/api/connectors',
      '/api/runs',
      '/metrics',
      '/openapi.json',
      '/api/events',
      '/admin/queues',
    ]) {
      const res = await fetch(`${url}${path}`);
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
    }
    const anon = await fetch(`${url}/api/connectors`);
    expect(((await anon.json()) as Json).error.code).toBe('UNAUTHORIZED');
    const wrong = await fetch(`${url}/api/connectors`, { headers: { authorization: `Bearer ${token}x` } });
    expect(wrong.status).toBe(401);
    const ok = await fetch(`${url}/api/connectors`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as Json).items[0].name).toBe('hr');
    // Probes need no token and learn nothing but up/down.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('the Bearer token may change state without a CSRF token', async () => {
    const res = await fetch(`${url}/api/connectors/hr/sync`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(202);
  });

  it('a browser signs in with the form, gets a session cookie, and must send the CSRF token', async () => {
    const page = await fetch(`${url}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/login');
    const form = await fetch(`${url}/login`);
    expect(await form.text()).toContain('name="token"');

    const bad = await fetch(`${url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url },
      body: new URLSearchParams({ token: 'not-it' }).toString(),
      redirect: 'manual',
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();

    const crossSite = await fetch(`${url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ token }).toString(),
      redirect: 'manual',
    });
    expect(crossSite.status).toBe(403);

    const login = await fetch(`${url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url },
      body: new URLSearchParams({ token }).toString(),
      redirect: 'manual',
    });
    expect(login.status).toBe(303);
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toContain(token);
    const cookie = setCookie.split(';')[0] as string;

    const session = (await (await fetch(`${url}/api/session`, { headers: { cookie } })).json()) as Json;
    expect(session).toMatchObject({ authRequired: true, via: 'session' });
    expect(session.csrfToken).toMatch(/^[\w-]{20,}$/);
    expect(JSON.stringify(session)).not.toContain(token);

    const post = (headers: Record<string, string>) =>
      fetch(`${url}/api/connectors/hr/sync`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json', ...headers },
        body: '{}',
      });
    expect((await post({ origin: url })).status).toBe(403);
    expect((await post({ origin: 'https://evil.example', 'x-csrf-token': session.csrfToken })).status).toBe(
      403,
    );
    expect((await post({ origin: url, 'x-csrf-token': session.csrfToken })).status).toBe(202);

    const out = await fetch(`${url}/logout`, {
      method: 'POST',
      headers: { cookie, origin: url, 'x-csrf-token': session.csrfToken },
    });
    expect(out.status).toBe(200);
    expect((await fetch(`${url}/api/connectors`, { headers: { cookie } })).status).toBe(401);
  });
});

// Last in the file: it locks this address out of /login for the rest of the window.
describe('guessing the token (issue 9, item 12)', () => {
  it('answers 429 with Retry-After after 10 failed logins from one address, even for the right token', async () => {
    const attempt = (t: string) =>
      fetch(`${url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url },
        body: new URLSearchParams({ token: t }).toString(),
        redirect: 'manual',
      });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await attempt(`guess-${i}`)).status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.at(-1)).toBe(429);
    const right = await attempt(token);
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
