import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../config/load.js';

const base = { connectors: [{ name: 'hr', kind: 'file', path: 'x.json' }] };

describe('alerts config', () => {
  it('is optional, with defaults', () => {
    const c = parseConfig(base);
    expect(c.alerts).toEqual({
      webhooks: [],
      failuresInARow: 3,
      staleAfter: 86_400_000,
      checkEvery: 30_000,
      maxAttempts: 8,
    });
  });

  it('takes webhooks, e-mail and thresholds; secrets only as references', () => {
    const c = parseConfig({
      ...base,
      alerts: {
        webhooks: [
          { url: 'https://h.example/x', secret: { env: 'HMAC' } },
          { url: 'http://127.0.0.1:9/x', format: 'slack' },
        ],
        email: {
          host: 'smtp.example',
          user: 'u',
          password: { file: '/run/s' },
          from: 'a@b.c',
          to: ['d@e.f'],
        },
        failuresInARow: 2,
        staleAfter: '6h',
      },
    });
    expect(c.alerts?.webhooks[0]?.format).toBe('json');
    expect(c.alerts?.email?.port).toBe(587);
    expect(c.alerts?.staleAfter).toBe(6 * 3_600_000);
  });

  it('lists every problem with its path', () => {
    let message = '';
    try {
      parseConfig({
        ...base,
        alerts: {
          webhooks: [{ url: 'ftp://x' }, { url: 'https://ok', secret: 'inline-secret' }],
          email: { host: 'smtp', from: 'a@b.c', to: [] },
          staleAfter: 'soon',
        },
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('alerts.webhooks[0].url: must be an http(s) URL');
    expect(message).toContain('alerts.webhooks[1].secret:');
    expect(message).toContain('alerts.email.to:');
    expect(message).toContain('alerts.staleAfter: "soon" is not a duration');
    expect(message).not.toContain('inline-secret');
  });
});
