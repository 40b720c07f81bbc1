/**
 * The mirror (connector space): per connector, the IdP's records exactly as the connector mapped
 * them, before filters and transforms. Two tables per mirror, named after the run that staged them:
 * `r<run>_mo` (users, groups and problems as the JSON of the connector's item) and `r<run>_me`
 * (direct edges). JSON text, not jsonb: `JSON.stringify` escapes NUL and lone surrogates, which a
 * jsonb or text value could not hold, so a bad record is mirrored as the connector gave it.
 *
 * A full run stages a new mirror next to its other stage tables; its apply transaction adopts it
 * (`ALTER TABLE ... SET SCHEMA`, no copy) and drops the old one. An incremental run stages its net
 * change (the delta tables) and its apply transaction patches the current mirror with it. Nothing
 * else writes a mirror, so mirror, cursor and directory always advance together.
 */
import { createInterface } from 'node:readline';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { SnapshotItem, SourceEdge, SourceProblem } from '../../connectors/types.js';
import { textFault } from '../pipeline/text.js';
import { startCopy, type CopyWriter } from './copy.js';

export const MIRROR_SCHEMA = 'dirsync_mirror';
/** Same schema and `r<run>_` prefix as the run's other stage tables: one cleanup drops them all. */
const STAGE_SCHEMA = 'dirsync_stage';

/**
 * An id as the mirror's key columns hold it. An id Postgres cannot store as text (NUL, a lone
 * surrogate that Node would turn into U+FFFD) would fail the mirror's COPY, and with it the whole
 * read, although the pipeline holds just that record (text.ts). Such ids, and ids that begin with
 * a double quote (so the mapping stays one-to-one), are kept as their JSON text; every other id is
 * kept as it is. Patches and reads compare encoded ids only.
 */
export function mirrorId(id: string): string {
  return id.startsWith('"') || textFault(id) !== null ? JSON.stringify(id) : id;
}

/** The id a key column of the mirror stands for (inverse of {@link mirrorId}). */
export function mirrorIdOf(stored: string): string {
  return stored.startsWith('"') ? (JSON.parse(stored) as string) : stored;
}

/** The tables of the mirror a run staged (before adoption) and its delta tables (incremental runs). */
export function mirrorStageTables(runId: number) {
  const t = (n: string) => `${STAGE_SCHEMA}.r${runId}_${n}`;
  return {
    objects: t('mo'),
    edges: t('me'),
    /** Delta: the final state of each user or group the feed touched (item NULL: removed), and
     *  problems without an id of their own (appended). */
    deltaObjects: t('xo'),
    /** Delta: users or groups removed, whose edges go (as member; groups also as parent). */
    deltaPurge: t('xp'),
    /** Delta: groups whose member list the feed re-read in full. */
    deltaResets: t('xr'),
    deltaEdgeRemovals: t('xd'),
    deltaEdgeAdditions: t('xa'),
  };
}

/** The tables of a current (adopted) mirror. */
export function mirrorTables(mirrorRunId: number) {
  return { objects: `${MIRROR_SCHEMA}.r${mirrorRunId}_mo`, edges: `${MIRROR_SCHEMA}.r${mirrorRunId}_me` };
}

/** What `directories` says about a connector's mirror and feed position. */
export interface MirrorState {
  mirrorRunId: number | null;
  cursor: string | null;
  stagedDigest: string | null;
  readFingerprint: string | null;
  lastFullAt: Date | null;
}

export async function mirrorState(db: pg.Pool | pg.PoolClient, connector: string): Promise<MirrorState> {
  const { rows } = await db.query<{
    mirror_run_id: string | null;
    cursor: unknown;
    staged_digest: string | null;
    read_fingerprint: string | null;
    last_full_at: Date | null;
  }>(
    `SELECT d.mirror_run_id, d.cursor, d.staged_digest, d.read_fingerprint, d.last_full_at
       FROM dirsync.directories d WHERE d.connector = $1`,
    [connector],
  );
  const r = rows[0];
  // A mirror whose tables are gone (restored database, manual cleanup) is no mirror.
  let mirrorRunId = r?.mirror_run_id ? Number(r.mirror_run_id) : null;
  if (mirrorRunId !== null) {
    const { rows: t } = await db.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [
      mirrorTables(mirrorRunId).edges,
    ]);
    if (!t[0]?.ok) mirrorRunId = null;
  }
  return {
    mirrorRunId,
    cursor: typeof r?.cursor === 'string' ? r.cursor : null,
    stagedDigest: r?.staged_digest ?? null,
    readFingerprint: r?.read_fingerprint ?? null,
    lastFullAt: r?.last_full_at ?? null,
  };
}

