/**
 * `npm run demo`: Dirsync on its embedded default. Starts the four IdP emulators with small
 * generated orgs on 127.0.0.1, a worker and the dashboard, syncs every directory once (the
 * emulated Entra ID, Google Workspace, Keycloak and Okta tenants, and the HR export of
 * config/demo.yaml), prints what happened and the dashboard URL, and keeps running (scheduled
 * syncs every few minutes, an org that changes now and then) until Ctrl-C.
 */
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../config/load.js';
import { writeDemoConfig } from './demo-config.js';
import type { DirsyncConfig } from '../config/schema.js';
import { addUser, updateUser } from '../connectors/emulator-kit/mutate.js';
import type { Org } from '../connectors/emulator-kit/org.js';
import type { RunningEmulator } from '../connectors/emulator-kit/types.js';
import { EMULATOR_KINDS, startEmulator } from '../connectors/emulators.js';
import { openSyncQueue, closeSyncQueue, redisUrl as defaultRedisUrl } from '../jobs/queue.js';
import { triggerSync } from '../jobs/trigger.js';
import { startWorker } from '../jobs/worker.js';
import { countsLine } from './cli/format.js';
import { DirsyncError } from './errors.js';
import { rootLogger } from './logger.js';
import { serve } from './serve.js';

/** Runs the demo's worker executes at once (the pool is sized for it). */
export const DEMO_CONCURRENCY = 3;

const TITLES: Record<string, string> = {
  graph: 'Contoso (Entra ID, emulated)',
  google: 'Example Inc. (Google Workspace, emulated)',
  keycloak: 'ACME realm (Keycloak, emulated)',
  okta: 'Initech (Okta, emulated)',
};

export interface DemoOptions {
  pool: pg.Pool;
  /** Where the demo writes its config for the CLI (default `.demo`). */
  configDir?: string;
  /** Where to print (stdout by default). */
  out?: (line: string) => void;
  /** Dashboard port; 0 picks a free one. Default 8080, or a free one when 8080 is taken. */
  port?: number;
  /** Resolves when the demo should stop (default: SIGINT/SIGTERM). */
  until?: Promise<void>;
  /** Called once the dashboard is up and the first syncs are done. */
  onReady?: (info: { url: string; config: DirsyncConfig }) => void;
}

interface Emulated {
  kind: string;
  emu: RunningEmulator & { org?: Org };
}

async function startEmulators(): Promise<Emulated[]> {
  const started: Emulated[] = [];
  try {
    for (const [i, kind] of EMULATOR_KINDS.entries()) {
      const emu = await startEmulator(kind, {
        port: 0,
        users: 400,
        groups: 40,
        membersPerGroup: 25,
        nestingDepth: 3,
        seed: 20 + i,
      });
      started.push({ kind, emu });
    }
    return started;
  } catch (e) {
    await Promise.all(started.map((s) => s.emu.close().catch(() => {})));
    throw e;
  }
}

/** The demo's config as the schema reads it (before parsing), so it can also be written to a file. */
function demoRawConfig(emulated: Emulated[]): Record<string, unknown> {
  const file = parseYaml(readFileSync('config/demo.yaml', 'utf8')) as {
    connectors: Record<string, unknown>[];
  };
  const connectors = [
    ...emulated.map(({ kind, emu }) => ({
      ...emu.connector,
      title: TITLES[kind] ?? kind,
      schedule: { every: '5m', jitter: '1m' },
      localGroups: ['all-staff'],
    })),
    ...file.connectors.map((c) => ({ ...c, schedule: { every: '15m' } })),
  ];
  return {
    log: { level: 'warn' },
    queue: { prefix: process.env.DIRSYNC_DEMO_QUEUE ?? 'dirsync-demo', concurrency: DEMO_CONCURRENCY },
    connectors,
  };
}

