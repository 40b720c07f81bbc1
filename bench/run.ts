/**
 * `npm run bench`: the pipeline at company scale through the file connector.
 *
 * Generates an org (default 100,000 users, 10,000 groups, ~1,000,000 direct memberships, 2,000
 * group-in-group edges up to 5 deep) as NDJSON, then in a fresh database: initial sync, unchanged
 * re-sync (the fast path, then --full-resync), and a re-sync with about 1% changed, each sync in a
 * fresh process. Prints wall time per phase, rows written and each sync's peak RSS.
 *
 * Flags: --users N --groups N --members-per-group N --nested N --keep (keep the database)
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { parseConnectorConfig } from '../config/load.js';
import { fileConnector } from '../connectors/file/index.js';
import type { Connector } from '../connectors/types.js';
import { countMemberships, generateOrg, type Org } from '../connectors/emulator-kit/org.js';
import { createLogger } from '../src/logger.js';
import { runSync, type RunSummary } from '../src/pipeline/run.js';
import { CONNECTIONS_PER_RUN, createPool, databaseUrl } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { formatDuration } from '../src/util/duration.js';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    groups: { type: 'string', default: '10000' },
    'members-per-group': { type: 'string', default: '100' },
    nested: { type: 'string', default: '2000' },
    keep: { type: 'boolean', default: false },
    // Internal: one sync in a child process.
    child: { type: 'boolean', default: false },
    url: { type: 'string' },
    file: { type: 'string' },
    full: { type: 'boolean', default: false },
  },
});

const DATA = join(import.meta.dirname, '.data');
const execFileAsync = promisify(execFile);

async function writeSnapshot(org: Org, path: string): Promise<void> {
  const out = createWriteStream(path);
  const write = async (line: unknown) => {
    if (!out.write(`${JSON.stringify(line)}\n`)) await once(out, 'drain');
  };
  for (const u of org.users) {
    await write({
      type: 'user',
      id: u.id,
      username: u.login,
      email: u.email,
      displayName: u.displayName,
      givenName: u.givenName,
      familyName: u.familyName,
      active: u.status === 'active',
      attributes: { department: u.department, title: u.title },
    });
  }
  const children = new Map<string, string[]>();
  for (const g of org.groups)
    if (g.parentId) children.set(g.parentId, [...(children.get(g.parentId) ?? []), g.id]);
  for (const g of org.groups) {
    await write({
      type: 'group',
      id: g.id,
      name: g.name,
      description: g.description,
      members: [...(org.members.get(g.id) ?? [])],
      groups: children.get(g.id) ?? [],
    });
  }
  out.end();
  await once(out, 'finish');
}

/** About 1%: 1,000 users updated, 100 joined, 100 left, 1% of the memberships moved. */
function changeOnePercent(org: Org): void {
  const n = org.users.length;
  for (let i = 0; i < n; i += 100) {
    const u = org.users[i];
    if (u) u.title = `${u.title} II`;
  }
  const leavers = new Set(org.users.slice(n - n / 1000).map((u) => u.id));
  org.users = org.users.filter((u) => !leavers.has(u.id));
  for (const set of org.members.values()) for (const id of leavers) set.delete(id);
  for (let i = 0; i < n / 1000; i++) {
    org.users.push({
      ...(org.users[i] as Org['users'][number]),
      id: `new${i}`,
      login: `newcomer${i}`,
      email: null,
    });
  }
  let moved = 0;
  const target = countMemberships(org) / 100;
  for (const set of org.members.values()) {
    if (moved >= target) break;
    const first = set.values().next().value;
    if (first === undefined) continue;
    set.delete(first);
    set.add(`new${moved % (n / 1000)}`);
    moved += 2;
  }
}

function rssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** What a sync child process reports back on its last stdout line. */
interface ChildResult {
  summary: RunSummary;
  wallMs: number;
  peakRssMb: number;
}

