/**
 * A Postgres restart in the middle of a run (issue 9, item 4): every session gets 57P01, including
 * the one holding the run lock. The process must survive, the run must fail as retryable, and the
 * next run (in any process) must find no row left `running` and no staging table left behind.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector, Source } from '../../connectors/types.js';
import { createPool } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import { runSync } from '../../src/pipeline/run.js';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/instances.js';
import { file, fileSource, users } from '../helpers/snapshot.js';

let pgi: PrivatePostgres;
let pool: pg.Pool;

beforeAll(async () => {
  pgi = await startPrivatePostgres();
  pool = createPool(await pgi.createDatabase('dirsync'), 12);
  await migrate(pool);
}, 60_000);

afterAll(async () => {
  await pool?.end().catch(() => {});
  await pgi?.destroy();
});

/** The file connector, but its read waits for `gate` after the first record. */
function gatedConnector(gate: Promise<void>, reading: () => void): Connector {
  return {
    ...file,
    async open(config, ctx) {
      const inner: Source = await file.open(config, ctx);
      return {
        ...inner,
        stats: () => inner.stats(),
        close: () => inner.close(),
        async *read() {
          let first = true;
          for await (const item of inner.read()) {
            yield item;
            if (first) {
              first = false;
              reading();
              await gate;
            }
          }
        },
      };
    },
  };
}

describe('a Postgres restart during a run', () => {
  it('fails the run as retryable without crashing, and the next run reaps it and its tables', async () => {
    const src = fileSource({}, 'restart');
    src.write({ users: users(5) });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let reading!: () => void;
    const started = new Promise<void>((r) => (reading = r));

    const crashes: unknown[] = [];
    const onCrash = (e: unknown) => crashes.push(e);
    process.on('uncaughtException', onCrash);
    try {
      const run = runSync({ pool, config: src.config, connector: gatedConnector(gate, reading) });
      const failed = run.then(
        () => null,
        (e: unknown) => e,
      );
      await started;
      await pgi.restart();
      open();
      const err = (await failed) as { code?: string; retryable?: boolean; runId?: number } | null;
      expect(err?.code).toBe('DIRSYNC_E_DB_UNAVAILABLE');
      expect(err?.retryable).toBe(true);
      // Give any stray 'error' event a chance to surface.
      await new Promise((r) => setTimeout(r, 200));
      expect(crashes).toEqual([]);
    } finally {
      process.off('uncaughtException', onCrash);
    }

    // The pool serves again, and a new run (CLI or worker alike) leaves nothing `running`.
    const next = await runSync({ pool, config: src.config, connector: file });
    expect(next.status).toBe('succeeded');
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM dirsync.runs WHERE status = 'running'`);
    expect(rows[0].n).toBe(0);
    const { rows: tables } = await pool.query(
      `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'dirsync_stage'`,
    );
    expect(tables[0].n).toBe(0);
  }, 60_000);
});