const OBJECT_COLUMNS = ['object_type', 'external_id', 'item'];
const EDGE_COLUMNS = ['group_id', 'member_is_group', 'member_id'];

/**
 * Creates a run's mirror tables. Logged, unlike the other stage tables: adopted, they are the
 * durable mirror, and an unlogged table would come back empty after a crash.
 */
export async function createMirrorStage(pool: pg.Pool, runId: number): Promise<void> {
  const t = mirrorStageTables(runId);
  await pool.query(`
    CREATE TABLE ${t.objects} (object_type text NOT NULL, external_id text, item text NOT NULL);
    CREATE TABLE ${t.edges} (group_id text NOT NULL, member_is_group boolean NOT NULL, member_id text NOT NULL);`);
}

/** Where a full read's raw items go: one COPY per table, each on its own connection. */
export interface MirrorSink {
  item(item: SnapshotItem): Promise<void> | void;
  end(): Promise<void>;
  abort(err: Error): Promise<void>;
}

const edgeRow = (e: SourceEdge) => [mirrorId(e.groupId), e.memberType === 'group', mirrorId(e.memberId)];

/** Where a raw item lives in the mirror: a user or group under its id, other problems apart. */
function objectRow(item: Exclude<SnapshotItem, SourceEdge>): [string, string | null, string] {
  if (item.kind === 'problem') {
    const keyed = item.externalId !== null && item.objectType !== 'edge';
    return [
      keyed ? item.objectType : 'problem',
      item.externalId === null ? null : mirrorId(item.externalId),
      JSON.stringify(item),
    ];
  }
  return [item.kind, mirrorId(item.externalId), JSON.stringify(item)];
}

export async function openMirrorSink(pool: pg.Pool, runId: number): Promise<MirrorSink> {
  const t = mirrorStageTables(runId);
  const clients = await Promise.all([pool.connect(), pool.connect()]);
  const [co, ce] = clients as [pg.PoolClient, pg.PoolClient];
  const objects = startCopy(co, t.objects, OBJECT_COLUMNS);
  const edges = startCopy(ce, t.edges, EDGE_COLUMNS);
  const writers: CopyWriter[] = [objects, edges];
  let released = false;
  const release = (destroy: boolean) => {
    if (released) return;
    released = true;
    for (const c of clients) c.release(destroy ? true : undefined);
  };
  return {
    item: (item) => (item.kind === 'edge' ? edges.write(edgeRow(item)) : objects.write(objectRow(item))),
    async end() {
      try {
        await Promise.all(writers.map((w) => w.end()));
        release(false);
      } catch (e) {
        release(true);
        throw e;
      }
      // Indexes for the patches and the reads of later incremental runs, and statistics: without
      // them the planner guesses, and a scoped read may scan a million edges instead of probing.
      await pool.query(`
        CREATE INDEX ON ${t.objects} (object_type, external_id);
        CREATE INDEX ON ${t.edges} (group_id, member_id);
        CREATE INDEX ON ${t.edges} (member_id);
        ANALYZE ${t.objects}; ANALYZE ${t.edges};`);
    },
    async abort(err) {
      for (const w of writers) w.abort(err);
      release(true);
    },
  };
}

/** The net change of a feed, as the store needs it (see pipeline/feed-delta.ts for the semantics). */
export interface MirrorPatch {
  /** Final state per user or group touched (null: removed). */
  objects: { objectType: 'user' | 'group'; externalId: string; item: SnapshotItem | null }[];
  /** Problems without a user or group id of their own: kept until the next full read. */
  problems: SourceProblem[];
  purge: { isGroup: boolean; id: string }[];
  resets: string[];
  edgeRemovals: SourceEdge[];
  edgeAdditions: SourceEdge[];
}

