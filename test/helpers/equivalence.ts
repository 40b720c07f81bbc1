/**
 * Incremental ≡ full: after each round of IdP mutations, the directory an incremental sync keeps
 * must equal, as sets of users, groups, direct edges and effective memberships, the directory that
 * full reads of the same IdP produce. The reference follows the same rounds in another database
 * with full reads (`fullResync`), so history-dependent outcomes (a held user keeps its old record,
 * a grace period) are the same on both sides. Reusable by each IdP's e2e tests with its emulator:
 * pass its connector, a config per round and a function that mutates the emulator.
 */
import type pg from 'pg';
import { expect } from 'vitest';
import type { ConnectorConfig } from '../../config/schema.js';
import type { Connector } from '../../connectors/types.js';
import { silentLogger } from '../../src/logger.js';
import { runSync, type RunSummary } from '../../src/pipeline/run.js';

/**
 * Removal limits out of the way (`guard` of a connector entry): an incremental run and a full run
 * would hold alike, which proves nothing about their equivalence. The per-group limit (issue 9)
 * included.
 */
export const OPEN_GUARD = {
  minRemovals: 100_000,
  users: { maxCount: 100_000 },
  groups: { maxCount: 100_000 },
  memberships: { maxCount: 100_000 },
  groupMembers: { maxPercent: 100 },
};

export interface DirectorySets {
  users: string[];
  groups: string[];
  edges: string[];
  effective: string[];
}

/** One connector's directory as sorted, comparable sets. */
export async function directorySets(pool: pg.Pool, connector: string): Promise<DirectorySets> {
  const q = async (sql: string) =>
    (await pool.query<{ k: string }>(sql, [connector])).rows.map((r) => r.k).sort();
  return {
    users: await q(
      `SELECT concat_ws('|', external_id, username, email, display_name, given_name, family_name, active,
                        attributes::text, missing_since IS NOT NULL) AS k
         FROM dirsync.users WHERE connector = $1`,
    ),
    groups: await q(
      `SELECT concat_ws('|', external_id, name, description, attributes::text, local) AS k
         FROM dirsync.groups WHERE connector = $1`,
    ),
    edges: await q(
      `SELECT g.external_id || '>' || coalesce('u:' || u.external_id, 'g:' || mg.external_id) AS k
         FROM dirsync.group_members m JOIN dirsync.groups g ON g.id = m.group_id
         LEFT JOIN dirsync.users u ON u.id = m.user_id LEFT JOIN dirsync.groups mg ON mg.id = m.member_group_id
        WHERE g.connector = $1`,
    ),
    effective: await q(
      `SELECT g.external_id || '>' || u.external_id AS k FROM dirsync.effective_group_members e
         JOIN dirsync.groups g ON g.id = e.group_id JOIN dirsync.users u ON u.id = e.user_id
        WHERE e.connector = $1`,
    ),
  };
}

export function expectSameDirectory(actual: DirectorySets, expected: DirectorySets, label: string): void {
  for (const k of ['users', 'groups', 'edges', 'effective'] as const) {
    const missing = expected[k].filter((x) => !actual[k].includes(x));
    const extra = actual[k].filter((x) => !expected[k].includes(x));
    expect({ missing, extra }, `${label}: ${k} differ`).toEqual({ missing: [], extra: [] });
  }
}

export interface EquivalenceOptions {
  connector: Connector;
  /** The connector config for a round (may change between rounds: filters, transforms). */
  config: (round: number) => ConnectorConfig;
  /** Mutates the IdP before round `round` (1-based; round 0 is the first sync). */
  mutate: (round: number) => Promise<void> | void;
  rounds: number;
  /** Database of the incremental directory. */
  incremental: pg.Pool;
  /** Database of the reference directory, synced with full reads. */
  reference: pg.Pool;
  /** Prefixes every assertion label (e.g. the seed, so a failure names how to reproduce it). */
  label?: string;
  /** Called after each round's directories compared equal, with both runs' summaries (assert modes, counts, ...). */
  onRound?: (round: number, incremental: RunSummary, full: RunSummary) => void | Promise<void>;
}

export interface EquivalenceResult {
  modes: Record<string, number>;
}

export async function expectIncrementalEqualsFull(o: EquivalenceOptions): Promise<EquivalenceResult> {
  const modes: Record<string, number> = {};
  const at = (round: number) => `${o.label ? `${o.label}, ` : ''}round ${round}`;
  for (let round = 0; round <= o.rounds; round++) {
    if (round > 0) await o.mutate(round);
    const config = o.config(round);
    const inc = await runSync({
      pool: o.incremental,
      config,
      connector: o.connector,
      trigger: 'test',
      logger: silentLogger,
    });
    const full = await runSync({
      pool: o.reference,
      config,
      connector: o.connector,
      trigger: 'test',
      logger: silentLogger,
      fullResync: true,
    });
    modes[inc.mode] = (modes[inc.mode] ?? 0) + 1;
    expect(inc.status, `${at(round)}: incremental run status`).toBe(full.status);
    expectSameDirectory(
      await directorySets(o.incremental, config.name),
      await directorySets(o.reference, config.name),
      `${at(round)} (${inc.mode}: ${inc.modeReason})`,
    );
    await expectRecordedSizes(o.incremental, inc.runId, config.name, at(round));
    await o.onRound?.(round, inc, full);
  }
  return { modes };
}

/**
 * The sizes a run records for the next run in scope (evaluate.ts) are the directory's: an
 * incremental run moves them by its changes instead of counting, so a drift would go unseen, and
 * the guard's percentages would be taken of the wrong number.
 */
async function expectRecordedSizes(db: pg.Pool, runId: number, connector: string, at: string): Promise<void> {
  const { rows } = await db.query<Record<string, string | null>>(
    `SELECT r.snapshot->>'directory_users' AS rec_users, r.snapshot->>'directory_active_users' AS rec_active,
            r.snapshot->>'directory_memberships' AS rec_memberships,
            (SELECT count(*) FROM dirsync.users u WHERE u.connector = $2 AND u.missing_since IS NULL)::text AS users,
            (SELECT count(*) FROM dirsync.users u WHERE u.connector = $2 AND u.missing_since IS NULL AND u.active)::text AS active,
            (SELECT count(*) FROM dirsync.group_members m JOIN dirsync.groups g ON g.id = m.group_id
              WHERE g.connector = $2)::text AS memberships
       FROM dirsync.runs r WHERE r.id = $1`,
    [runId, connector],
  );
  const r = rows[0] ?? {};
  expect(
    { users: r.rec_users, active: r.rec_active, memberships: r.rec_memberships },
    `${at}: the sizes the run recorded`,
  ).toEqual({ users: r.users, active: r.active, memberships: r.memberships });
}
