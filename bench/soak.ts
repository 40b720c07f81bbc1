/**
 * The randomized fault soak (issue 9): `npm run soak -- [--runs 200] [--seed 1] [--skip a,b]`.
 *
 * Everything it needs it starts itself: a private Postgres and Redis (test/helpers/instances.ts),
 * the Okta emulator (the real Okta SDK reads it over HTTP), and a worker process that holds the
 * schedules. Each run draws a scenario from the seed, mutates the org, sets the emulator's faults,
 * and runs `dirsync sync` as a child process, which the soak may SIGKILL mid-fetch or mid-apply,
 * or whose Postgres it may restart mid-run. Held runs are approved or rejected as the draw says.
 *
 * After every run it checks the invariants and counts violations:
 * - the directory equals the truth of the last applied snapshot (never a partial one);
 * - no succeeded run removed more than the guard limits (removals and deactivations);
 * - no run is left `running` once any process has looked (the reaper runs in every process);
 * - no staging table is left except those of runs held for approval;
 * - the worker is alive, and after a Redis restart its schedule is back.
 * It prints a table scenario × outcome and exits 1 on any violation. Same seed, same draws.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import * as mutate from '../connectors/emulator-kit/mutate.js';
import { prng, type Org, type OrgUser } from '../connectors/emulator-kit/org.js';
import { planMutations, type Mutation } from '../connectors/emulator-kit/plan.js';
import {
  oktaEmail,
  oktaGroupType,
  oktaLogin,
  startEmulator,
  type OktaEmulator,
} from '../connectors/okta/emulator/index.js';
import type { OktaStore } from '../connectors/okta/emulator/store.js';
import { openSyncQueue, closeSyncQueue } from '../jobs/queue.js';
import { approveRun, rejectRun } from '../src/pipeline/approve.js';
import { reapAbandonedRuns } from '../src/pipeline/reap.js';
import { createPool } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { startPrivatePostgres, startPrivateRedis } from '../test/helpers/instances.js';

const SCENARIOS = [
  'churn',
  '429-storm',
  '5xx-burst',
  'resets',
  'truncated',
  'slow',
  'kill-fetch',
  'kill-apply',
  'pg-restart',
  'redis-restart',
  'mass-disable',
  'mass-remove',
  'idless',
] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
    skip: { type: 'string', default: '' },
    users: { type: 'string', default: '200' },
    verbose: { type: 'boolean', default: false },
  },
});
const RUNS = Number(args.runs);
const SEED = Number(args.seed);
const skip = new Set(args.skip.split(',').filter(Boolean));
const scenarios = SCENARIOS.filter((s) => !skip.has(s));
const CONNECTOR = 'okta';
const GUARD = {
  users: { maxCount: 500, maxPercent: 10 },
  groups: { maxCount: 100, maxPercent: 10 },
  memberships: { maxCount: 5000, maxPercent: 10 },
  minRemovals: 10,
};

const say = (s: string) => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- truth and directory, as sets of keys ---------------------------------------------------

interface Sets {
  users: Set<string>;
  groups: Set<string>;
  memberships: Set<string>;
}

/** The org as the directory must hold it after a full sync (Okta renders no nesting). */
function truthOf(org: Org): Sets {
  const groups = org.groups.filter((g) => oktaGroupType(g) !== 'BUILT_IN');
  const memberships = new Set<string>();
  for (const g of groups) for (const u of org.members.get(g.id) ?? []) memberships.add(`${g.id}>${u}`);
  return {
    users: new Set(
      org.users.map((u) => `${u.id}|${oktaLogin(org, u)}|${oktaEmail(org, u)}|${u.status === 'active'}`),
    ),
    groups: new Set(groups.map((g) => `${g.id}|${g.name}`)),
    memberships,
  };
}

