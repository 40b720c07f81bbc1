/**
 * `npm run bench`: the pipeline at company scale through the file connector.
 *
 * Generates an org (default 100,000 users, 10,000 groups, ~1,000,000 direct memberships, 2,000
 * group-in-group edges up to 5 deep) as NDJSON, then in a fresh database: initial sync, unchanged
 * re-sync, and a re-sync with about 1% changed. Prints wall time per phase, rows written and peak RSS.
 *
 * Flags: --users N --groups N --members-per-group N --nested N --keep (keep the database)
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { parseConnectorConfig } from '../config/load.js';
import { fileConnector } from '../connectors/file/index.js';
import type { Connector } from '../connectors/types.js';
import { countMemberships, generateOrg, type Org } from '../connectors/emulator-kit/org.js';
import { createLogger } from '../src/logger.js';
import { runSync, type RunSummary } from '../src/pipeline/run.js';
import { createPool, databaseUrl } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { formatDuration } from '../src/util/duration.js';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    groups: { type: 'string', default: '10000' },
    'members-per-group': { type: 'string', default: '100' },
    nested: { type: 'string', default: '2000' },
    keep: { type: 'boolean', default: false },
  },
});

const DATA = join(import.meta.dirname, '.data');

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

function rss(): string {
  return `${Math.round(process.resourceUsage().maxRSS / 1024)} MB`;
}

function report(label: string, s: RunSummary, wallMs: number): void {
  const c = s.counts;
  const rows =
    Object.values(c.users).reduce((a, b) => a + b, 0) +
    Object.values(c.groups).reduce((a, b) => a + b, 0) +
    c.memberships.add +
    c.memberships.remove;
  const phases = Object.entries(s.phaseMs)
    .map(([p, ms]) => `${p} ${formatDuration(ms)}`)
    .join(', ');
  console.log(`\n${label}: ${formatDuration(wallMs)} wall, status ${s.status}`);
  console.log(`  phases: ${phases}`);
  console.log(
    `  changes written: ${rows} (users ${JSON.stringify(c.users)}, groups ${JSON.stringify(c.groups)}, memberships ${JSON.stringify(c.memberships)})`,
  );
  console.log(`  peak RSS so far: ${rss()}`);
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

  const dbName = `dirsync_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: databaseUrl().replace(/\/[^/]*$/, '/postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = databaseUrl().replace(/\/[^/]*$/, `/${dbName}`);
  const pool = createPool(url, 10);
  await migrate(pool);
  const config = parseConnectorConfig(
    {
      name: 'bench',
      kind: 'file',
      path,
      guard: { minRemovals: 1_000_000, users: { maxCount: 1_000_000 }, memberships: { maxCount: 1_000_000 } },
    },
    fileConnector as unknown as Connector,
  );
  const logger = createLogger('warn');
  const sync = async (label: string) => {
    const start = performance.now();
    const s = await runSync({
      pool,
      config,
      connector: fileConnector as unknown as Connector,
      trigger: 'cli',
      logger,
    });
    report(label, s, performance.now() - start);
    return s;
  };
  console.log(`database ${dbName}; memory before syncing: ${rss()}`);
  try {
    await sync('initial sync');
    const unchanged = await sync('unchanged re-sync');
    const written = Object.values(unchanged.counts)
      .flatMap((o: Record<string, number>) => Object.values(o))
      .reduce((a, b) => a + b, 0);
    if (written !== 0) throw new Error(`unchanged re-sync wrote ${written} changes`);
    changeOnePercent(org);
    await writeSnapshot(org, path);
    await sync('1%-changed re-sync');
    const { rows } = await pool.query<{ size: string }>(
      `SELECT pg_size_pretty(pg_database_size(current_database())) AS size`,
    );
    console.log(`\ndatabase size after three runs: ${rows[0]?.size}; peak RSS: ${rss()}`);
  } finally {
    await pool.end();
    if (!args.keep) await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
