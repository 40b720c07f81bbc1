/**
 * The one root logger. Jobs and runs log through children carrying `{ connector, runId }`.
 * Logs go to stderr so `--json` output on stdout stays machine-readable: JSON lines for machines
 * (containers, files, pipes), readable lines for a person at a terminal.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import pinoDefault from 'pino';
import pretty from 'pino-pretty';

/** Keys that may carry secrets anywhere in a logged object; pino replaces their values. */
const REDACT = [
  'password',
  'token',
  'secret',
  'clientSecret',
  'privateKey',
  'apiToken',
  'authorization',
  'assertion',
  'access_token',
  'refresh_token',
  'client_secret',
  'private_key',
  'env',
].flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

/**
 * Human output when stderr is a terminal, unless `DIRSYNC_LOG_FORMAT=json`; JSON lines otherwise
 * (or with `DIRSYNC_LOG_FORMAT=json` forced on a terminal, `pretty` forced elsewhere).
 */
export function humanLogs(
  env: NodeJS.ProcessEnv = process.env,
  tty = process.stderr.isTTY === true,
): boolean {
  const format = env.DIRSYNC_LOG_FORMAT;
  return format === 'pretty' || (format !== 'json' && tty);
}

export function createLogger(level: string = process.env.DIRSYNC_LOG_LEVEL ?? 'info'): Logger {
  const dest: DestinationStream = humanLogs()
    ? pretty({
        destination: 2,
        sync: true,
        colorize: process.stderr.isTTY === true,
        ignore: 'pid,hostname,service',
        translateTime: 'SYS:HH:MM:ss',
      })
    : pinoDefault.destination({ dest: 2, sync: false });
  return pino({ level, base: { service: 'dirsync' }, redact: { paths: REDACT, censor: '[redacted]' } }, dest);
}

let root: Logger | null = null;

export function rootLogger(): Logger {
  root ??= createLogger();
  return root;
}

export function setRootLogger(l: Logger): void {
  root = l;
}

/** A logger that drops everything (tests that do not care). */
export const silentLogger: Logger = pino({ level: 'silent' });
