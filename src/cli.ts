/**
 * The `dirsync` command line. Every command validates the config first and fails with one clear
 * message (and every config problem listed) before touching anything. The worker, the server and
 * the demo load on use, so `dirsync sync` does not carry BullMQ or Fastify.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type pg from 'pg';
import { environmentProblems } from '../config/environment.js';
import { configPath, findConnector, loadConfig } from '../config/load.js';
import { readyLine } from '../connectors/emulator-kit/types.js';
import { EMULATOR_KINDS, startEmulator, type EmulatorKind } from '../connectors/emulators.js';
import type { DirsyncConfig } from '../config/schema.js';
import { changeJson, changeText, historyText, statusText, summaryText, timeText } from './cli/format.js';
import { progressLine, progressText } from './cli/progress.js';
import { DirsyncError, toDirsyncError } from './errors.js';
import { createLogger, setRootLogger } from './logger.js';
import { approveRun, rejectRun } from './pipeline/approve.js';
import { runSync, type RunSummary } from './pipeline/run.js';
import { CONNECTIONS_PER_RUN, createPool, databaseUrl, ensureDatabase } from './store/db.js';
import { migrate } from './store/migrate.js';
import { objectHistory } from './store/history.js';
import { changesPrunedAt, connectorStatuses, runExists, runChanges, runProblems } from './store/queries.js';

const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Exit codes scripts can rely on. */
const EXIT = { ok: 0, failed: 1, usage: 2, held: 3 } as const;

