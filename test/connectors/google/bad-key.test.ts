/**
 * A service account key whose private_key cannot sign (issue 9, item 12) is an auth problem, not an
 * unavailable IdP: it used to be DIRSYNC_E_IDP_UNAVAILABLE and retried nine times.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoogleEmulator } from '../../../connectors/google/emulator/index.js';
import { readWith, startGoogle } from './helpers.js';

let emu: GoogleEmulator;
beforeAll(async () => {
  emu = await startGoogle();
});
afterAll(async () => {
  await emu?.close();
});

describe('a service account key that cannot sign', () => {
  it('fails the read with DIRSYNC_E_IDP_AUTH (not retried), naming private_key without its value', async () => {
    const key = JSON.parse(emu.env.DIRSYNC_GOOGLE_SA_KEY as string) as Record<string, string>;
    const broken = {
      ...key,
      private_key: '-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n',
    };
    process.env.DIRSYNC_TEST_BAD_SA_KEY = JSON.stringify(broken);
    const err = (await readWith(emu, { serviceAccountKey: { env: 'DIRSYNC_TEST_BAD_SA_KEY' } }).then(
      () => null,
      (e: unknown) => e,
    )) as { code?: string; retryable?: boolean; message?: string } | null;
    expect(err?.code).toBe('DIRSYNC_E_IDP_AUTH');
    expect(err?.retryable).toBe(false);
    expect(err?.message).toContain('private_key');
    expect(err?.message).not.toContain('not-a-key');
  });
});