/** Stages a feed's net change in the run's delta tables (small: it grows with the change). */
export async function stageMirrorPatch(pool: pg.Pool, runId: number, p: MirrorPatch): Promise<void> {
  const t = mirrorStageTables(runId);
  await pool.query(`
    CREATE UNLOGGED TABLE ${t.deltaObjects} (object_type text NOT NULL, external_id text, item text);
    CREATE UNLOGGED TABLE ${t.deltaPurge} (is_group boolean NOT NULL, id text NOT NULL);
    CREATE UNLOGGED TABLE ${t.deltaResets} (group_id text NOT NULL);
    CREATE UNLOGGED TABLE ${t.deltaEdgeRemovals} (group_id text NOT NULL, member_is_group boolean NOT NULL, member_id text NOT NULL);
    CREATE UNLOGGED TABLE ${t.deltaEdgeAdditions} (group_id text NOT NULL, member_is_group boolean NOT NULL, member_id text NOT NULL);`);
  const client = await pool.connect();
  let ok = false;
  try {
    const load = async (table: string, columns: string[], rows: Iterable<unknown[]>) => {
      const w = startCopy(client, table, columns);
      for (const r of rows) {
        const pending = w.write(r);
        if (pending) await pending;
      }
      await w.end();
    };
    await load(
      t.deltaObjects,
      OBJECT_COLUMNS,
      (function* () {
        for (const o of p.objects)
          yield [o.objectType, mirrorId(o.externalId), o.item === null ? null : JSON.stringify(o.item)];
        for (const q of p.problems) yield objectRow(q);
      })(),
    );
    await load(
      t.deltaPurge,
      ['is_group', 'id'],
      p.purge.map((x) => [x.isGroup, mirrorId(x.id)]),
    );
    await load(
      t.deltaResets,
      ['group_id'],
      p.resets.map((g) => [mirrorId(g)]),
    );
    await load(t.deltaEdgeRemovals, EDGE_COLUMNS, p.edgeRemovals.map(edgeRow));
    await load(t.deltaEdgeAdditions, EDGE_COLUMNS, p.edgeAdditions.map(edgeRow));
    ok = true;
  } finally {
    client.release(ok ? undefined : true);
  }
  await pool.query(`
    CREATE INDEX ON ${t.deltaObjects} (object_type, external_id);
    ANALYZE ${t.deltaObjects}; ANALYZE ${t.deltaPurge}; ANALYZE ${t.deltaResets};
    ANALYZE ${t.deltaEdgeRemovals}; ANALYZE ${t.deltaEdgeAdditions};`);
}

/**
 * SQL: mirror edge `e` survives the run's delta (`x`): not reset, purged or removed (the patch,
 * the patched read and scope.ts's nesting holds agree on it).
 */
export function keptEdgesWhere(e: string, x: ReturnType<typeof mirrorStageTables>): string {
  return `NOT EXISTS (SELECT 1 FROM ${x.deltaResets} r WHERE r.group_id = ${e}.group_id)
      AND NOT EXISTS (SELECT 1 FROM ${x.deltaPurge} p WHERE p.is_group AND p.id = ${e}.group_id)
      AND NOT EXISTS (SELECT 1 FROM ${x.deltaPurge} p WHERE p.is_group = ${e}.member_is_group AND p.id = ${e}.member_id)
      AND NOT EXISTS (SELECT 1 FROM ${x.deltaEdgeRemovals} d
                       WHERE d.group_id = ${e}.group_id AND d.member_is_group = ${e}.member_is_group AND d.member_id = ${e}.member_id)`;
}

/** COPY text format: `\\`, `\n`, `\r`, `\t` escaped, `\N` is NULL. */
function decodeCopyField(s: string): string | null {
  if (s === '\\N') return null;
  if (!s.includes('\\')) return s;
  return s.replace(/\\(.)/g, (_, c: string) =>
    c === 'n'
      ? '\n'
      : c === 'r'
        ? '\r'
        : c === 't'
          ? '\t'
          : c === 'b'
            ? '\b'
            : c === 'f'
              ? '\f'
              : c === 'v'
                ? '\v'
                : c,
  );
}

/** A mirror edge row as `COPY TO` writes it (group, member is group, member), back to an edge. */
function edgeOfLine(line: string): SourceEdge {
  const [g, isGroup, member] = line.split('\t');
  return {
    kind: 'edge',
    groupId: mirrorIdOf(decodeCopyField(g as string) as string),
    memberType: isGroup === 't' ? 'group' : 'user',
    memberId: mirrorIdOf(decodeCopyField(member as string) as string),
  };
}