async function withDatabase<T>(fn: (pool: pg.Pool) => Promise<T>, concurrentRuns = 1): Promise<T> {
  const url = databaseUrl();
  await ensureDatabase(url);
  const pool = createPool(url, concurrentRuns * CONNECTIONS_PER_RUN + 4);
  try {
    await migrate(pool);
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

function setup(): DirsyncConfig {
  const config = loadConfig();
  setRootLogger(createLogger(process.env.DIRSYNC_LOG_LEVEL ?? config.log.level));
  return config;
}

/** Parses a count option: a whole number ≥ 0, or a usage error naming the value. */
function wholeNumber(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`"${v}" is not a whole number ≥ 0`);
  return Number(v);
}

/** A run id argument: a positive whole number within the ids Postgres can hold, or a usage error. */
function runId(v: string): number {
  const n = /^\d{1,15}$/.test(v) ? Number(v) : 0;
  if (n < 1)
    throw new CommanderError(
      EXIT.usage,
      'dirsync.invalidRun',
      `error: "${v}" is not a run id (a positive whole number)`,
    );
  return n;
}

function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

async function printChanges(pool: pg.Pool, runId: number, limit: number): Promise<void> {
  const pruned = await changesPrunedAt(pool, runId);
  // An empty list would read as "changed nothing": say the detail is gone (the counts remain).
  if (pruned) console.log(`  change detail pruned on ${timeText(pruned)} (older than changeLog.retention)`);
  const changes = await runChanges(pool, runId, limit + 1);
  for (const c of changes.slice(0, limit)) console.log(changeText(c));
  if (changes.length > limit) console.log(`  … more: dirsync changes ${runId} --limit ${limit * 10}`);
  const problems = await runProblems(pool, runId, 20);
  if (problems.length > 0) {
    console.log('  problems:');
    for (const p of problems)
      console.log(`  ! ${p.action} ${p.object_type} ${p.external_id ?? '(no id)'}: ${p.reason}`);
  }
}

/** A dry run whose changes the guard would hold exits like a held run, so scripts can check first. */
function exitFor(s: RunSummary): number {
  return s.status === 'needs_approval' || (s.guard?.length ?? 0) > 0 ? EXIT.held : EXIT.ok;
}

export function buildProgram(): Command {
  const program = new Command('dirsync')
    .description('Keeps an application user directory in Postgres in step with identity providers.')
    .version(PACKAGE_VERSION, '-V, --version', 'print the version')
    .option('-c, --config <file>', 'the config file (default: $DIRSYNC_CONFIG, else config/dirsync.yaml)')
    .showHelpAfterError()
    .exitOverride();
  // The global option wins over the environment, for every command (the worker and the server
  // read DIRSYNC_CONFIG too).
  program.hook('preAction', () => {
    const file = program.opts<{ config?: string }>().config;
    if (file) process.env.DIRSYNC_CONFIG = file;
  });

  program
    .command('migrate')
    .description('create or upgrade the dirsync schema (also done by every other command)')
    .action(async () => {
      const url = databaseUrl();
      await ensureDatabase(url);
      const pool = createPool(url);
      try {
        const r = await migrate(pool);
        console.log(
          r.applied.length ? `applied ${r.applied.join(', ')}` : `schema is current (${r.current})`,
        );
      } finally {
        await pool.end();
      }
    });

  program
    .command('check-config')
    .description('validate the configuration file and list every problem')
    .action(() => {
      const c = setup();
      // The schema has passed; now what it refers to: every env var and secret file must exist.
      const problems = environmentProblems(c);
      if (problems.length > 0) {
        throw new DirsyncError(
          'DIRSYNC_E_CONFIG_INVALID',
          `${configPath()} has ${problems.length} problem(s):\n  ${problems
            .map((p) => `${p.path}: ${p.reason}`)
            .join('\n  ')}`,
        );
      }
      console.log(`config is valid: ${c.connectors.map((x) => `${x.name} (${x.kind})`).join(', ')}`);
    });

  program
    .command('sync <connector>')
    .description('run one sync now, in this process')
    .option('--dry-run', 'compute and show the changes without applying them')
    .option('--full', 'read the IdP in full (no change feed) and compare everything')
    .addOption(new Option('--full-resync', 'the old name of --full').hideHelp())
    .option(
      '--reevaluate',
      're-apply filters and transforms to the mirror of the last read, without asking the IdP (with --dry-run: preview)',
    )
    .option('--json', 'print a JSON summary')
    .option('--limit <n>', 'list at most n changes (0: none)', wholeNumber, 20)
    .addOption(new Option('--show <n>', 'the old name of --limit').argParser(wholeNumber).hideHelp())
    .action(
      async (
        name: string,
        o: {
          dryRun?: boolean;
          full?: boolean;
          fullResync?: boolean;
          reevaluate?: boolean;
          json?: boolean;
          limit: number;
          show?: number;
        },
      ) => {
        const config = setup();
        const entry = findConnector(config, name);
        await withDatabase(async (pool) => {
          const progress = o.json ? null : progressLine(process.stderr);
          let s: RunSummary;
          try {
            s = await runSync({
              pool,
              config: entry,
              trigger: 'cli',
              dryRun: o.dryRun ?? false,
              fullResync: (o.full ?? false) || (o.fullResync ?? false),
              reevaluate: o.reevaluate ?? false,
              ...(progress ? { onProgress: (p) => progress.update(progressText(p)) } : {}),
            });
          } finally {
            progress?.done();
          }
          if (o.json) printJson(s);
          else {
            console.log(summaryText(s));
            await printChanges(pool, s.runId, o.show ?? o.limit);
          }
          process.exitCode = exitFor(s);
        });
      },
    );

  program
    .command('test <connector>')
    .description(
      'test a connection: sign in, read the first users, groups and memberships, say what is missing',
    )
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const config = setup();
      const entry = findConnector(config, name);
      const { testConnection, connectionTestText } = await import('./connection-test.js');
      const r = await testConnection(entry);
      if (o.json) printJson(r);
      else console.log(connectionTestText(r));
      process.exitCode = r.ok ? EXIT.ok : EXIT.failed;
    });

  program
    .command('worker')
    .description('run a sync worker (schedules and sync-now jobs) until SIGTERM; start as many as you like')
    .option('--concurrency <n>', 'runs at once in this process (default: queue.concurrency)')
    .option('--metrics-port <port>', 'serve Prometheus /metrics on this port')
    .action(async (o: { concurrency?: string; metricsPort?: string }) => {
      const { workerCommand } = await import('../jobs/cli.js');
      process.exitCode = await workerCommand({
        ...(o.concurrency ? { concurrency: Number(o.concurrency) } : {}),
        ...(o.metricsPort ? { metricsPort: Number(o.metricsPort) } : {}),
      });
    });

  program
    .command('sync-now <connector>')
    .description('ask the workers to sync a connector now (joins a queued or running run)')
    .option('--full', 'full resync: compare everything')
    .option('--wait', 'wait for the run and exit like `dirsync sync` (0, 1 or 3)')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { full?: boolean; wait?: boolean; json?: boolean }) => {
      const { syncNowCommand } = await import('../jobs/cli.js');
      process.exitCode = await syncNowCommand(name, o);
    });

  program
    .command('status')
    .description('list connectors with their last run')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const config = setup();
      await withDatabase(async (pool) => {
        const rows = await connectorStatuses(
          pool,
          config.connectors.map((c) => c.name),
        );
        if (o.json) printJson(rows);
        else console.log(statusText(rows));
      });
    });

  program
    .command('changes <run>')
    .description("list a run's changes and the records it held or skipped")
    .option('--limit <n>', 'list at most n changes (0: none)', wholeNumber, 200)
    .option('--json', 'print JSON')
    .action(async (run: string, o: { limit: number; json?: boolean }) => {
      const id = runId(run);
      await withDatabase(async (pool) => {
        if (!(await runExists(pool, id))) throw new DirsyncError('DIRSYNC_E_RUN_NOT_FOUND', `run ${id}`);
        if (o.json)
          printJson({
            changesPrunedAt: (await changesPrunedAt(pool, id))?.toISOString() ?? null,
            changes: (await runChanges(pool, id, o.limit)).map(changeJson),
            problems: (await runProblems(pool, id, 1000)).map((p) => ({
              objectType: p.object_type,
              externalId: p.external_id,
              reason: p.reason,
              action: p.action,
            })),
          });
        else await printChanges(pool, id, o.limit);
      });
    });

  program
    .command('history <connector> <user-or-group>')
    .description('every change that touched one user or group across runs (by username, group name or id)')
    .option('--user', 'look for a user only')
    .option('--group', 'look for a group only')
    .option('--limit <n>', 'most entries', wholeNumber, 200)
    .option('--json', 'print JSON')
    .action(
      async (
        name: string,
        ref: string,
        o: { user?: boolean; group?: boolean; limit: number; json?: boolean },
      ) => {
        const config = setup();
        const entry = findConnector(config, name);
        await withDatabase(async (pool) => {
          const h = await objectHistory(pool, name, ref, {
            ...(o.user ? { type: 'user' as const } : o.group ? { type: 'group' as const } : {}),
            deleteAfterMs: entry.deletion.deleteAfter === 'never' ? -1 : entry.deletion.deleteAfter,
            limit: o.limit,
          });
          if (!h)
            throw new DirsyncError('DIRSYNC_E_OBJECT_NOT_FOUND', `${name} has no user or group "${ref}"`);
          if (o.json) printJson(h);
          else console.log(historyText(h));
        });
      },
    );

  program
    .command('approve <run>')
    .description('apply exactly the change set of a run the deletion guard held')
    .option('--by <name>', 'who approves (recorded on the run)', process.env.USER || 'cli')
    .action(async (run: string, o: { by: string }) => {
      await withDatabase(async (pool) => {
        await approveRun(pool, runId(run), o.by);
        console.log(`run ${run} approved and applied`);
      });
    });

  program
    .command('reject <run>')
    .description('discard the change set of a held run')
    .option('--by <name>', 'who rejects (recorded on the run)', process.env.USER || 'cli')
    .action(async (run: string, o: { by: string }) => {
      await withDatabase(async (pool) => {
        await rejectRun(pool, runId(run), o.by);
        console.log(`run ${run} rejected; nothing was applied`);
      });
    });

  program
    .command('emulate <kind>')
    .description(
      `serve an emulated IdP on 127.0.0.1 (${EMULATOR_KINDS.join(', ')}); prints one JSON line with its url and a ready connector entry`,
    )
    .option('--port <n>', 'port (0 picks a free one)', '0')
    .option('--users <n>', 'users in the generated org', '1000')
    .option('--groups <n>', 'groups', '100')
    .option('--members-per-group <n>', 'average direct members per group', '20')
    .option('--nesting-depth <n>', 'deepest group nesting', '3')
    .option('--seed <n>', 'seed of the generated org', '1')
    .option('--latency <ms>', 'added to every response', '0')
    .option('--error-rate <r>', 'probability of a 5xx per request', '0')
    .action(async (kind: string, o: Record<string, string>) => {
      if (!(EMULATOR_KINDS as readonly string[]).includes(kind)) {
        throw new DirsyncError(
          'DIRSYNC_E_CONFIG_INVALID',
          `no emulator of kind "${kind}" (${EMULATOR_KINDS.join(', ')})`,
        );
      }
      const num = (name: string) => {
        const v = Number(o[name]);
        if (!Number.isFinite(v) || v < 0)
          throw new DirsyncError('DIRSYNC_E_CONFIG_INVALID', `--${name} must be a number ≥ 0`);
        return v;
      };
      const emu = await startEmulator(kind as EmulatorKind, {
        port: num('port'),
        users: num('users'),
        groups: num('groups'),
        membersPerGroup: num('membersPerGroup'),
        nestingDepth: num('nestingDepth'),
        seed: num('seed'),
        latencyMs: num('latency'),
        faults: { errorRate: num('errorRate') },
      });
      process.stdout.write(`${readyLine(emu)}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void emu.close().then(resolve, resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });

  program
    .command('serve')
    .description('serve the dashboard and the HTTP API (127.0.0.1 unless server.host says otherwise)')
    .option('--host <host>', 'bind address (a non-loopback one requires DIRSYNC_ADMIN_TOKEN)')
    .option('--port <port>', 'port')
    .action(async (o: { host?: string; port?: string }) => {
      const config = setup();
      const { serve } = await import('./serve.js');
      await withDatabase(async (pool) => {
        const s = await serve({
          config,
          pool,
          ...(o.host ? { host: o.host } : {}),
          ...(o.port ? { port: Number(o.port) } : {}),
        });
        console.log(`Dashboard: ${s.url}`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
        await s.close();
      });
    });

  program
    .command('demo')
    .description('start the emulated IdPs, a worker and the dashboard; sync everything once; print the URL')
    .option('--port <port>', 'dashboard port (default 8080, or a free one)')
    .action(async (o: { port?: string }) => {
      process.env.DIRSYNC_LOG_LEVEL ??= 'error';
      setRootLogger(createLogger(process.env.DIRSYNC_LOG_LEVEL));
      const { DEMO_CONCURRENCY, runDemo } = await import('./demo.js');
      await withDatabase(async (pool) => {
        await runDemo({ pool, ...(o.port ? { port: Number(o.port) } : {}) });
      }, DEMO_CONCURRENCY);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander prints its own parse errors; ours (thrown from actions) are printed here.
      if (e.code.startsWith('dirsync.'))
        process.stderr.write(`dirsync: ${e.message.replace(/^error: /, '')}\n`);
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const err = toDirsyncError(e);
    process.stderr.write(`dirsync: ${err.code}: ${err.message}\n`);
    if (err.code === 'DIRSYNC_E_INTERNAL' && e instanceof Error && e.stack)
      process.stderr.write(`${e.stack}\n`);
    const runId = (err as DirsyncError & { runId?: number }).runId;
    if (runId)
      process.stderr.write(`dirsync: the run is recorded as run ${runId} (dirsync changes ${runId})\n`);
    return err.code === 'DIRSYNC_E_CONFIG_INVALID' || err.code === 'DIRSYNC_E_CONFIG_NOT_FOUND'
      ? EXIT.usage
      : EXIT.failed;
  }
}

const invokedDirectly = process.argv[1] && /(?:^|[/\\])(?:cli\.ts|dirsync(?:\.js)?)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`dirsync: ${String(e)}\n`);
      process.exitCode = EXIT.failed;
    },
  );
}
