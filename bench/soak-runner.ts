/**
 * The soak's sync process: `dirsync sync` without paying the process start for every run. It reads
 * one connector name per line on stdin and runs one sync of it (exactly what `dirsync sync` does:
 * runSync in this process, trigger `cli`), answering one JSON line per run. The soak SIGKILLs it
 * mid-run and starts a new one, as an operator's killed CLI would be.
 */
import { createInterface } from 'node:readline';
import { findConnector, loadConfig } from '../config/load.js';
import { silentLogger } from '../src/logger.js';
import { runSync } from '../src/pipeline/run.js';
import { createPool, databaseUrl } from '../src/store/db.js';

const config = loadConfig();
const pool = createPool(databaseUrl(), 8);
const out = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);

out({ ready: true });
for await (const line of createInterface({ input: process.stdin })) {
  const name = line.trim();
  if (!name) continue;
  try {
    const s = await runSync({
      pool,
      config: findConnector(config, name),
      trigger: 'cli',
      logger: silentLogger,
    });
    out({ runId: s.runId, status: s.status });
  } catch (e) {
    out({ error: (e as { code?: string }).code ?? String(e) });
  }
}
await pool.end();
