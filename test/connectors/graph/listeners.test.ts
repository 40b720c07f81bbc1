/**
 * A run reading with many `$batch` calls in flight: every request and every wait for the tenant's
 * budget listens on the run's abort signal, beside the pipeline's own listeners. Node must not
 * warn of a listener leak that is none (operators read such warnings as a bug).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GraphEmulator } from '../../../connectors/graph/emulator/index.js';
import { runSync } from '../../../src/pipeline/run.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { configFor, connector } from './directory.js';
import { emulator, silent } from './helpers.js';

let db: TestDatabase;
let emu: GraphEmulator;
beforeAll(async () => {
  db = await createTestDatabase();
  emu = await emulator({ users: 300, groups: 160, membersPerGroup: 4, nestingDepth: 1, seed: 7 });
});
afterAll(async () => {
  await emu?.close();
  await db?.drop();
});

it('a run with 32 batches in flight makes Node warn of no abort-listener leak', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  try {
    const config = configFor(emu, 'listeners', {
      batchSize: 1,
      concurrency: 32,
      maxConcurrency: 32,
      // A tight budget: requests queue for it, each waiting on the signal too.
      requestBudget: { requests: 60, perSeconds: 1 },
    });
    const run = await runSync({ pool: db.pool, config, connector, trigger: 'test', logger: silent });
    expect(run.status).toBe('succeeded');
    expect(run.counts.groups.create).toBe(160);
    // Warnings are emitted on a later tick.
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    process.off('warning', onWarning);
  }
  expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
});
