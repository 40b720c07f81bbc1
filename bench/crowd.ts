/**
 * `npm run bench:crowd`: the Crowd REST API over a company-size directory.
 *
 * Generates the same org as `npm run bench` (default 100,000 users, 10,000 groups, ~1,000,000
 * direct memberships, nested groups), syncs it into a fresh database (in a child process, through
 * bench/run.ts's `--child` mode), starts the server with one Crowd application and measures:
 *
 * - a full read as an Atlassian application's Crowd directory does it: every user (search,
 *   `expand=user`, pages of 1,000), every group (same) and the `group/membership` document, all in
 *   XML, each response consumed as a stream and its entries counted (nothing is kept);
 * - an event poll with nothing new (`/event/{token}`), many times.
 *
 * Prints wall times, entry counts and this process's RSS before and at peak during the read (the
 * server runs in this process; the reader keeps nothing, so the growth is the server's).
 *
 * Flags: --users N --groups N --members-per-group N --nested N --page N --polls N --keep
 * --database NAME (read a database kept by an earlier --keep run instead of generating and syncing)
 * --prune (then prune the whole change log as `changeLog.retention` would, and time it)
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { countMemberships, generateOrg, type Org } from '../connectors/emulator-kit/org.js';
import { startServer } from '../src/api/server.js';
import { createPool, databaseUrl } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { pruneChangeLog } from '../src/store/retention.js';
import { formatDuration } from '../src/util/duration.js';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    groups: { type: 'string', default: '10000' },
    'members-per-group': { type: 'string', default: '100' },
    nested: { type: 'string', default: '2000' },
    page: { type: 'string', default: '1000' },
    polls: { type: 'string', default: '200' },
    keep: { type: 'boolean', default: false },
    database: { type: 'string' },
    prune: { type: 'boolean', default: false },
  },
});

const DATA = join(import.meta.dirname, '.data');
const PASSWORD = randomBytes(18).toString('hex');

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
  for (const g of org.groups) {
    if (g.parentId) children.set(g.parentId, [...(children.get(g.parentId) ?? []), g.id]);
  }
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

let peakRss = 0;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};
/**
 * CPU time of this database's Postgres backends, from /proc (the bench runs against a local
 * server): with other work on the machine, wall times vary with the load, CPU times much less.
 * Backends are sampled while the read runs, so one that exits in between still counts.
 */
class BackendCpu {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  constructor(
    private readonly admin: pg.Client,
    private readonly db: string,
  ) {}

  private static ms(pid: number): number | null {
    try {
      const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] as string).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks
    } catch {
      return null;
    }
  }

  async sample(): Promise<void> {
    const { rows } = await this.admin.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1',
      [this.db],
    );
    for (const { pid } of rows) {
      const ms = BackendCpu.ms(pid);
      if (ms === null) continue;
      if (!this.first.has(pid)) this.first.set(pid, ms);
      this.last.set(pid, ms);
    }
  }

  /** Milliseconds used since each backend's first sample (null: /proc cannot tell). */
  used(): number | null {
    if (this.first.size === 0) return null;
    let total = 0;
    for (const [pid, ms] of this.last) total += ms - (this.first.get(pid) as number);
    return total;
  }
}

const mb = (b: number) => `${Math.round(b / 1024 / 1024)} MB`;