async function directoryOf(pool: pg.Pool): Promise<Sets> {
  const q = async (sql: string) => (await pool.query<{ k: string }>(sql, [CONNECTOR])).rows.map((r) => r.k);
  return {
    users: new Set(
      await q(
        `SELECT external_id || '|' || username || '|' || coalesce(email, 'null') || '|' || active AS k
           FROM dirsync.users WHERE connector = $1`,
      ),
    ),
    groups: new Set(
      await q(
        `SELECT external_id || '|' || name AS k FROM dirsync.groups WHERE connector = $1 AND NOT local`,
      ),
    ),
    memberships: new Set(
      await q(
        `SELECT group_external_id || '>' || user_external_id AS k FROM dirsync.user_memberships WHERE connector = $1`,
      ),
    ),
  };
}

function setDiff(a: Sets, b: Sets): string | null {
  const out: string[] = [];
  for (const k of ['users', 'groups', 'memberships'] as const) {
    const extra = [...a[k]].filter((x) => !b[k].has(x));
    const missing = [...b[k]].filter((x) => !a[k].has(x));
    if (extra.length || missing.length)
      out.push(
        `${k}: ${extra.length} unexpected (${extra.slice(0, 2).join(', ')}), ${missing.length} missing (${missing.slice(0, 2).join(', ')})`,
      );
  }
  return out.length ? out.join('; ') : null;
}

/**
 * The truth a run may apply: the org's, except objects the run reported as problems (held: kept as
 * they were; skipped: not created). Every deviation from the org must be reported, so this is the
 * promise "a bad record is held, never deleted" in set form.
 */
async function applicableTruth(
  pool: pg.Pool,
  runId: number,
  org: Sets,
  before: Sets,
  /** The object this run's scenario made unreadable (its id left out of the IdP's answers). */
  corrupted: string | null = null,
): Promise<Sets> {
  const { rows } = await pool.query<{ id: string | null }>(
    `SELECT DISTINCT external_id AS id FROM dirsync.run_problems
      WHERE run_id = $1 AND object_type IN ('user', 'group')`,
    [runId],
  );
  // A record reported without an id is held as it was: the soak knows which object that is.
  const ids = new Set(rows.flatMap((r) => (r.id !== null ? [r.id] : corrupted !== null ? [corrupted] : [])));
  if (ids.size === 0) return cloneSets(org);
  const mine = (k: 'users' | 'groups' | 'memberships', key: string) =>
    k === 'memberships' ? key.split('>').some((x) => ids.has(x)) : ids.has(key.slice(0, key.indexOf('|')));
  const out = cloneSets(org);
  for (const k of ['users', 'groups', 'memberships'] as const) {
    for (const key of org[k]) if (mine(k, key)) out[k].delete(key);
    for (const key of before[k]) if (mine(k, key)) out[k].add(key);
  }
  return out;
}

function cloneSets(s: Sets): Sets {
  return { users: new Set(s.users), groups: new Set(s.groups), memberships: new Set(s.memberships) };
}

// ---- mutations ---------------------------------------------------------------------------------

/**
 * Every change goes through the emulator's store, as an Okta admin's would: the org changes, the
 * timestamps move and the System Log records it, so the change feed sees exactly what happened.
 */
function applyMutation(store: OktaStore, m: Mutation): void {
  try {
    store.apply(m);
  } catch (e) {
    if (!(e instanceof mutate.OrgMutationError)) throw e;
  }
}

/** Undo for the mass scenarios, when the admin rejects the held run (as a real admin would fix the IdP). */
type Undo = () => void;

function massDisable(store: OktaStore, org: Org, rnd: () => number): Undo {
  const hit = org.users.filter((u) => u.status === 'active' && rnd() < 0.7);
  for (const u of hit) applyMutation(store, { op: 'updateUser', id: u.id, patch: { status: 'suspended' } });
  return () => {
    for (const u of hit)
      if (org.users.some((x) => x.id === u.id))
        applyMutation(store, { op: 'updateUser', id: u.id, patch: { status: 'active' } });
  };
}

