/**
 * `--series` of the IdP benches (bench/idp-<kind>.ts): the whole pipeline, four runs one after
 * another into ONE fresh database, against the emulator the bench started in its own process:
 *
 *   1. the first run: no mirror or cursor yet, a full read that writes both;
 *   2. an unchanged re-sync: the change feed since the saved cursor;
 *   3. a re-sync after 1% of the users changed and 1% of the memberships moved (the emulator's
 *      seeded `POST /__emulator/mutate`), once the IdP's change log shows the change;
 *   4. a reconcile: the directory's last full read moved two days back, so the default daily
 *      reconcile schedule is due and the run reads in full exactly as a worker's scheduled run
 *      would (as `npm run bench` does); after a correct run 3 it finds nothing to change.
 *
 * Each sync runs in a fresh process (bench/idp-sync-child.ts), so each peak RSS is that sync's
 * own. Per run it prints the mode and its reason, the connector's requests and the emulator's own
 * count of what it served, wall time, phases, changes written, peak RSS and the time the requests
 * would take at the IdP's production rate limits; then the targets, each ok or not.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { Agent, request } from 'undici';
import type { ChangeCounts } from '../src/pipeline/diff.js';
import { createTestDatabase } from '../test/helpers/db.js';
import type { SyncJob, SyncResult } from './idp-sync-child.js';

/** An emulator's cumulative request counters: totals, or per endpoint family (Okta's `byFamily`). */
export type Counters = Record<string, number | Record<string, number>>;

export interface SeriesOptions {
  /** The connector entry the bench syncs with (as in the config file, `kind` and `name` included). */
  entry: Record<string, unknown> & { kind: string; name: string };
  /** The emulator's base URL, for its admin API. */
  url: string;
  /** The emulator's CA certificate, when it serves HTTPS (Graph). */
  caFile?: string;
  /** The bench's org seed; the 1% plan is drawn with `seed + 1000`. */
  seed: number;
  /**
   * Where the emulator serves its cumulative request counters (a JSON object) and which of its
   * fields are counters (gauges such as RSS or org sizes beside them are left out); the series
   * prints each run's difference.
   */
  counters: { path: string; keys: readonly string[] };
  /**
   * The emulator counts its own admin calls in `requests` (Graph, Keycloak, Okta): the read after
   * a run is then taken off, so `emulatorServed.requests` is the run's traffic alone.
   */
  countsAdminReads?: boolean;
  /**
   * What a run's requests would take at the IdP's documented production limits, from the run's
   * counter difference and the connector's own request count.
   */
  atProductionLimits(served: Counters, connectorRequests: number): unknown;
  /**
   * The run's requests as the IdP counts them against its limits, where that is not the HTTP
   * calls the connector counts (Graph: each request inside a `$batch` counts on its own). The
   * targets then compare these.
   */
  idpRequests?(served: Counters): number;
  /**
   * How long to wait after the 1% change before run 3: an IdP whose change log lags (Okta's
   * System Log, Google's Reports API) shows the change only after its ingestion delay, as an
   * operator's next scheduled run would find it.
   */
  settleMs?: number;
  /** CPU seconds the emulator's process has used so far (`null` where unknown). */
  emulatorCpuSeconds?: () => number | null;
}

/** One run's figures, as printed. */
interface RunFigures {
  run: string;
  status: string;
  mode: string;
  modeReason: string;
  /** The connector's own count (SourceStats.requests), retries included. */
  requests: number;
  /** As the IdP counts them, where that differs (see `SeriesOptions.idpRequests`). */
  idpRequests?: number;
  throttled: number;
  /** What the emulator counted while the run was going, by its own counters. */
  emulatorServed: Counters;
  /** `runSync` alone, the targets' measure. */
  wallSeconds: number;
  /** Spawn to exit of the sync's process: Node and tsx start, connector and SDK load, `runSync`. */
  processSeconds: number;
  phaseMs: Record<string, number>;
  fastPath: string | null;
  snapshot: Record<string, number>;
  changesWritten: number;
  counts: ChangeCounts;
  /** Records the run held or skipped, by object, action and reason (the first few reasons). */
  problems: Record<string, number>;
  peakRssMb: number;
  emulatorCpuSeconds: number | null;
  atProductionLimits: unknown;
}

const CHILD = fileURLToPath(new URL('./idp-sync-child.ts', import.meta.url));