async function* copyLines(pool: pg.Pool, sql: string): AsyncGenerator<string> {
  const client = await pool.connect();
  let ok = false;
  try {
    const stream = client.query(copyTo(`COPY (${sql}) TO STDOUT`));
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    for await (const line of lines) yield line;
    ok = true;
  } finally {
    // A COPY left half-read leaves the connection mid-protocol: destroy it rather than reuse it.
    client.release(ok ? undefined : true);
  }
}

/**
 * The records of a mirror, patched with a run's delta when `deltaRunId` is given: exactly what a
 * full read of the IdP would yield now (the feed invariant of connectors/types.ts), in any order.
 */
export async function* readMirror(
  pool: pg.Pool,
  mirrorRunId: number,
  deltaRunId: number | null,
): AsyncGenerator<SnapshotItem> {
  const m = mirrorTables(mirrorRunId);
  const x = deltaRunId === null ? null : mirrorStageTables(deltaRunId);
  const objectsSql = x
    ? `SELECT o.item FROM ${m.objects} o
        WHERE o.object_type = 'problem'
           OR NOT EXISTS (SELECT 1 FROM ${x.deltaObjects} d WHERE d.object_type = o.object_type AND d.external_id = o.external_id)
       UNION ALL
       SELECT d.item FROM ${x.deltaObjects} d
        WHERE d.item IS NOT NULL
          AND (d.object_type <> 'problem' OR NOT EXISTS (SELECT 1 FROM ${m.objects} o WHERE o.object_type = 'problem' AND o.item = d.item))`
    : `SELECT item FROM ${m.objects}`;
  for await (const line of copyLines(pool, objectsSql)) {
    yield JSON.parse(decodeCopyField(line) as string) as SnapshotItem;
  }
  const edgesSql = x
    ? `WITH kept AS MATERIALIZED (SELECT e.group_id, e.member_is_group, e.member_id FROM ${m.edges} e WHERE ${keptEdgesWhere('e', x)})
       SELECT * FROM kept
       UNION ALL
       SELECT DISTINCT a.group_id, a.member_is_group, a.member_id FROM ${x.deltaEdgeAdditions} a
        WHERE NOT EXISTS (SELECT 1 FROM kept k WHERE k.group_id = a.group_id AND k.member_is_group = a.member_is_group AND k.member_id = a.member_id)`
    : `SELECT group_id, member_is_group, member_id FROM ${m.edges}`;
  for await (const line of copyLines(pool, edgesSql)) yield edgeOfLine(line);
}

/** The scope tables a scoped read selects by (pipeline/scope.ts); mirror-keyed ids in `mid`. */
export interface MirrorScope {
  users: string;
  groups: string;
  /** Groups whose whole member lists are in scope. */
  lists: string;
  pairs: string;
}

/**
 * The records of a mirror patched with a run's delta, restricted to a scope: the users and groups
 * in it, every edge of a user in it and of a group whose list is in it (the group's whole member
 * list, and the groups it is a member of), the single edges in it, and every problem without an
 * id of its own (they decide whether removals of a type are trusted). Each lookup goes through
 * the mirror's indexes, so the read costs what the scope holds.
 */
