/**
 * The one root logger. Jobs and runs log through children carrying `{ connector, runId }`.
 * Logs go to stderr so `--json` output on stdout stays machine-readable.
 */
import { pino, type Logger } from 'pino';
import pinoDefault from 'pino';

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

export function createLogger(level: string = process.env.DIRSYNC_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    { level, base: { service: 'dirsync' }, redact: { paths: REDACT, censor: '[redacted]' } },
    pinoDefault.destination({ dest: 2, sync: false }),
  );
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
