/** What every route module gets: the config, the pool, the (optional) queue side. */
import type { Queue } from 'bullmq';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { ConnectorConfig, DirsyncConfig } from '../../config/schema.js';
import { describeSecret, type SecretRef } from '../../config/secrets.js';
import { DirsyncError } from '../errors.js';

/** Minimal event-emitter shape (a BullMQ QueueEvents or any EventEmitter). */
export interface EventSource {
  on(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
}

export interface TriggerOptions {
  fullResync?: boolean;
  requestedBy?: string;
}

/** The queue side, injected so the server does not depend on how jobs/ builds it. */
export interface QueueBinding {
  /** Enqueues a sync of one connector (deduplicated per connector by the jobs layer). */
  trigger(connector: string, opts: TriggerOptions): Promise<{ jobId: string; state: 'queued' | 'joined' }>;
  /** The BullMQ queue: job schedulers (next run), bull-board, and the Redis health check. */
  bullQueue?: Queue;
  /** Queue events (`progress`, `completed`, `failed`, ...) pushed to the live view. */
  events?: EventSource;
}

export interface ApiContext {
  config: DirsyncConfig;
  pool: pg.Pool;
  queue: QueueBinding | null;
  metricsRegistry: Registry | null;
  /** Configured connector names, in config order. */
  names: string[];
  livePollMs: number;
}

export function connectorOf(ctx: ApiContext, name: string): ConnectorConfig {
  const c = ctx.config.connectors.find((x) => x.name === name);
  if (!c) throw new DirsyncError('DIRSYNC_E_CONNECTOR_UNKNOWN', `"${name}"`);
  return c;
}

function isSecretRef(v: unknown): v is SecretRef {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return (
    keys.length === 1 &&
    ((keys[0] === 'env' && typeof (v as { env: unknown }).env === 'string') ||
      (keys[0] === 'file' && typeof (v as { file: unknown }).file === 'string'))
  );
}

/**
 * A connector's config as the dashboard may show it: every secret reference is replaced by its
 * description (`env:GRAPH_SECRET`), so no resolved value can ever reach a page.
 */
/** Config fields that are durations: parsed to milliseconds, shown as written (`5m`, not 300000). */
const DURATION_KEYS = new Set([
  'every',
  'jitter',
  'deleteAfter',
  'maxRunDuration',
  'staleAfter',
  'checkEvery',
  'overlap',
  'timeout',
]);

/** A duration in the config's own syntax: the largest unit that divides it exactly. */
export function configDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

export function describeConfig(value: unknown, key?: string): unknown {
  if (isSecretRef(value)) return { secret: describeSecret(value) };
  if (typeof value === 'number' && key !== undefined && DURATION_KEYS.has(key)) return configDuration(value);
  if (Array.isArray(value)) return value.map((v) => describeConfig(v));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, describeConfig(v, k)]));
  }
  return value;
}

export function describeSchedule(s: ConnectorConfig['schedule']): string {
  const dur = configDuration;
  if ('manual' in s) return 'manual only';
  const jitter = s.jitter ? ` (± ${dur(s.jitter)})` : '';
  if ('every' in s) return `every ${dur(s.every)}${jitter}`;
  return `cron ${s.cron}${s.tz ? ` ${s.tz}` : ''}${jitter}`;
}
