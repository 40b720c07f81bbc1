/**
 * Incremental synchronisation for the applications (`/event`, `/event/{token}`), built on the run
 * change log.
 *
 * A token names a point in the log: for each of the application's directories, the last applied run
 * (by finish order, which per connector is apply order: runs and approvals of one connector are
 * serialized by its run lock). Events since a token are the effects of the applied runs after it.
 * Rather than replaying each logged step (the names in the log are those of the moment), the events
 * restate the current state of everything those runs touched, read in the same snapshot as the new
 * token: a touched user or group that resolves now is UPDATED with its current fields, a name that
 * no longer resolves is DELETED, and each touched user's direct groups are sent as an `absolute`
 * membership list (plus DELETED for each logged removal that still holds, for clients that ignore
 * `absolute`). Replaying the events in order thus brings an application's cache to the directory.
 *
 * A token the log cannot answer (malformed, for other directories, its run gone from the log, or a
 * run after it whose change detail was pruned after `changeLog.retention`) gets Crowd's
 * EVENT_TOKEN_EXPIRED ("incremental synchronisation is not available"), and so does a window with
 * more touched entities than a full synchronisation would cost: the application then falls back to
 * a full sync.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { groupEntity, groupRef, userEntity, userRef, type Base } from './entities.js';
import { CrowdError } from './errors.js';
import { XML_DECL, escapeXml, toJson, xmlElement, type Format, type Node } from './format.js';
import { relationSql } from './lists.js';
import type { GroupRecord, Snapshot, UserRecord } from './store.js';

/** Above this many touched users and groups, a full synchronisation is cheaper: the token expires. */
export const MAX_EVENT_ENTITIES = 10_000;

const APPLIED = `status IN ('succeeded', 'approved') AND NOT dry_run`;

function directoriesTag(dirs: readonly string[]): string {
  return createHash('sha256').update(dirs.join('\0')).digest('hex').slice(0, 12);
}

/** The token of the snapshot's current position. */
export async function currentToken(s: Snapshot): Promise<string> {
  const { rows } = await s.query<{ ids: string[] }>(
    `SELECT array_agg(coalesce(last.id, 0)::text ORDER BY d.ord) AS ids
       FROM unnest($1::text[]) WITH ORDINALITY AS d(connector, ord)
       LEFT JOIN LATERAL (
         SELECT r.id FROM dirsync.runs r WHERE r.connector = d.connector AND r.${APPLIED}
          ORDER BY r.finished_at DESC, r.id DESC LIMIT 1) last ON true`,
  );
  return `${directoriesTag(s.dirs)}:${(rows[0]?.ids ?? []).join('-')}`;
}

function expired(message: string): CrowdError {
  return new CrowdError('EVENT_TOKEN_EXPIRED', `Incremental synchronisation is not available: ${message}`);
}

type QueryRows = <R extends pg.QueryResultRow>(q: pg.QueryConfig) => Promise<{ rows: R[] }>;

/**
 * The applied runs after a token (`$1` the directories); EVENT_TOKEN_EXPIRED when the log cannot
 * tell. One statement, so it is consistent on its own.
 */
async function runsAfter(query: QueryRows, dirs: readonly string[], token: string): Promise<string[]> {
  const m = /^([0-9a-f]{12}):(\d+(?:-\d+)*)$/.exec(token);
  if (!m) throw expired('the event token is not one this server issued');
  if (m[1] !== directoriesTag(dirs)) throw expired("the application's directories changed since the token");
  const ids = (m[2] as string).split('-');
  if (ids.length !== dirs.length) throw expired("the application's directories changed since the token");
  // Named: prepared once per connection, so a poll (every few seconds, per application) skips
  // parsing and planning.
  const { rows } = await query<{ ok: boolean; pruned: boolean | null; runs: string[] | null }>({
    name: 'crowd-runs-after',
    text: `SELECT bool_and(d.pos = '0' OR p.id IS NOT NULL) AS ok,
            bool_or(r.changes_pruned_at IS NOT NULL) AS pruned,
            array_agg(r.id::text) FILTER (WHERE r.id IS NOT NULL) AS runs
       FROM unnest($1::text[], $2::text[]) AS d(connector, pos)
       LEFT JOIN dirsync.runs p ON d.pos <> '0' AND p.id = d.pos::bigint AND p.connector = d.connector AND p.${APPLIED}
       LEFT JOIN LATERAL (
         SELECT x.id, x.changes_pruned_at FROM dirsync.runs x
          WHERE x.connector = d.connector AND x.${APPLIED}
            AND (d.pos = '0' OR (x.finished_at, x.id) > (p.finished_at, p.id))) r ON d.pos = '0' OR p.id IS NOT NULL`,
    values: [dirs, ids],
  });
  if (!rows[0]?.ok) throw expired('the change log no longer reaches back to the token');
  // A run after the token whose detail was pruned: its changes are unknown, so the events would
  // be incomplete. (The token's own run being pruned does not matter: only what came after it.)
  if (rows[0].pruned) {
    throw expired(
      'the change log no longer reaches back to the token (older changes are pruned after changeLog.retention)',
    );
  }
  return rows[0].runs ?? [];
}