/** GETs a Crowd resource as XML and counts occurrences of `needle`, keeping nothing. */
async function countIn(base: string, path: string, needles: string[]): Promise<number[]> {
  const res = await fetch(`${base}/rest/usermanagement/1${path}`, {
    headers: {
      authorization: `Basic ${Buffer.from(`jira:${PASSWORD}`).toString('base64')}`,
      accept: 'application/xml',
    },
  });
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  const counts = needles.map(() => 0);
  const decoder = new TextDecoder();
  let carry = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const text = carry + decoder.decode(chunk, { stream: true });
    // Count up to the last '>': no needle contains one, so none is split across rounds.
    const cut = text.lastIndexOf('>') + 1;
    const head = text.slice(0, cut);
    needles.forEach((n, i) => (counts[i] = (counts[i] as number) + head.split(n).length - 1));
    carry = text.slice(cut);
  }
  needles.forEach((n, i) => (counts[i] = (counts[i] as number) + carry.split(n).length - 1));
  return counts;
}

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl().replace(/\/[^/]*$/, '/postgres') });
  await admin.connect();
  const reuse = args.database;
  const dbName = reuse ?? `dirsync_bench_crowd_${randomBytes(4).toString('hex')}`;
  const url = databaseUrl().replace(/\/[^/]*$/, `/${dbName}`);
  if (!reuse) await admin.query(`CREATE DATABASE ${dbName}`);
  const pool = createPool(url, 4);
  try {
    // A kept database from an earlier version of the schema is brought up to date too.
    await migrate(pool);
    if (!reuse) {
      mkdirSync(DATA, { recursive: true });
      const org = generateOrg({
        users: Number(args.users),
        groups: Number(args.groups),
        membersPerGroup: Number(args['members-per-group']),
        nestingDepth: 5,
        nestedGroups: Number(args.nested),
        seed: 42,
      });
      const file = join(DATA, 'crowd-org.ndjson');
      await writeSnapshot(org, file);
      console.log(
        `org: ${org.users.length} users, ${org.groups.length} groups, ${countMemberships(org)} memberships`,
      );
      const t0 = performance.now();
      const run = fileURLToPath(new URL('./run.ts', import.meta.url));
      await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', run, '--child', '--url', url, '--file', file],
        {
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      console.log(`synced in ${formatDuration(performance.now() - t0)} (child process)`);
    } else {
      console.log(`reading the kept database ${dbName}`);
    }
    // What autovacuum does shortly after a big apply: statistics and the visibility map.
    await pool.query('VACUUM ANALYZE');

    const server = await startServer({
      config: {
        log: { level: 'silent' },
        queue: { prefix: 'bench', concurrency: 1 },
        server: { host: '127.0.0.1', port: 0 },
        crowd: {
          applications: [{ name: 'jira', password: { env: 'BENCH_CROWD_PASSWORD' }, directories: ['bench'] }],
        },
        connectors: [],
      },
      pool,
      auth: { token: null },
      port: 0,
      env: { BENCH_CROWD_PASSWORD: PASSWORD },
    });
    try {
      (globalThis as { gc?: () => void }).gc?.();
      const rssBefore = process.memoryUsage().rss;
      peakRss = rssBefore;
      const timer = setInterval(sampleRss, 50);
      const pgCpu = new BackendCpu(admin, dbName);
      // Opens the pool's connections first, so their start-up is not counted as the read's.
      await Promise.all(Array.from({ length: 4 }, () => pool.query('SELECT 1')));
      await pgCpu.sample();
      const cpuTimer = setInterval(() => void pgCpu.sample(), 500);
      const nodeCpu = process.cpuUsage();
      const page = Number(args.page);
      const start = performance.now();
      let users = 0;
      for (let i = 0; ; i += page) {
        const [n] = await countIn(
          server.url,
          `/search?entity-type=user&expand=user&start-index=${i}&max-results=${page}`,
          ['<user '],
        );
        users += n as number;
        if ((n as number) < page) break;
      }
      const tUsers = performance.now() - start;
      let groups = 0;
      for (let i = 0; ; i += page) {
        const [n] = await countIn(
          server.url,
          `/search?entity-type=group&expand=group&start-index=${i}&max-results=${page}`,
          ['<group '],
        );
        groups += n as number;
        if ((n as number) < page) break;
      }
      const tGroups = performance.now() - start - tUsers;
      const [memberships, userEdges, groupEdges] = await countIn(server.url, '/group/membership', [
        '<membership ',
        '<user ',
        '<group ',
      ]);
      const total = performance.now() - start;
      clearInterval(timer);
      clearInterval(cpuTimer);
      await pgCpu.sample();
      sampleRss();
      const node = process.cpuUsage(nodeCpu);
      const pgMs = pgCpu.used();
      console.log(
        `full read: ${formatDuration(total)} (users ${users} in ${formatDuration(tUsers)}, groups ${groups} in ${formatDuration(tGroups)}, ` +
          `membership document ${memberships} groups / ${userEdges} user and ${groupEdges} group memberships in ${formatDuration(total - tUsers - tGroups)}); ` +
          `RSS ${mb(rssBefore)} before, ${mb(peakRss)} peak`,
      );
      console.log(
        `full read CPU: this process (server and reader) ${formatDuration((node.user + node.system) / 1000)}, ` +
          `Postgres ${pgMs === null ? 'unknown' : formatDuration(pgMs)}`,
      );

      const tokenDoc = await (
        await fetch(`${server.url}/rest/usermanagement/1/event`, {
          headers: { authorization: `Basic ${Buffer.from(`jira:${PASSWORD}`).toString('base64')}` },
        })
      ).text();
      const token = /newEventToken="([^"]+)"/.exec(tokenDoc)?.[1];
      const times: number[] = [];
      const pollPg = new BackendCpu(admin, dbName);
      await pollPg.sample();
      const pollCpu = process.cpuUsage();
      for (let i = 0; i < Number(args.polls); i++) {
        const t = performance.now();
        const res = await fetch(`${server.url}/rest/usermanagement/1/event/${token}`, {
          headers: { authorization: `Basic ${Buffer.from(`jira:${PASSWORD}`).toString('base64')}` },
        });
        await res.text();
        if (res.status !== 200) throw new Error(`event poll: HTTP ${res.status}`);
        times.push(performance.now() - t);
      }
      const pollNode = process.cpuUsage(pollCpu);
      await pollPg.sample();
      const pollPgMs = pollPg.used();
      times.sort((a, b) => a - b);
      const q = (p: number) =>
        (times[Math.min(times.length - 1, Math.floor(p * times.length))] as number).toFixed(1);
      console.log(
        `event poll, nothing new (${times.length} polls): median ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${q(1)} ms; ` +
          `CPU per poll: this process ${((pollNode.user + pollNode.system) / 1000 / times.length).toFixed(2)} ms, ` +
          `Postgres ${pollPgMs === null ? 'unknown' : `${(pollPgMs / times.length).toFixed(2)} ms`}`,
      );

      // changeLog.retention's work at this size: the initial sync's detail is the largest a run has.
      if (args.prune) {
        const t = performance.now();
        const pruned = await pruneChangeLog(pool, 3_600_000, {
          now: new Date(Date.now() + 2 * 3_600_000),
          budgetMs: 600_000,
        });
        console.log(
          `prune: ${pruned.runs} run(s), ${pruned.changes} change rows in ${formatDuration(performance.now() - t)}`,
        );
      }
    } finally {
      await server.close();
    }
  } finally {
    await pool.end();
    if (!args.keep && !reuse) await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    else console.log(`kept database ${dbName}`);
    await admin.end();
  }
}

await main();
