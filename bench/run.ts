/**
 * `npm run bench`: the pipeline at company scale through the file connector.
 *
 * Generates an org (default 100,000 users, 10,000 groups, ~1,000,000 direct memberships, 2,000
 * group-in-group edges up to 5 deep) as NDJSON, then in a fresh database: initial sync, unchanged
 * re-sync (the fast path, then --full-resync), and a re-sync with about 1% changed, each sync in a
 * fresh process. Then the same org in another fresh database through a feed-capable connector
 * (bench/feed-connector.ts: the file read plus a change journal): initial full read (which also
 * writes the mirror), unchanged incremental, 1% incremental, reconcile (a full read when due).
 * Prints wall time per phase, rows written and each sync's peak RSS.
 *
 * Flags: --users N --groups N --members-per-group N --nested N --keep (keep the databases)
 *        --only snapshot|incremental (one of the two series)
 */
import { copyFileSync, createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
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
import { mapUser } from '../connectors/file/map.js';
import type { ChangeItem, Connector } from '../connectors/types.js';
import { fileFeedConnector } from './feed-connector.js';
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
    changes: { type: 'string' },
    only: { type: 'string' },
  },
});

const DATA = join(import.meta.dirname, '.data');
const execFileAsync = promisify(execFile);

function userRecord(u: Org['users'][number]) {
  return {
    type: 'user',
    id: u.id,
    username: u.login,
    email: u.email,
    displayName: u.displayName,
    givenName: u.givenName,
    familyName: u.familyName,
    active: u.status === 'active',
    attributes: { department: u.department, title: u.title },
  };
}

/** The feed item for a user as the connector maps it (an upsert of the whole record). */
const userItem = (u: Org['users'][number]) => [...mapUser(userRecord(u))][0] as ChangeItem;