/**
 * Runs one sync in a fresh process; its warnings (a fallback to a full read) go to our stderr.
 * `BENCH_CHILD_NODE_FLAGS` passes Node flags to that process only (not to the emulator), e.g.
 * `--max-old-space-size=128` to see what the sync needs with V8's heap bounded.
 */
async function syncInChild(job: SyncJob): Promise<{ result: SyncResult; processMs: number }> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [...(process.env.BENCH_CHILD_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', CHILD],
    {
      env: { ...process.env, BENCH_SYNC_JOB: JSON.stringify(job) },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`the sync process exited with ${code}`);
  const result = JSON.parse(out.trim().split('\n').at(-1) as string) as SyncResult;
  return { result, processMs: performance.now() - started };
}

/** `after - before`, counter by counter (families that did not move are left out). */
function counterDelta(before: Counters, after: Counters): Counters {
  const out: Counters = {};
  for (const [k, v] of Object.entries(after)) {
    const was = before[k];
    if (typeof v === 'number') {
      out[k] = v - (typeof was === 'number' ? was : 0);
      continue;
    }
    const fam: Record<string, number> = {};
    for (const [f, n] of Object.entries(v)) {
      const d = n - (typeof was === 'object' ? (was[f] ?? 0) : 0);
      if (d !== 0) fam[f] = d;
    }
    out[k] = fam;
  }
  return out;
}

const changesWritten = (c: ChangeCounts) =>
  Object.values(c)
    .flatMap((o: Record<string, number>) => Object.values(o))
    .reduce((a, b) => a + b, 0);

/** What a run held or skipped, counted by `object action: reason` (at most five kinds). */
async function problemsOf(pool: pg.Pool, runId: number): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ kind: string; n: number }>(
    `SELECT object_type || ' ' || action || ': ' || reason AS kind, count(*)::int AS n
       FROM dirsync.run_problems WHERE run_id = $1 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5`,
    [runId],
  );
  return Object.fromEntries(rows.map((r) => [r.kind, r.n]));
}

const seconds = (ms: number) => Number((ms / 1000).toFixed(2));

/** Runs the four syncs into one fresh database (dropped afterwards) and prints their figures and the targets. */
export async function seriesBench(o: SeriesOptions): Promise<void> {
  const db = await createTestDatabase('dirsync_bench');
  // Applying a 1% plan to a 100k-user org can take the emulator minutes: no timeout on admin calls.
  const admin = new Agent({
    ...(o.caFile ? { connect: { ca: readFileSync(o.caFile, 'utf8') } } : {}),
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const counters = async (): Promise<Counters> => {
    const res = await request(`${o.url}${o.counters.path}`, { dispatcher: admin });
    const all = (await res.body.json()) as Counters;
    return Object.fromEntries(o.counters.keys.map((k) => [k, all[k] ?? 0]));
  };
  const runs: RunFigures[] = [];
  // The series measures applying the change, not holding it for approval: the 1% plan deactivates
  // a few hundred users and takes most members of some groups (as `npm run bench` does).
  const entry = {
    ...o.entry,
    guard: {
      minRemovals: 1_000_000,
      users: { maxCount: 1_000_000 },
      memberships: { maxCount: 1_000_000 },
      groupMembers: { minMembers: 1, maxPercent: 100 },
    },
  };
  console.log(
    `${o.entry.kind} series: four syncs into ${db.url.replace(/^.*\//, '')}, each in a fresh process`,
  );
  try {
    const sync = async (label: string): Promise<RunFigures> => {
      const before = await counters();
      const cpuBefore = o.emulatorCpuSeconds?.() ?? null;
      const { result, processMs } = await syncInChild({ entry, databaseUrl: db.url });
      const cpuAfter = o.emulatorCpuSeconds?.() ?? null;
      const served = counterDelta(before, await counters());
      if (o.countsAdminReads && typeof served.requests === 'number') served.requests -= 1;
      const s = result.summary;
      const figures: RunFigures = {
        run: label,
        status: s.status,
        mode: s.mode,
        modeReason: s.modeReason,
        requests: s.requests,
        ...(o.idpRequests ? { idpRequests: o.idpRequests(served) } : {}),
        throttled: s.throttled,
        emulatorServed: served,
        wallSeconds: seconds(result.wallMs),
        processSeconds: seconds(processMs),
        phaseMs: s.phaseMs,
        fastPath: s.unchangedSince === undefined ? null : `snapshot unchanged since run ${s.unchangedSince}`,
        snapshot: s.snapshot,
        changesWritten: changesWritten(s.counts),
        counts: s.counts,
        problems: await problemsOf(db.pool, s.runId),
        peakRssMb: result.peakRssMb,
        emulatorCpuSeconds:
          cpuBefore === null || cpuAfter === null ? null : Number((cpuAfter - cpuBefore).toFixed(1)),
        atProductionLimits: o.atProductionLimits(served, s.requests),
      };
      // Printed as it comes, so a later run's failure leaves the earlier figures on screen; one
      // line per figure (still JSON) keeps four runs readable on one screen.
      const lines = Object.entries(figures).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
      console.log(`{\n${lines.join(',\n')}\n}`);
      runs.push(figures);
      return figures;
    };

    const first = await sync('1. first run (full read, writes the mirror and the cursor)');
    const unchanged = await sync('2. unchanged re-sync');
    const t = performance.now();
    const res = await request(`${o.url}/__emulator/mutate`, {
      dispatcher: admin,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ seed: o.seed + 1000, users: 0.01, memberships: 0.01 }),
    });
    const mutation = await res.body.json();
    if (res.statusCode >= 300)
      throw new Error(`mutate answered ${res.statusCode}: ${JSON.stringify(mutation)}`);
    console.log(
      JSON.stringify({
        mutation,
        mutateSeconds: seconds(performance.now() - t),
        settleMs: o.settleMs ?? 0,
      }),
    );
    if (o.settleMs) await sleep(o.settleMs);
    const onePercent = await sync('3. re-sync after 1% of users changed and 1% of memberships moved');
    await db.pool.query(
      `UPDATE dirsync.directories SET last_full_at = now() - interval '2 days' WHERE connector = $1`,
      [o.entry.name],
    );
    const reconcile = await sync('4. reconcile (the daily reconcile schedule due)');
    printTargets(first, unchanged, onePercent, reconcile, runs);
  } finally {
    await admin.close();
    await db.drop();
  }
}

