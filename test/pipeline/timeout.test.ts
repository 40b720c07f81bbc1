/**
 * A run past `maxRunDuration` fails the same way whatever the IdP (issue 9, item 9): the Okta SDK
 * turns an aborted request into its own cancellation, which used to be recorded as
 * DIRSYNC_E_RUN_CANCELLED (not retried) where every other connector said DIRSYNC_E_RUN_TIMEOUT.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectorConfig } from '../../config/load.js';
import type { OktaEmulator } from '../../connectors/okta/emulator/index.js';
import { oktaConnector } from '../../connectors/okta/index.js';
import type { Connector } from '../../connectors/types.js';
import { runSync } from '../../src/pipeline/run.js';
import { emulator } from '../connectors/okta/helpers.js';
import { useTestDatabase } from '../helpers/db.js';
import { file, fileSource, users } from '../helpers/snapshot.js';

const db = useTestDatabase();
const okta = oktaConnector as unknown as Connector;
let emu: OktaEmulator;

beforeAll(async () => {
  emu = await emulator({ latencyMs: 400 });
});
afterAll(async () => {
  await emu?.close();
});

async function runError(p: Promise<unknown>) {
  return (await p.then(
    () => null,
    (e: unknown) => e,
  )) as { code?: string; retryable?: boolean } | null;
}

describe('maxRunDuration', () => {
  it('is DIRSYNC_E_RUN_TIMEOUT (retryable) for Okta', async () => {
    const config = parseConnectorConfig(
      { ...emu.connector, name: 'okta-slow', maxRunDuration: '300ms' },
      okta,
    );
    const err = await runError(
      runSync({ pool: db().pool, config, connector: okta, logger: pino({ level: 'silent' }) }),
    );
    expect(err?.code).toBe('DIRSYNC_E_RUN_TIMEOUT');
    expect(err?.retryable).toBe(true);
    const { rows } = await db().pool.query(
      `SELECT status, error_code FROM dirsync.runs WHERE connector = 'okta-slow'`,
    );
    expect(rows).toEqual([{ status: 'failed', error_code: 'DIRSYNC_E_RUN_TIMEOUT' }]);
  });

  it('is DIRSYNC_E_RUN_TIMEOUT for the file connector too', async () => {
    const src = fileSource({ maxRunDuration: '1ms' }, 'file-slow');
    src.write({ users: users(2000) });
    const err = await runError(
      runSync({ pool: db().pool, config: src.config, connector: file, logger: pino({ level: 'silent' }) }),
    );
    expect(err?.code).toBe('DIRSYNC_E_RUN_TIMEOUT');
  });
});