export async function* readScopedMirror(
  pool: pg.Pool,
  mirrorRunId: number,
  deltaRunId: number,
  s: MirrorScope,
): AsyncGenerator<SnapshotItem> {
  const m = mirrorTables(mirrorRunId);
  const x = mirrorStageTables(deltaRunId);
  const notInDelta = `NOT EXISTS (SELECT 1 FROM ${x.deltaObjects} d WHERE d.object_type = o.object_type AND d.external_id = o.external_id)`;
  const objectsSql = `
    SELECT o.item FROM ${s.users} su JOIN ${m.objects} o ON o.object_type = 'user' AND o.external_id = su.mid WHERE ${notInDelta}
    UNION ALL
    SELECT o.item FROM ${s.groups} sg JOIN ${m.objects} o ON o.object_type = 'group' AND o.external_id = sg.mid WHERE ${notInDelta}
    UNION ALL
    SELECT o.item FROM ${m.objects} o WHERE o.object_type = 'problem'
    UNION ALL
    SELECT d.item FROM ${x.deltaObjects} d
     WHERE d.item IS NOT NULL
       AND (d.object_type <> 'problem' OR NOT EXISTS (SELECT 1 FROM ${m.objects} o WHERE o.object_type = 'problem' AND o.item = d.item))`;
  for await (const line of copyLines(pool, objectsSql)) {
    yield JSON.parse(decodeCopyField(line) as string) as SnapshotItem;
  }
  // UNION (not ALL): an edge reached both through its group and through its member is read once.
  const edgesSql = `
    WITH scoped AS (
      SELECT e.group_id, e.member_is_group, e.member_id FROM ${s.lists} sg JOIN ${m.edges} e ON e.group_id = sg.mid
      UNION
      SELECT e.group_id, e.member_is_group, e.member_id FROM ${s.users} su JOIN ${m.edges} e ON e.member_id = su.mid AND NOT e.member_is_group
      UNION
      SELECT e.group_id, e.member_is_group, e.member_id FROM ${s.lists} sg JOIN ${m.edges} e ON e.member_id = sg.mid AND e.member_is_group
      UNION
      SELECT e.group_id, e.member_is_group, e.member_id FROM ${s.pairs} p
        JOIN ${m.edges} e ON e.group_id = p.group_mid AND e.member_id = p.member_mid AND e.member_is_group = p.member_is_group
    )
    SELECT e.group_id, e.member_is_group, e.member_id FROM scoped e WHERE ${keptEdgesWhere('e', x)}
    UNION
    -- The additions in scope: a re-read list of a group whose list is not in scope brings only
    -- the edges that changed (they are pairs).
    SELECT a.group_id, a.member_is_group, a.member_id FROM ${x.deltaEdgeAdditions} a
     WHERE EXISTS (SELECT 1 FROM ${s.lists} l WHERE l.mid = a.group_id)
        OR (a.member_is_group AND EXISTS (SELECT 1 FROM ${s.lists} l WHERE l.mid = a.member_id))
        OR (NOT a.member_is_group AND EXISTS (SELECT 1 FROM ${s.users} u WHERE u.mid = a.member_id))
        OR EXISTS (SELECT 1 FROM ${s.pairs} p WHERE p.group_mid = a.group_id
                    AND p.member_is_group = a.member_is_group AND p.member_mid = a.member_id)`;
  for await (const line of copyLines(pool, edgesSql)) yield edgeOfLine(line);
}

/** How an apply advances the mirror: adopt a full read's, patch with a feed's delta, or keep it. */
export type MirrorAdvance = 'adopt' | 'patch' | 'keep';

export interface AdvanceOptions {
  connector: string;
  runId: number;
  advance: MirrorAdvance;
  /** The feed position after this run's read (null: keep the stored one). */
  cursor: string | null;
  stagedDigest: string | null;
  readFingerprint: string | null;
}

/**
 * Advances mirror, cursor and digest of a connector. Only ever called inside the transaction that
 * applies the run's changes (or records an unchanged run), under the connector's apply lock.
 */