function report(label: string, r: ChildResult): void {
  const s = r.summary;
  const c = s.counts;
  const rows =
    Object.values(c.users).reduce((a, b) => a + b, 0) +
    Object.values(c.groups).reduce((a, b) => a + b, 0) +
    c.memberships.add +
    c.memberships.remove;
  const phases = Object.entries(s.phaseMs)
    .map(([p, ms]) => `${p} ${formatDuration(ms)}`)
    .join(', ');
  console.log(`\n${label}: ${formatDuration(r.wallMs)} wall, status ${s.status}, peak RSS ${r.peakRssMb} MB`);
  console.log(`  phases: ${phases}${s.unchangedSince ? ' (fast path: unchanged since the last apply)' : ''}`);
  console.log(
    `  changes written: ${rows} (users ${JSON.stringify(c.users)}, groups ${JSON.stringify(c.groups)}, memberships ${JSON.stringify(c.memberships)})`,
  );
}

/**
 * One sync in this process (`--child`): the parent starts a fresh process per sync, so each
 * figure's peak RSS is the sync's own, not the generator's.
 */
async function child(): Promise<void> {
  const pool = createPool(args.url as string, CONNECTIONS_PER_RUN + 2);
  try {
    const config = parseConnectorConfig(
      {
        name: 'bench',
        kind: 'file',
        path: args.file,
        guard: {
          minRemovals: 1_000_000,
          users: { maxCount: 1_000_000 },
          memberships: { maxCount: 1_000_000 },
        },
      },
      fileConnector as unknown as Connector,
    );
    const start = performance.now();
    const summary = await runSync({
      pool,
      config,
      connector: fileConnector as unknown as Connector,
      trigger: 'cli',
      logger: createLogger('warn'),
      fullResync: args.full,
    });
    const result: ChildResult = { summary, wallMs: performance.now() - start, peakRssMb: rssMb() };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await pool.end();
  }
}

async function syncInChild(url: string, file: string, full: boolean): Promise<ChildResult> {
  const argv = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', '--url', url, '--file', file];
  if (full) argv.push('--full');
  const { stdout } = await execFileAsync(process.execPath, argv, { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as ChildResult;
}

async function main(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  const t0 = performance.now();
  const org = generateOrg({
    users: Number(args.users),
    groups: Number(args.groups),
    membersPerGroup: Number(args['members-per-group']),
    nestingDepth: 5,
    nestedGroups: Number(args.nested),
    seed: 42,
  });
  const path = join(DATA, 'org.ndjson');
  await writeSnapshot(org, path);
  const nested = org.groups.filter((g) => g.parentId).length;
  console.log(
    `org: ${org.users.length} users, ${org.groups.length} groups, ${countMemberships(org)} memberships, ${nested} nested groups ` +
      `(generated and written in ${formatDuration(performance.now() - t0)})`,
  );
  changeOnePercent(org);
  const changed = join(DATA, 'org-1pct.ndjson');
  await writeSnapshot(org, changed);

  const dbName = `dirsync_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: databaseUrl().replace(/\/[^/]*$/, '/postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = databaseUrl().replace(/\/[^/]*$/, `/${dbName}`);
  const pool = createPool(url, 2);
  await migrate(pool);
  console.log(`database ${dbName}; each sync runs in a fresh process`);
  try {
    report('initial sync', await syncInChild(url, path, false));
    const fast = await syncInChild(url, path, false);
    report('unchanged re-sync (fast path)', fast);
    if (fast.summary.unchangedSince === undefined)
      throw new Error('the unchanged re-sync did not take the fast path');
    const full = await syncInChild(url, path, true);
    report('unchanged re-sync, --full-resync (check and diff everything)', full);
    const written = Object.values(full.summary.counts)
      .flatMap((o: Record<string, number>) => Object.values(o))
      .reduce((a, b) => a + b, 0);
    if (written !== 0) throw new Error(`the unchanged re-sync wrote ${written} changes`);
    report('1%-changed re-sync', await syncInChild(url, changed, false));
    const { rows } = await pool.query<{ size: string }>(
      `SELECT pg_size_pretty(pg_database_size(current_database())) AS size`,
    );
    console.log(`\ndatabase size after four runs: ${rows[0]?.size}`);
  } finally {
    await pool.end();
    if (!args.keep) await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

if (args.child) await child();
else await main();
