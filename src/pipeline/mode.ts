/**
 * Mode: how this run reads the IdP, and why. Incremental (the change feed since the saved cursor)
 * is the default once a mirror exists; a full read happens when there is no mirror or cursor yet,
 * when the connector has no feed, when asked (`--full-resync`), when the config that decides what
 * a read returns changed since the mirror was read, and on the reconcile schedule. The read step
 * may still fall back to a full read (an expired cursor, a feed that is switched off).
 */
import { createHash } from 'node:crypto';
import cronParser from 'cron-parser';
import type { ConnectorConfig } from '../../config/schema.js';
import { commonConnectorShape } from '../../config/schema.js';
import { DirsyncError } from '../errors.js';
import { mirrorState, type MirrorState } from '../store/mirror.js';
import type { ReadMode, RunContext } from './context.js';

export interface ReadPlan {
  mode: ReadMode;
  reason: string;
  /** The current mirror (what an incremental or reevaluate run patches or re-derives). */
  state: MirrorState;
  /** Fingerprint of the read-relevant config, stored with a mirror a full read produced. */
  readFingerprint: string;
  /** The previous run's mode reason, so a fallback is logged once, not on every run. */
  previousReason: string | null;
}

const COMMON_KEYS = new Set(Object.keys(commonConnectorShape));
/**
 * Credentials decide who reads, not what is read: a rotated secret must not force a full read, and
 * not even a hash of a secret belongs in the database.
 */
const CREDENTIAL_KEY = /secret|password|token|private|credential|key$/i;

/** The config without credentials, recursively (for the fingerprint only). */
function withoutCredentials(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutCredentials);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>)
      .filter(([k]) => !CREDENTIAL_KEY.test(k))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, x]) => [k, withoutCredentials(x)]),
  );
}

/**
 * Hash of what decides the records a read returns: the IdP-specific settings and what the
 * pipeline pushes down to the connector (group filter, active users only). Transforms, user
 * predicates, local groups and deletion settings are applied by the pipeline to the mirror, so
 * changing them needs no re-read (`--reevaluate` applies them at once).
 */
export function readFingerprint(cfg: ConnectorConfig): string {
  const idp = withoutCredentials(
    Object.fromEntries(Object.entries(cfg).filter(([k]) => !COMMON_KEYS.has(k))),
  );
  const relevant = {
    idp,
    groups: cfg.filters.groups,
    activeOnly: cfg.filters.users.activeOnly,
  };
  return createHash('sha256').update(JSON.stringify(relevant)).digest('base64url');
}

/** True when the reconcile schedule asks for a full read now. */
export function reconcileDue(r: ConnectorConfig['reconcile'], lastFullAt: Date | null, now: Date): boolean {
  if (lastFullAt === null) return true;
  if ('every' in r) return now.getTime() - lastFullAt.getTime() >= r.every;
  const next = cronParser
    .parseExpression(r.cron, { currentDate: lastFullAt, ...(r.tz ? { tz: r.tz } : {}) })
    .next()
    .toDate();
  return next.getTime() <= now.getTime();
}

export async function planRead(ctx: RunContext): Promise<ReadPlan> {
  const { cfg, connector, opts } = ctx;
  const state = await mirrorState(ctx.pool, cfg.name);
  const fingerprint = readFingerprint(cfg);
  const { rows } = await ctx.pool.query<{ mode_reason: string | null }>(
    `SELECT mode_reason FROM dirsync.runs WHERE connector = $1 AND id < $2 AND mode IS NOT NULL ORDER BY id DESC LIMIT 1`,
    [cfg.name, ctx.runId],
  );
  const plan = (mode: ReadMode, reason: string): ReadPlan => ({
    mode,
    reason,
    state,
    readFingerprint: fingerprint,
    previousReason: rows[0]?.mode_reason ?? null,
  });

  if (opts.reevaluate) {
    if (state.mirrorRunId === null) {
      throw new DirsyncError(
        'DIRSYNC_E_CONFIG_INVALID',
        connector.openFeed
          ? `${cfg.name} has no mirror yet: run a sync first, then --reevaluate`
          : `${cfg.name}: a ${cfg.kind} connector reads in full every run and keeps no mirror; run a sync instead`,
      );
    }
    if (state.readFingerprint !== fingerprint) {
      throw new DirsyncError(
        'DIRSYNC_E_CONFIG_INVALID',
        `${cfg.name}: the IdP settings or the filters pushed down to the IdP (group filter, activeOnly) changed ` +
          'since the mirror was read, so it cannot be re-evaluated; run a sync (it reads in full)',
      );
    }
    return plan('reevaluate', 'requested: filters and transforms re-applied to the mirror');
  }
  if (!connector.openFeed) return plan('full', 'the connector has no change feed');
  if (opts.fullResync) return plan('full', 'full resync requested');
  if (state.mirrorRunId === null) return plan('full', 'first run: no mirror of the IdP yet');
  if (state.cursor === null) return plan('full', 'no saved change-feed cursor');
  if (state.readFingerprint !== fingerprint)
    return plan('full', 'the IdP settings or pushed-down filters changed since the last full read');
  if (reconcileDue(cfg.reconcile, state.lastFullAt, new Date())) {
    return plan(
      'full',
      `reconcile due (last full read ${state.lastFullAt?.toISOString() ?? 'never'}, ` +
        `schedule ${'every' in cfg.reconcile ? `every ${cfg.reconcile.every} ms` : `cron ${cfg.reconcile.cron}`})`,
    );
  }
  return plan('incremental', 'change feed since the saved cursor');
}