function massRemove(store: OktaStore, org: Org, rnd: () => number): Undo {
  const hit: { user: OrgUser; groups: string[] }[] = [];
  for (const u of [...org.users]) {
    if (rnd() >= 0.5) continue;
    const groups = [...org.members].filter(([, m]) => m.has(u.id)).map(([g]) => g);
    hit.push({ user: { ...u }, groups });
    applyMutation(store, { op: 'removeUser', id: u.id });
  }
  return () => {
    for (const { user, groups } of hit) {
      applyMutation(store, { op: 'addUser', user });
      for (const g of groups)
        if (org.groups.some((x) => x.id === g))
          applyMutation(store, { op: 'addMember', groupId: g, userId: user.id });
    }
  };
}

// ---- processes -----------------------------------------------------------------------------------

function spawnTsx(script: string, argv: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', script, ...argv], {
    env,
    stdio: args.verbose ? ['ignore', 'inherit', 'inherit'] : 'ignore',
  });
}

/** The sync process (bench/soak-runner.ts): one sync per line written to it. */
class SyncProcess {
  child: ChildProcess;
  private lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  constructor(env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'bench/soak-runner.ts'], {
      env,
      stdio: ['pipe', 'pipe', args.verbose ? 'inherit' : 'ignore'],
    });
    let buf = '';
    this.child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let k = buf.indexOf('\n'); k >= 0; k = buf.indexOf('\n')) {
        const l = buf.slice(0, k);
        buf = buf.slice(k + 1);
        const w = this.waiters.shift();
        if (w) w(l);
        else this.lines.push(l);
      }
    });
    this.child.once('exit', () => {
      for (const w of this.waiters.splice(0)) w('{"exited":true}');
    });
  }
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  next(): Promise<Record<string, unknown>> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(JSON.parse(l) as Record<string, unknown>);
    if (!this.alive) return Promise.resolve({ exited: true });
    return new Promise((r) => this.waiters.push((x) => r(JSON.parse(x) as Record<string, unknown>)));
  }
  sync(name: string): Promise<Record<string, unknown>> {
    this.child.stdin?.write(`${name}\n`);
    return this.next();
  }
}

const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => c.once('exit', () => r()));

// ---- the soak ---------------------------------------------------------------------------------

interface RunRecord {
  scenario: Scenario;
  outcome: string;
  violations: string[];
}