export async function advanceMirror(client: pg.PoolClient, o: AdvanceOptions): Promise<void> {
  const current = await mirrorState(client, o.connector);
  const s = mirrorStageTables(o.runId);
  if (o.advance === 'adopt') {
    if (current.mirrorRunId !== null && current.mirrorRunId !== o.runId) {
      const old = mirrorTables(current.mirrorRunId);
      await client.query(`DROP TABLE IF EXISTS ${old.objects}, ${old.edges}`);
    }
    await client.query(`ALTER TABLE ${s.objects} SET SCHEMA ${MIRROR_SCHEMA}`);
    await client.query(`ALTER TABLE ${s.edges} SET SCHEMA ${MIRROR_SCHEMA}`);
  } else if (o.advance === 'patch') {
    if (current.mirrorRunId === null) throw new Error(`${o.connector} has no mirror to patch`);
    const m = mirrorTables(current.mirrorRunId);
    await client.query(`
      DELETE FROM ${m.objects} o USING ${s.deltaObjects} d
       WHERE d.object_type <> 'problem' AND o.object_type = d.object_type AND o.external_id = d.external_id;
      INSERT INTO ${m.objects} (object_type, external_id, item)
      SELECT DISTINCT d.object_type, d.external_id, d.item FROM ${s.deltaObjects} d
       WHERE d.item IS NOT NULL
         AND (d.object_type <> 'problem' OR NOT EXISTS (SELECT 1 FROM ${m.objects} o WHERE o.object_type = 'problem' AND o.item = d.item));
      DELETE FROM ${m.edges} e USING ${s.deltaResets} r WHERE e.group_id = r.group_id;
      DELETE FROM ${m.edges} e USING ${s.deltaPurge} p WHERE p.is_group AND e.group_id = p.id;
      DELETE FROM ${m.edges} e USING ${s.deltaPurge} p WHERE p.is_group = e.member_is_group AND e.member_id = p.id;
      DELETE FROM ${m.edges} e USING ${s.deltaEdgeRemovals} d
       WHERE e.group_id = d.group_id AND e.member_is_group = d.member_is_group AND e.member_id = d.member_id;
      INSERT INTO ${m.edges} (group_id, member_is_group, member_id)
      SELECT DISTINCT a.group_id, a.member_is_group, a.member_id FROM ${s.deltaEdgeAdditions} a
       WHERE NOT EXISTS (SELECT 1 FROM ${m.edges} e
                          WHERE e.group_id = a.group_id AND e.member_is_group = a.member_is_group AND e.member_id = a.member_id);`);
  }
  await client.query(
    `UPDATE dirsync.directories
        SET mirror_run_id = CASE WHEN $2 = 'adopt' THEN $3::bigint ELSE mirror_run_id END,
            last_full_at = CASE WHEN $2 = 'adopt' THEN now() ELSE last_full_at END,
            read_fingerprint = CASE WHEN $2 = 'adopt' THEN $6 ELSE read_fingerprint END,
            cursor = CASE WHEN $2 = 'adopt' OR $4::text IS NOT NULL THEN to_jsonb($4::text) ELSE cursor END,
            staged_digest = coalesce($5, staged_digest)
      WHERE connector = $1`,
    [o.connector, o.advance, o.runId, o.cursor, o.stagedDigest, o.readFingerprint],
  );
}

/**
 * False when a run's staged delta would leave the mirror exactly as it is (a feed that re-read an
 * overlap window, or reported nothing). Set-based over the delta: it costs what the change costs.
 */
export async function deltaChangesMirror(
  db: pg.Pool | pg.PoolClient,
  mirrorRunId: number,
  runId: number,
): Promise<boolean> {
  const m = mirrorTables(mirrorRunId);
  const x = mirrorStageTables(runId);
  const { rows } = await db.query<{ changes: boolean }>(
    `SELECT
       EXISTS (SELECT 1 FROM ${x.deltaObjects} d
                WHERE d.object_type <> 'problem'
                  AND (SELECT count(*) FROM ${m.objects} o WHERE o.object_type = d.object_type AND o.external_id = d.external_id)
                      <> CASE WHEN d.item IS NULL THEN 0 ELSE 1 END
                   OR (d.item IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${m.objects} o
                        WHERE o.object_type = d.object_type AND o.external_id = d.external_id AND o.item = d.item)))
    OR EXISTS (SELECT 1 FROM ${x.deltaObjects} d
                WHERE d.object_type = 'problem'
                  AND NOT EXISTS (SELECT 1 FROM ${m.objects} o WHERE o.object_type = 'problem' AND o.item = d.item))
    OR EXISTS (SELECT 1 FROM ${m.edges} e JOIN ${x.deltaResets} r ON r.group_id = e.group_id
                WHERE NOT EXISTS (SELECT 1 FROM ${x.deltaEdgeAdditions} a
                                   WHERE a.group_id = e.group_id AND a.member_is_group = e.member_is_group AND a.member_id = e.member_id))
    OR EXISTS (SELECT 1 FROM ${m.edges} e JOIN ${x.deltaPurge} p ON p.is_group AND p.id = e.group_id)
    OR EXISTS (SELECT 1 FROM ${m.edges} e JOIN ${x.deltaPurge} p ON p.is_group = e.member_is_group AND p.id = e.member_id)
    OR EXISTS (SELECT 1 FROM ${m.edges} e JOIN ${x.deltaEdgeRemovals} d
                 ON d.group_id = e.group_id AND d.member_is_group = e.member_is_group AND d.member_id = e.member_id)
    OR EXISTS (SELECT 1 FROM ${x.deltaEdgeAdditions} a
                WHERE NOT EXISTS (SELECT 1 FROM ${m.edges} e
                                   WHERE e.group_id = a.group_id AND e.member_is_group = a.member_is_group AND e.member_id = a.member_id))
    AS changes`,
  );
  return rows[0]?.changes ?? true;
}
