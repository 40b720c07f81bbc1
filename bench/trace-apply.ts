/**
 * `node --import tsx bench/trace-apply.ts [snapshot.ndjson]`: one initial sync (default: the org
 * `npm run bench` wrote to bench/.data/org.ndjson) into a fresh database, printing every statement
 * of the apply phase that took over 30 ms. With EXPLAIN=1 each write runs as EXPLAIN (ANALYZE,
 * BUFFERS, VERBOSE), which executes it and shows its plan and trigger times; KEEP=1 keeps the
 * database. For finding where an apply's time goes; the figures are not a benchmark.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { parseConnectorConfig } from '../config/load.js';
import { fileConnector } from '../connectors/file/index.js';
import type { Connector } from '../connectors/types.js';
import { createLogger } from '../src/logger.js';
import { runSync } from '../src/pipeline/run.js';
import { CONNECTIONS_PER_RUN, createPool, databaseUrl } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';

const file = process.argv[2] ?? join(import.meta.dirname, '.data', 'org.ndjson');
const explain = process.env.EXPLAIN === '1';
let tracing = false;
const orig = pg.Client.prototype.query as (...a: unknown[]) => unknown;
(pg.Client.prototype as unknown as { query: unknown }).query = function (this: pg.Client, ...a: unknown[]) {
  const q = a[0];
  if (typeof q === 'string' && /apply-trace-start/.test(q)) tracing = true;
  if (!tracing || typeof q !== 'string' || a.some((x) => typeof x === 'function')) return orig.apply(this, a);
  const text = q.replace(/\s+/g, ' ').trim();
  const isWrite =
    /^(INSERT|UPDATE|DELETE)\b/i.test(text) && !/RETURNING/i.test(text) && /dirsync\./.test(text);
  const args = explain && isWrite ? [`EXPLAIN (ANALYZE, BUFFERS, VERBOSE) ${q}`, ...a.slice(1)] : a;
  const t0 = performance.now();
  const p = orig.apply(this, args) as Promise<pg.QueryResult>;
  return p.then((r) => {
    const ms = performance.now() - t0;
    if (ms > 30) {
      console.log(`\n[${ms.toFixed(0)} ms] ${text.slice(0, 160)}`);
      if (explain && isWrite) console.log(r.rows.map((x) => x['QUERY PLAN']).join('\n'));
    }
    return r;
  });
};

const admin = new pg.Client({ connectionString: databaseUrl().replace(/\/[^/]*$/, '/postgres') });
await admin.connect();
const dbName = `dirsync_trace_${randomBytes(4).toString('hex')}`;
await admin.query(`CREATE DATABASE ${dbName}`);
const url = databaseUrl().replace(/\/[^/]*$/, `/${dbName}`);
const pool = createPool(url, CONNECTIONS_PER_RUN + 2);
await migrate(pool);
console.log(`database ${dbName}`);
const connector = fileConnector as unknown as Connector;
const config = parseConnectorConfig(
  {
    name: 'bench',
    kind: connector.kind,
    path: file,
    guard: { minRemovals: 1_000_000, users: { maxCount: 1_000_000 }, memberships: { maxCount: 1_000_000 } },
  },
  connector,
);
// Starts tracing when the apply phase starts (setPhase writes the phase name).
const origPoolQuery = pool.query.bind(pool) as (...a: unknown[]) => unknown;
(pool as unknown as { query: unknown }).query = (...a: unknown[]) => {
  if (Array.isArray(a[1]) && a[1][1] === 'apply') tracing = true;
  return origPoolQuery(...a);
};
const t0 = performance.now();
const s = await runSync({ pool, config, connector, trigger: 'cli', logger: createLogger('warn') });
console.log(`\nwall ${(performance.now() - t0).toFixed(0)} ms`, JSON.stringify(s.phaseMs));
await pool.end();
if (process.env.KEEP !== '1') await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
await admin.end();