/** The issue's targets and the series' own expectations, each with its figure and ok / NOT OK. */
function printTargets(
  first: RunFigures,
  unchanged: RunFigures,
  onePercent: RunFigures,
  reconcile: RunFigures,
  runs: RunFigures[],
): void {
  // Where the IdP counts requests otherwise than as HTTP calls (Graph's $batch), its count decides.
  const req = (r: RunFigures) => r.idpRequests ?? r.requests;
  const share = req(onePercent) / req(first);
  const peak = Math.max(...runs.map((r) => r.peakRssMb));
  const rows: [string, string, boolean][] = [
    ['unchanged re-sync: requests <= 10', String(req(unchanged)), req(unchanged) <= 10],
    ['unchanged re-sync: wall <= 5 s', `${unchanged.wallSeconds} s`, unchanged.wallSeconds <= 5],
    [
      "1% re-sync: requests <= 3% of the first run's",
      `${req(onePercent)} of ${req(first)} (${(share * 100).toFixed(2)} %)`,
      share <= 0.03,
    ],
    ['1% re-sync: wall <= 15 s', `${onePercent.wallSeconds} s`, onePercent.wallSeconds <= 15],
    ['memory: peak RSS of every sync <= 300 MB', `${peak} MB`, peak <= 300],
    [
      'every run applied (none held for approval)',
      runs.map((r) => r.status).join(', '),
      runs.every((r) => r.status === 'succeeded'),
    ],
    [
      'runs 2 and 3 read incrementally',
      `${unchanged.mode}, ${onePercent.mode}`,
      [unchanged, onePercent].every((r) => r.mode === 'incremental'),
    ],
    ['unchanged re-sync writes nothing', String(unchanged.changesWritten), unchanged.changesWritten === 0],
    ['reconcile reads in full', reconcile.mode, reconcile.mode === 'full'],
    [
      'reconcile finds nothing the 1% re-sync missed',
      `${reconcile.changesWritten} changes`,
      reconcile.changesWritten === 0,
    ],
  ];
  console.log(
    `\ntargets (requests${first.idpRequests === undefined ? '' : ' as the IdP counts them'}; wall: runSync ` +
      'in its process; each sync in a fresh process, so each RSS is its own):',
  );
  for (const [what, figure, ok] of rows) console.log(`  ${ok ? 'ok    ' : 'NOT OK'}  ${what}: ${figure}`);
}