/** Waits until every connector has a finished run newer than `sinceId`. */
async function waitForRuns(
  pool: pg.Pool,
  names: string[],
  sinceId: number,
  timeoutMs: number,
  stopped: () => boolean,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{
      connector: string;
      id: string;
      status: string;
      counts: never;
      error_code: string | null;
    }>(
      `SELECT DISTINCT ON (connector) connector, id, status, counts, error_code FROM dirsync.runs
        WHERE connector = ANY($1) AND id > $2 AND status <> 'running'
        ORDER BY connector, id DESC`,
      [names, sinceId],
    );
    if (rows.length === names.length || Date.now() > deadline || stopped()) return rows;
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function runDemo(o: DemoOptions): Promise<void> {
  const { pool } = o;
  const out = o.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const log = rootLogger();
  let stopRequested = false;
  const stop = (
    o.until ??
    new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    })
  ).then(() => {
    stopRequested = true;
  });
  out('Starting the emulated identity providers (Entra ID, Google Workspace, Keycloak, Okta)…');
  const emulated = await startEmulators();
  const closers: (() => Promise<void>)[] = [
    async () => void (await Promise.all(emulated.map((e) => e.emu.close()))),
  ];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    for (const { emu } of emulated) Object.assign(process.env, emu.env);
    const raw = demoRawConfig(emulated);
    const config = parseConfig(raw, undefined, 'demo config');
    const configPath = writeDemoConfig(
      raw,
      Object.assign({}, ...emulated.map((e) => e.emu.env)) as Record<string, string>,
      o.configDir,
    );
    const names = config.connectors.map((c) => c.name);
    const redisUrl = defaultRedisUrl();

    // Before the worker starts: its schedulers may begin a first run before "sync now" is pressed.
    const { rows: last } = await pool.query<{ id: string }>(
      'SELECT coalesce(max(id), 0) AS id FROM dirsync.runs',
    );
    const worker = await startWorker({ config, pool, redisUrl, logger: log, handleSignals: false });
    closers.push(() => worker.close());
    let server;
    try {
      server = await serve({ config, pool, redisUrl, port: o.port ?? 8080 });
    } catch (e) {
      if ((e as { code?: string }).code !== 'EADDRINUSE' || o.port !== undefined) throw e;
      server = await serve({ config, pool, redisUrl, port: 0 });
    }
    closers.push(() => (server as { close(): Promise<void> }).close());

    const queue = openSyncQueue({ prefix: config.queue.prefix, connection: redisUrl });
    try {
      for (const name of names) await triggerSync(queue, name, { requestedBy: 'demo' });
    } finally {
      await closeSyncQueue(queue);
    }
    out(`Syncing ${names.length} directories (watch them live at ${server.url})…`);
    const runs = await waitForRuns(pool, names, Number(last[0]?.id ?? 0), 180_000, () => stopRequested);
    for (const name of names) {
      const r = runs.find((x) => x.connector === name);
      const title = config.connectors.find((c) => c.name === name)?.title ?? name;
      out(
        r
          ? `  ${title}: run ${r.id} ${r.status}${r.error_code ? ` (${r.error_code})` : ''} · ${countsLine(r.counts)}`
          : `  ${title}: still running`,
      );
    }

    // Now and then the emulated orgs change, so the scheduled syncs have something to show.
    let tick = 0;
    const churn = setInterval(() => {
      tick++;
      const target = emulated[tick % emulated.length]?.emu;
      const org = target?.org;
      if (!org || org.users.length === 0) return;
      const u = org.users[tick % org.users.length];
      if (!u) return;
      try {
        updateUser(org, u.id, {
          title: `${u.title.replace(/ \(.*\)$/, '')} (${new Date().toISOString().slice(11, 16)})`,
        });
        addUser(org, {
          ...u,
          id: `demo-${tick}-${u.id}`,
          login: `newhire${tick}.${u.login}`,
          email: null,
          status: 'active',
        });
      } catch {
        // An emulator whose org model is re-keyed refuses ids it does not know; the others change.
      }
    }, 60_000);
    churn.unref();
    closers.push(async () => clearInterval(churn));

    out('');
    out(`Dashboard: ${server.url}`);
    out(`CLI:       npm run dirsync -- --config ${configPath} status   (or sync, changes, history, …)`);
    out(
      'Scheduled syncs run every 5 minutes and the emulated orgs change now and then. Ctrl-C stops everything.',
    );
    o.onReady?.({ url: server.url, config });
    await stop;
    out('Stopping… (Ctrl-C again to stop at once)');
    process.once('SIGINT', () => process.exit(130));
  } catch (e) {
    throw e instanceof DirsyncError
      ? e
      : new DirsyncError('DIRSYNC_E_INTERNAL', `demo failed: ${(e as Error).message}`, { cause: e });
  } finally {
    await closeAll();
  }
}