interface Change {
  connector: string;
  object_type: 'user' | 'group' | 'membership';
  operation: string;
  external_id: string;
  label: string | null;
  member_type: 'user' | 'group' | null;
  member_ids: string[] | null;
  member_labels: string[] | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

export interface EventList {
  token: string;
  events: { type: 'userEvent' | 'groupEvent' | 'userMembershipEvent' | 'groupMembershipEvent'; node: Node }[];
}

/**
 * The poll that finds nothing new, in one statement without a transaction (an application polls
 * every few seconds): null when there is something new, and the answer is then `eventsSince`.
 * With no applied run after the token, the token is still the current position.
 */
export async function nothingSince(
  pool: pg.Pool,
  dirs: readonly string[],
  token: string,
): Promise<EventList | null> {
  const runs = await runsAfter((q) => pool.query(q), dirs, token);
  return runs.length === 0 ? { token, events: [] } : null;
}

const key = (connector: string, id: string) => `${connector}\0${id}`;

/** The events since `token`, and the token to ask with next time, from one snapshot. */
export async function eventsSince(s: Snapshot, base: Base, token: string): Promise<EventList> {
  const runs = await runsAfter((q) => s.client.query(q), s.dirs, token);
  const next = await currentToken(s);
  if (runs.length === 0) return { token: next, events: [] };

  const { rows: changes } = await s.client.query<Change>(
    `SELECT r.connector, c.object_type, c.operation, c.external_id, c.label, c.member_type, c.member_ids,
            c.member_labels, c.before, c.after
       FROM dirsync.run_changes c JOIN dirsync.runs r ON r.id = c.run_id
      WHERE c.run_id = ANY($1::bigint[]) ORDER BY r.finished_at, c.run_id, c.seq`,
    [runs],
  );

  const userIds = new Set<string>();
  const groupIds = new Set<string>();
  const userNames = new Set<string>();
  const groupNames = new Set<string>();
  const renamedGroups = new Set<string>();
  const removedUserPairs: [string, string][] = [];
  const removedGroupPairs: [string, string][] = [];
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  for (const c of changes) {
    if (c.object_type === 'user') {
      userIds.add(key(c.connector, c.external_id));
      for (const n of [c.label, str(c.before?.username), str(c.after?.username)]) if (n) userNames.add(n);
    } else if (c.object_type === 'group') {
      groupIds.add(key(c.connector, c.external_id));
      for (const n of [c.label, str(c.before?.name), str(c.after?.name)]) if (n) groupNames.add(n);
      if (c.operation === 'update' && str(c.before?.name)) renamedGroups.add(key(c.connector, c.external_id));
    } else {
      const members = c.member_ids ?? [];
      const target = c.member_type === 'group' ? groupIds : userIds;
      groupIds.add(key(c.connector, c.external_id));
      for (const id of members) target.add(key(c.connector, id));
      if (c.operation === 'remove' && c.label) {
        for (const label of c.member_labels ?? []) {
          (c.member_type === 'group' ? removedGroupPairs : removedUserPairs).push([label, c.label]);
        }
      }
    }
    if (userIds.size + groupIds.size > MAX_EVENT_ENTITIES) {
      throw expired(
        `more than ${MAX_EVENT_ENTITIES} users and groups changed; a full synchronisation is faster`,
      );
    }
  }

  const split = (set: Set<string>) => {
    const connectors: string[] = [];
    const ids: string[] = [];
    for (const k of set) {
      const [c, id] = k.split('\0') as [string, string];
      connectors.push(c);
      ids.push(id);
    }
    return [connectors, ids];
  };
  // The touched users and groups as they are now (those still in the directory).
  const [uc, ui] = split(userIds);
  const { rows: nowUsers } = await s.client.query<{ username: string }>(
    `SELECT u.username FROM unnest($1::text[], $2::text[]) AS k(connector, external_id)
       JOIN dirsync.users u ON u.connector = k.connector AND u.external_id = k.external_id`,
    [uc, ui],
  );
  const [gc, gi] = split(groupIds);
  const { rows: nowGroups } = await s.client.query<{ id: string; name: string; renamed: boolean }>(
    `SELECT g.id, g.name, (k.connector || '/' || k.external_id) = ANY($3::text[]) AS renamed
       FROM unnest($1::text[], $2::text[]) AS k(connector, external_id)
       JOIN dirsync.groups g ON g.connector = k.connector AND g.external_id = k.external_id`,
    [gc, gi, [...renamedGroups].map((k) => k.replace('\0', '/'))],
  );
  for (const u of nowUsers) userNames.add(u.username);
  for (const g of nowGroups) groupNames.add(g.name);
  // A renamed group's members must learn its new name.
  const renamedIds = nowGroups.filter((g) => g.renamed).map((g) => g.id);
  if (renamedIds.length > 0) {
    const { rows } = await s.client.query<{ username: string }>(
      `SELECT u.username FROM dirsync.group_members m JOIN dirsync.users u ON u.id = m.user_id
        WHERE m.group_id = ANY($1::bigint[]) LIMIT ${MAX_EVENT_ENTITIES + 1}`,
      [renamedIds],
    );
    for (const u of rows) userNames.add(u.username);
    if (userNames.size + groupNames.size > MAX_EVENT_ENTITIES) {
      throw expired(
        `more than ${MAX_EVENT_ENTITIES} users and groups changed; a full synchronisation is faster`,
      );
    }
  }

  const out: EventList['events'] = [];
  const deleted: EventList['events'] = [];
  const resolvedUsers = new Map<string, UserRecord>();
  const resolvedGroups = new Map<string, GroupRecord>();
  for (const name of dedupe(groupNames)) {
    const g = await s.findGroup(name);
    if (g) resolvedGroups.set(g.name.toLowerCase(), g);
    else deleted.push({ type: 'groupEvent', node: { operation: 'DELETED', group: groupRef(base, name) } });
  }
  for (const name of dedupe(userNames)) {
    const u = await s.findUser(name);
    if (u) resolvedUsers.set(u.username.toLowerCase(), u);
    else deleted.push({ type: 'userEvent', node: { operation: 'DELETED', user: userRef(base, name) } });
  }
  out.push(...deleted);
  for (const g of resolvedGroups.values()) {
    out.push({ type: 'groupEvent', node: { operation: 'UPDATED', group: groupEntity(base, g, false) } });
  }
  for (const u of resolvedUsers.values()) {
    out.push({ type: 'userEvent', node: { operation: 'UPDATED', user: userEntity(base, u, false) } });
  }

  // Memberships: each touched user's direct groups, as a whole.
  const groupsOf = new Map<string, Set<string>>();
  for (const u of resolvedUsers.values()) {
    const { rows } = await s.query<GroupRecord>(relationSql('user-groups-direct', s.dirs, null), [u.id]);
    groupsOf.set(u.username.toLowerCase(), new Set(rows.map((g) => g.name.toLowerCase())));
    out.push({
      type: 'userMembershipEvent',
      node: {
        '@absolute': true,
        operation: 'CREATED',
        childUser: userRef(base, u.username),
        parentGroups: { group: rows.map((g) => groupRef(base, g.name)) },
      },
    });
  }
  for (const [user, group] of removedUserPairs) {
    const now = groupsOf.get(user.toLowerCase());
    if (now && !now.has(group.toLowerCase())) {
      out.push({
        type: 'userMembershipEvent',
        node: {
          operation: 'DELETED',
          childUser: userRef(base, resolvedUsers.get(user.toLowerCase())?.username ?? user),
          parentGroups: { group: [groupRef(base, group)] },
        },
      });
    }
  }
  // Nesting: each touched group's parents and children, as "child is in parents" events.
  const parentsOf = new Map<string, Set<string>>();
  for (const g of resolvedGroups.values()) {
    const { rows: parents } = await s.query<GroupRecord>(relationSql('group-parents-direct', s.dirs, null), [
      g.id,
    ]);
    parentsOf.set(g.name.toLowerCase(), new Set(parents.map((p) => p.name.toLowerCase())));
    if (parents.length > 0) {
      out.push({
        type: 'groupMembershipEvent',
        node: {
          operation: 'CREATED',
          group: groupRef(base, g.name),
          parentGroups: { group: parents.map((p) => groupRef(base, p.name)) },
          childGroups: {},
        },
      });
    }
    const { rows: children } = await s.query<GroupRecord>(
      relationSql('group-children-direct', s.dirs, null),
      [g.id],
    );
    for (const c of children) {
      out.push({
        type: 'groupMembershipEvent',
        node: {
          operation: 'CREATED',
          group: groupRef(base, c.name),
          parentGroups: { group: [groupRef(base, g.name)] },
          childGroups: {},
        },
      });
    }
  }
  for (const [child, parent] of removedGroupPairs) {
    const now = parentsOf.get(child.toLowerCase());
    if (now && !now.has(parent.toLowerCase())) {
      out.push({
        type: 'groupMembershipEvent',
        node: {
          operation: 'DELETED',
          group: groupRef(base, child),
          parentGroups: { group: [groupRef(base, parent)] },
          childGroups: {},
        },
      });
    }
  }
  return { token: next, events: out };
}

function dedupe(names: Set<string>): string[] {
  const seen = new Map<string, string>();
  for (const n of names) if (!seen.has(n.toLowerCase())) seen.set(n.toLowerCase(), n);
  return [...seen.values()];
}

/** The `<events>` document (JSON: `{newEventToken, incrementalSynchronisationAvailable, events}`). */
export function renderEvents(format: Format, list: EventList): string {
  if (format === 'json') {
    return JSON.stringify({
      newEventToken: list.token,
      incrementalSynchronisationAvailable: true,
      events: list.events.map((e) => ({ type: e.type, ...(toJson(e.node) as object) })),
    });
  }
  const head = `<events newEventToken="${escapeXml(list.token)}" incrementalSynchronisationAvailable="true">`;
  return `${XML_DECL}${head}${list.events.map((e) => xmlElement(e.type, e.node)).join('')}</events>`;
}