async function writeSnapshot(org: Org, path: string): Promise<void> {
  const out = createWriteStream(path);
  const write = async (line: unknown) => {
    if (!out.write(`${JSON.stringify(line)}\n`)) await once(out, 'drain');
  };
  for (const u of org.users) await write(userRecord(u));
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

/**
 * About 1%: 1,000 users updated, 100 joined, 100 left, 1% of the memberships moved. Returns the
 * same change as the feed of an IdP would report it.
 */
function changeOnePercent(org: Org): ChangeItem[] {
  const feed: ChangeItem[] = [];
  const n = org.users.length;
  for (let i = 0; i < n; i += 100) {
    const u = org.users[i];
    if (u) {
      u.title = `${u.title} II`;
      feed.push(userItem(u));
    }
  }
  const leavers = new Set(org.users.slice(n - n / 1000).map((u) => u.id));
  org.users = org.users.filter((u) => !leavers.has(u.id));
  for (const set of org.members.values()) for (const id of leavers) set.delete(id);
  for (const id of leavers) feed.push({ kind: 'removed', objectType: 'user', externalId: id });
  for (let i = 0; i < n / 1000; i++) {
    const u = {
      ...(org.users[i] as Org['users'][number]),
      id: `new${i}`,
      login: `newcomer${i}`,
      email: null,
    };
    org.users.push(u);
    feed.push(userItem(u));
  }
  let moved = 0;
  const target = countMemberships(org) / 100;
  for (const [groupId, set] of org.members) {
    if (moved >= target) break;
    const first = set.values().next().value;
    if (first === undefined) continue;
    set.delete(first);
    feed.push({ kind: 'edge-removed', groupId, memberType: 'user', memberId: first });
    const joiner = `new${moved % (n / 1000)}`;
    set.add(joiner);
    feed.push({ kind: 'edge', groupId, memberType: 'user', memberId: joiner });
    moved += 2;
  }
  return feed;
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
  console.log(
    `\n${label}: ${formatDuration(r.wallMs)} wall, status ${s.status}, read ${s.mode} (${s.modeReason}), peak RSS ${r.peakRssMb} MB`,
  );
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
    const connector = (args.changes ? fileFeedConnector : fileConnector) as unknown as Connector;
    const config = parseConnectorConfig(
      {
        name: 'bench',
        kind: connector.kind,
        path: args.file,
        ...(args.changes ? { changes: args.changes } : {}),
        guard: {
          minRemovals: 1_000_000,
          users: { maxCount: 1_000_000 },
          memberships: { maxCount: 1_000_000 },
          // The 1% change takes most members of a few groups (those of the 100 leavers): the
          // benchmark measures applying it, not holding it for approval.
          groupMembers: { minMembers: 1, maxPercent: 100 },
        },
      },
      connector,
    );
    const start = performance.now();
    const summary = await runSync({
      pool,
      config,
      connector,
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

async function syncInChild(url: string, file: string, full: boolean, changes?: string): Promise<ChildResult> {
  const argv = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', '--url', url, '--file', file];
  if (full) argv.push('--full');
  if (changes) argv.push('--changes', changes);
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
  const feed = changeOnePercent(org);
  const changed = join(DATA, 'org-1pct.ndjson');
  await writeSnapshot(org, changed);
  const journal = join(DATA, 'changes.ndjson');
  writeFileSync(journal, '');

  const admin = new pg.Client({ connectionString: databaseUrl().replace(/\/[^/]*$/, '/postgres') });
  await admin.connect();
  const dbNames: string[] = [];
  const freshDatabase = async () => {
    const dbName = `dirsync_bench_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${dbName}`);
    dbNames.push(dbName);
    const url = databaseUrl().replace(/\/[^/]*$/, `/${dbName}`);
    const pool = createPool(url, 2);
    await migrate(pool);
    console.log(`\ndatabase ${dbName}; each sync runs in a fresh process`);
    return { url, pool };
  };
  const written = (r: ChildResult) =>
    Object.values(r.summary.counts)
      .flatMap((o: Record<string, number>) => Object.values(o))
      .reduce((a, b) => a + b, 0);
  const size = async (pool: pg.Pool, label: string) => {
    const { rows } = await pool.query<{ size: string }>(
      `SELECT pg_size_pretty(pg_database_size(current_database())) AS size`,
    );
    console.log(`\ndatabase size after ${label}: ${rows[0]?.size}`);
  };
  try {
    if (args.only !== 'incremental') {
      console.log('\n== snapshot series (file connector: full reads only) ==');
      const { url, pool } = await freshDatabase();
      try {
        report('initial sync', await syncInChild(url, path, false));
        const fast = await syncInChild(url, path, false);
        report('unchanged re-sync (fast path)', fast);
        if (fast.summary.unchangedSince === undefined)
          throw new Error('the unchanged re-sync did not take the fast path');
        const full = await syncInChild(url, path, true);
        report('unchanged re-sync, --full-resync (check and diff everything)', full);
        if (written(full) !== 0) throw new Error(`the unchanged re-sync wrote ${written(full)} changes`);
        report('1%-changed re-sync', await syncInChild(url, changed, false));
        await size(pool, 'four runs');
      } finally {
        await pool.end();
      }
    }
    if (args.only !== 'snapshot') {
      console.log('\n== incremental series (file read + change journal: bench/feed-connector.ts) ==');
      const { url, pool } = await freshDatabase();
      // One snapshot path (the read config must not change between runs): the IdP's state now.
      const idp = join(DATA, 'idp-now.ndjson');
      copyFileSync(path, idp);
      try {
        report('initial full read (also writes the mirror)', await syncInChild(url, idp, false, journal));
        const unchanged = await syncInChild(url, idp, false, journal);
        report('unchanged incremental (empty feed)', unchanged);
        if (unchanged.summary.mode !== 'incremental' || written(unchanged) !== 0)
          throw new Error('the unchanged incremental run was not an incremental run with no change');
        writeFileSync(journal, feed.map((x) => JSON.stringify(x)).join('\n') + '\n');
        copyFileSync(changed, idp);
        console.log(`\n(change journal: ${feed.length} items)`);
        const one = await syncInChild(url, idp, false, journal);
        report('1% incremental', one);
        // The reconcile schedule makes the next run read in full: as if the last full read was long ago.
        await pool.query(`UPDATE dirsync.directories SET last_full_at = now() - interval '2 days'`);
        const reconcile = await syncInChild(url, idp, false, journal);
        report('reconcile (full read, due)', reconcile);
        if (reconcile.summary.mode !== 'full' || written(reconcile) !== 0)
          throw new Error(
            `the reconcile did not confirm the incremental result (${written(reconcile)} changes)`,
          );
        await size(pool, 'four runs');
      } finally {
        await pool.end();
      }
    }
  } finally {
    if (!args.keep) for (const d of dbNames) await admin.query(`DROP DATABASE ${d} WITH (FORCE)`);
    await admin.end();
  }
}

if (args.child) await child();
else await main();