async function main(): Promise<number> {
  const started = Date.now();
  say(`soak: ${RUNS} runs, seed ${SEED}, scenarios ${scenarios.join(', ')}`);
  const [pgi, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
  const emu: OktaEmulator = await startEmulator({
    users: Number(args.users),
    groups: 20,
    membersPerGroup: 12,
    nestingDepth: 2,
    seed: SEED,
  });
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-soak-'));
  const configPath = join(dir, 'dirsync.yaml');
  const prefix = `soak${SEED}`;
  writeFileSync(
    configPath,
    JSON.stringify({
      queue: { prefix, concurrency: 1 },
      connectors: [
        {
          ...emu.connector,
          name: CONNECTOR,
          // A schedule that never fires during the soak: the worker only holds it (Redis checks).
          schedule: { cron: '0 0 1 1 *' },
          deletion: { deleteAfter: '0s' },
          retry: { maxRetries: 4, baseDelayMs: 5, maxDelayMs: 200 },
          requestTimeoutMs: 2000,
          maxRunDuration: '60s',
        },
      ],
    }),
  );
  const dbUrl = await pgi.createDatabase('dirsync');
  const pool = createPool(dbUrl, 4);
  await migrate(pool);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...emu.env,
    DIRSYNC_CONFIG: configPath,
    DATABASE_URL: dbUrl,
    REDIS_URL: redis.url,
    DIRSYNC_LOG_LEVEL: args.verbose ? 'info' : 'silent',
  };
  let worker = spawnTsx('jobs/worker.main.ts', [], env);
  let syncer = new SyncProcess(env);
  await syncer.next();
  const queue = openSyncQueue({ prefix, connection: redis.url });
  const records: RunRecord[] = [];
  let expected: Sets = truthOf(emu.org);
  // The directory starts empty: the first applied run makes it the truth.
  expected = { users: new Set(), groups: new Set(), memberships: new Set() };

  const scheduled = async () =>
    (await queue.getJobSchedulers(0, -1).catch(() => [])).some((s) => (s.id ?? s.key) === CONNECTOR);

  try {
    for (let i = 0; i < RUNS; i++) {
      const rnd = prng(SEED * 100_003 + i);
      const scenario = scenarios[Math.floor(rnd() * scenarios.length)] as Scenario;
      const violations: string[] = [];
      emu.setFaults(undefined);
      emu.setLatency(0);
      emu.throttle(0);

      // The IdP changes: a little churn every run, plus the scenario's own.
      if (rnd() < 0.8) {
        for (const m of planMutations(emu.org, {
          seed: SEED * 7919 + i,
          users: 0.02,
          memberships: 0.02,
          groups: rnd() < 0.3 ? 1 : 0,
        }))
          applyMutation(emu.store, m);
      }
      let undo: Undo | null = null;
      let corrupted: string | null = null;
      if (scenario === 'mass-disable') undo = massDisable(emu.store, emu.org, rnd);
      if (scenario === 'mass-remove') undo = massRemove(emu.store, emu.org, rnd);
      if (scenario === 'idless') {
        // An existing user or group served without its id: it must be kept, never removed.
        const pool_ =
          rnd() < 0.5 ? emu.org.users : emu.org.groups.filter((g) => oktaGroupType(g) !== 'BUILT_IN');
        corrupted = pool_[Math.floor(rnd() * pool_.length)]?.id ?? null;
        if (corrupted) emu.corrupt(corrupted, { id: undefined });
      }
      if (scenario === '429-storm') emu.throttle(5 + Math.floor(rnd() * 40));
      if (scenario === '5xx-burst') emu.setFaults({ errorRate: 0.05 + rnd() * 0.25 });
      if (scenario === 'resets') emu.setFaults({ resetRate: 0.05 + rnd() * 0.2 });
      if (scenario === 'truncated') emu.setFaults({ truncateRate: 0.05 + rnd() * 0.2 });
      if (scenario === 'slow') emu.setLatency(20 + Math.floor(rnd() * 80));
      if (scenario === 'redis-restart') await redis.restart();
      const truthNow = truthOf(emu.org);

      // The run, in its own process.
      const { rows: before } = await pool.query<{ id: string }>(
        'SELECT coalesce(max(id), 0) AS id FROM dirsync.runs',
      );
      const lastId = Number(before[0]?.id ?? 0);
      if (!syncer.alive) {
        syncer = new SyncProcess(env);
        await syncer.next();
      }
      const cli = syncer.child;
      const done = syncer.sync(CONNECTOR);
      let disruption = '';
      if (scenario === 'kill-fetch' || scenario === 'kill-apply' || scenario === 'pg-restart') {
        const want = scenario === 'kill-apply' ? ['check', 'diff', 'apply', 'record'] : ['fetch'];
        let finished = false;
        void done.then(() => (finished = true));
        let phase = '';
        while (!finished) {
          const { rows } = await pool
            .query<{ phase: string }>(
              'SELECT phase FROM dirsync.runs WHERE id > $1 ORDER BY id DESC LIMIT 1',
              [lastId],
            )
            .catch(() => ({ rows: [] as { phase: string }[] }));
          phase = rows[0]?.phase ?? '';
          if (want.includes(phase)) break;
          await sleep(scenario === 'kill-apply' ? 1 : 20);
        }
        if (!finished) {
          if (scenario === 'pg-restart') {
            await sleep(Math.floor(rnd() * 200));
            await pgi.restart();
            disruption = `pg restarted in ${phase}`;
          } else {
            await sleep(scenario === 'kill-fetch' ? Math.floor(rnd() * 300) : 0);
            cli.kill('SIGKILL');
            disruption = `killed in ${phase}`;
          }
        }
      }
      const timeout = setTimeout(() => cli.kill('SIGKILL'), 180_000);
      await done;
      clearTimeout(timeout);
      if (corrupted) emu.corrupt(corrupted, null);

      // Any process reaps what a dead one left (this one, as the next CLI run would). A SIGKILLed
      // process's session lingers until the server notices its socket closed; until then its lock
      // is held and the run rightly counts as alive, so give the server a moment before judging.
      for (let k = 0; k < 100; k++) {
        await reapAbandonedRuns(pool);
        const { rows: live } = await pool.query(`SELECT 1 FROM dirsync.runs WHERE status = 'running'`);
        if (live.length === 0) break;
        await sleep(100);
      }
      const { rows: runs } = await pool.query<{
        id: string;
        status: string;
        error_code: string | null;
        counts: Record<string, Record<string, number>>;
        trigger: string;
      }>('SELECT id, status, error_code, counts, trigger FROM dirsync.runs WHERE id > $1 ORDER BY id', [
        lastId,
      ]);
      const run = runs.find((r) => r.trigger === 'cli');
      let outcome = run ? run.status : 'no-run';
      if (run?.status === 'failed') outcome = `failed:${(run.error_code ?? '').replace('DIRSYNC_E_', '')}`;
      if (disruption.startsWith('killed') && run?.status !== 'succeeded' && run?.status !== 'needs_approval')
        outcome = 'killed';
      if (disruption.startsWith('pg') && run?.status !== 'succeeded' && run?.status !== 'needs_approval')
        outcome = 'failed:pg-restart';

      if (run?.status === 'succeeded') {
        const next = await applicableTruth(pool, Number(run.id), truthNow, expected, corrupted);
        // Guard: an applied run never removes more than the limits (deactivations count as removals).
        // The users base is what a run can take away: the active users, and the inactive ones it
        // removes (deleteAfter is 0s here, so a removed user is one gone from the directory).
        const c = run.counts;
        const idOf = (key: string) => key.slice(0, key.indexOf('|'));
        const remaining = new Set([...next.users].map(idOf));
        const activeBefore = [...expected.users].filter((u) => u.endsWith('|true')).length;
        const inactiveGone = [...expected.users].filter(
          (u) => u.endsWith('|false') && !remaining.has(idOf(u)),
        ).length;
        const checkLimit = (kind: 'users' | 'groups' | 'memberships', removals: number, existing: number) => {
          const l = GUARD[kind];
          const overCount = removals > l.maxCount;
          const overPct =
            removals > GUARD.minRemovals && existing > 0 && (removals / existing) * 100 > l.maxPercent;
          if (overCount || overPct)
            violations.push(
              `guard: ${removals} ${kind} removed of ${existing} without approval (run ${run.id})`,
            );
        };
        checkLimit('users', (c.users?.deactivate ?? 0) + (c.users?.delete ?? 0), activeBefore + inactiveGone);
        checkLimit('groups', c.groups?.delete ?? 0, expected.groups.size);
        checkLimit('memberships', c.memberships?.remove ?? 0, expected.memberships.size);
        expected = next;
      }
      if (run?.status === 'needs_approval') {
        // The scenario's admin: approve or reject (and then repair the IdP). A held run that says
        // records could not be read is rejected: approving would apply the removal of the very
        // object whose record was unreadable, which the guard's reason names.
        const draw = rnd() < 0.5;
        const approve = draw && corrupted === null;
        try {
          if (approve) {
            await approveRun(pool, Number(run.id), 'soak');
            expected = await applicableTruth(pool, Number(run.id), truthNow, expected, corrupted);
            outcome = 'held→approved';
          } else {
            await rejectRun(pool, Number(run.id), 'soak');
            outcome = 'held→rejected';
            undo?.();
          }
        } catch (e) {
          outcome = `held→${(e as { code?: string }).code ?? 'error'}`;
        }
      } else if (run?.status !== 'succeeded') {
        // Nothing applied: an admin repairs the IdP after a mass accident that failed to sync.
        undo?.();
      }

      // Invariants.
      const diff = setDiff(await directoryOf(pool), expected);
      if (diff) {
        const { rows: problems } = await pool.query<{ p: string }>(
          `SELECT object_type || ' ' || coalesce(external_id, '?') || ' ' || action || ': ' || reason AS p
             FROM dirsync.run_problems WHERE run_id = $1 LIMIT 2`,
          [run?.id ?? 0],
        );
        violations.push(
          `directory ≠ last applied truth: ${diff}${problems.length ? ` [problems: ${problems.map((r) => r.p).join('; ')}]` : ''}`,
        );
        // Re-base so one violation is not reported by every later run.
        expected = await directoryOf(pool);
      }
      const { rows: running } = await pool.query(`SELECT id FROM dirsync.runs WHERE status = 'running'`);
      if (running.length > 0) violations.push(`runs left running: ${running.map((r) => r.id).join(', ')}`);
      const { rows: leaked } = await pool.query<{ t: string }>(
        `SELECT t.tablename AS t FROM pg_tables t WHERE t.schemaname = 'dirsync_stage'
            AND NOT EXISTS (SELECT 1 FROM dirsync.runs r WHERE r.status = 'needs_approval'
                             AND t.tablename LIKE 'r' || r.id || '\\_%')`,
      );
      if (leaked.length > 0)
        violations.push(
          `staging tables leaked: ${leaked
            .slice(0, 3)
            .map((r) => r.t)
            .join(', ')}`,
        );
      if (worker.exitCode !== null || worker.signalCode !== null) {
        violations.push(`worker died (exit ${worker.exitCode ?? worker.signalCode})`);
        worker = spawnTsx('jobs/worker.main.ts', [], env);
      }
      if (scenario === 'redis-restart' || scenario === 'pg-restart' || i === 0) {
        let ok = false;
        for (let k = 0; k < 150 && !(ok = await scheduled()); k++) await sleep(200);
        if (!ok) violations.push('the schedule is missing from Redis (not re-asserted)');
      }
      records.push({ scenario, outcome, violations });
      say(
        `${String(i + 1).padStart(4)} ${scenario.padEnd(14)} ${outcome.padEnd(22)} ${disruption.padEnd(22)} ${
          violations.length ? `VIOLATION ${violations.join(' | ')}` : 'ok'
        }`,
      );
    }
  } finally {
    syncer.child.kill('SIGKILL');
    worker.kill('SIGTERM');
    await Promise.race([exited(worker), sleep(5000)]);
    worker.kill('SIGKILL');
    await closeSyncQueue(queue).catch(() => {});
    await pool.end().catch(() => {});
    await emu.close();
    await Promise.all([pgi.destroy(), redis.destroy()]);
  }

  // scenario × outcome
  const outcomes = [...new Set(records.map((r) => r.outcome))].sort();
  const header = ['scenario', ...outcomes, 'violations'];
  const rows = scenarios.map((s) => {
    const mine = records.filter((r) => r.scenario === s);
    return [
      s,
      ...outcomes.map((o) => String(mine.filter((r) => r.outcome === o).length)),
      String(mine.filter((r) => r.violations.length).length),
    ];
  });
  const total = [
    'total',
    ...outcomes.map((o) => String(records.filter((r) => r.outcome === o).length)),
    String(records.filter((r) => r.violations.length).length),
  ];
  const widths = header.map((h, k) =>
    Math.max(h.length, ...[...rows, total].map((r) => (r[k] as string).length)),
  );
  const line = (cells: string[]) => `| ${cells.map((c, k) => c.padEnd(widths[k] as number)).join(' | ')} |`;
  say('');
  say(line(header));
  say(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) say(line(r));
  say(line(total));
  const bad = records.filter((r) => r.violations.length > 0);
  say(
    `\nseed ${SEED}: ${records.length} runs, ${bad.length} with violations, ${Math.round((Date.now() - started) / 1000)} s`,
  );
  return bad.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`soak: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  },
);
