/**
 * A worker process: `node --import tsx jobs/worker.main.ts` (what `dirsync worker` runs).
 * Config from DIRSYNC_CONFIG, Postgres from DATABASE_URL, Redis from REDIS_URL; concurrency from
 * DIRSYNC_WORKER_CONCURRENCY or the config. Exits 0 after a graceful shutdown (SIGTERM/SIGINT),
 * 1 when it cannot start (the message starts with the error code), 2 on an invalid config.
 */
import { toDirsyncError } from '../src/errors.js';
import { workerCommand } from './cli.js';

const concurrency = process.env.DIRSYNC_WORKER_CONCURRENCY;

workerCommand(concurrency && /^\d+$/.test(concurrency) ? { concurrency: Number(concurrency) } : {}).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const err = toDirsyncError(e);
    process.stderr.write(`dirsync worker: ${err.code}: ${err.message}\n`);
    process.exitCode =
      err.code === 'DIRSYNC_E_CONFIG_INVALID' || err.code === 'DIRSYNC_E_CONFIG_NOT_FOUND' ? 2 : 1;
    // A failed start may leave a client's reconnect timer behind; exit once the logs are flushed.
    setTimeout(() => process.exit(), 100);
  },
);
