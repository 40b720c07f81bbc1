/**
 * Unit tests of the pure parts: backoff, Retry-After parsing, error classification.
 */
import { describe, expect, it } from 'vitest';
import { classifyError, retryAfterMs } from '../../../connectors/google/errors.js';
import { AdaptiveLimit, backoffMs } from '../../../connectors/google/pacing.js';

const apiError = (status: number, reason: string, headers: Record<string, string> = {}) => ({
  config: { url: new URL('https://admin.googleapis.com/admin/directory/v1/users') },
  response: {
    status,
    headers: new Headers(headers),
    data: {
      error: { code: status, message: 'm', errors: [{ reason, domain: 'usageLimits', message: 'm' }] },
    },
  },
});
const TOKEN_URL = 'https://oauth2.googleapis.com/token';

describe('backoffMs', () => {
  it('grows exponentially within [ceiling/2, ceiling], is capped, and never undercuts Retry-After', () => {
    for (let attempt = 0; attempt < 6; attempt++) {
      const ceiling = 250 * 2 ** attempt;
      const v = backoffMs(attempt, undefined, 60_000);
      expect(v).toBeGreaterThanOrEqual(ceiling / 2);
      expect(v).toBeLessThanOrEqual(ceiling);
    }
    expect(backoffMs(30, undefined, 5_000)).toBeLessThanOrEqual(5_000);
    expect(backoffMs(0, 3_000, 60_000)).toBe(3_000);
    expect(backoffMs(0, 90_000, 60_000)).toBe(60_000);
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': '7' }))).toBe(7_000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now)).toBe(5_000);
    expect(retryAfterMs(new Headers({}))).toBeUndefined();
  });
});

describe('classifyError', () => {
  it('403 rate-limit reasons and 429 are throttling; other 403s are forbidden', () => {
    for (const reason of ['userRateLimitExceeded', 'rateLimitExceeded', 'quotaExceeded']) {
      const e = classifyError(apiError(403, reason), 'users.list', TOKEN_URL);
      expect([e.code, e.retryable, e.vendorCode]).toEqual(['DIRSYNC_E_IDP_THROTTLED', true, reason]);
    }
    const t = classifyError(apiError(429, 'rateLimitExceeded', { 'retry-after': '2' }), 'x', TOKEN_URL);
    expect([t.code, t.retryAfterMs]).toEqual(['DIRSYNC_E_IDP_THROTTLED', 2000]);
    expect(classifyError(apiError(403, 'forbidden'), 'x', TOKEN_URL).code).toBe('DIRSYNC_E_IDP_FORBIDDEN');
    expect(classifyError(apiError(401, 'authError'), 'x', TOKEN_URL).code).toBe('DIRSYNC_E_IDP_AUTH');
    expect(classifyError(apiError(404, 'notFound'), 'x', TOKEN_URL).code).toBe('DIRSYNC_E_IDP_NOT_FOUND');
    expect(classifyError(apiError(503, 'backendError'), 'x', TOKEN_URL).retryable).toBe(true);
    const bad = classifyError(apiError(400, 'invalid'), 'x', TOKEN_URL);
    expect([bad.code, bad.retryable]).toEqual(['DIRSYNC_E_IDP_BAD_RESPONSE', false]);
  });

  it('token endpoint errors: 4xx is auth (not retryable), 5xx is unavailable; no response is unavailable', () => {
    const tokenErr = (status: number) => ({
      config: { url: new URL(TOKEN_URL) },
      response: {
        status,
        headers: new Headers(),
        data: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' },
      },
    });
    const a = classifyError(tokenErr(400), 'x', TOKEN_URL);
    expect([a.code, a.retryable, a.vendorCode]).toEqual(['DIRSYNC_E_IDP_AUTH', false, 'invalid_grant']);
    expect(classifyError(tokenErr(503), 'x', TOKEN_URL).code).toBe('DIRSYNC_E_IDP_UNAVAILABLE');
    const net = classifyError(
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      'x',
      TOKEN_URL,
    );
    expect([net.code, net.retryable]).toEqual(['DIRSYNC_E_IDP_UNAVAILABLE', true]);
  });
});

describe('AdaptiveLimit', () => {
  it('halves on throttling, once per burst of answers already in flight, and climbs back one at a time', () => {
    const l = new AdaptiveLimit(16);
    expect(l.current).toBe(16);
    l.onThrottle();
    expect(l.current).toBe(8);
    // The rest of the 16 sent before the cut come back throttled too: no further cut for them.
    for (let i = 0; i < 15; i++) l.onThrottle();
    expect(l.current).toBe(8);
    l.onThrottle(); // a throttled answer to a request sent at the new limit
    expect(l.current).toBe(4);
    for (let i = 0; i < 4; i++) l.onSuccess();
    expect(l.current).toBe(5);
    for (let i = 0; i < 1000; i++) l.onSuccess();
    expect(l.current).toBe(16);
  });

  it('never goes below one', () => {
    const l = new AdaptiveLimit(2);
    for (let i = 0; i < 50; i++) l.onThrottle();
    expect(l.current).toBe(1);
  });
});
