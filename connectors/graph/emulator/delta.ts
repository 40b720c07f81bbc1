/**
 * `/users/delta` and `/groups/delta`: an initial round pages through every object (groups with
 * `members@delta` when `members` is selected, left out for a group without members, and split over
 * several appearances of the same group when it has many, those appearances spread over the round
 * as Graph warns they may be) and ends in an `@odata.deltaLink`; calling that link returns what
 * changed since, with every selected property of a changed object, `@removed` objects
 * (reason `changed`: Entra ID soft-deletes first) and `@removed` members (reason `deleted`).
 * Tokens are opaque and may be replayed (each names a stored state); `$deltatoken=latest` gives a
 * link to the current state without the objects. A token whose state was evicted (too many newer
 * ones, or the admin API expired them all) answers 410 Gone `resyncRequired` with a `Location` to
 * start over, as Graph does when a token expired; a token never issued answers 410
 * `syncStateNotFound`.
 * https://learn.microsoft.com/graph/delta-query-overview  https://learn.microsoft.com/graph/delta-query-groups
 *
 * Less faithful on purpose: changes are found by diffing stored snapshots rather than a change log,
 * so an object changed and changed back between two rounds is not reported (which leaves any
 * consumer with the same end state). The service depends on the store only: every mutation, by
 * whatever path, is seen.
 */
import { randomBytes } from 'node:crypto';
import { GraphHttpError, ok, type GraphResponse } from './http.js';
import { graphId } from './ids.js';
import { GROUP_DEFAULT, GROUP_PROPS, USER_DEFAULT, USER_PROPS } from './model.js';
import { parseListQuery } from './odata.js';
import { memberKey, renderGroup, renderUser } from './render.js';
import type { GraphStore } from './store.js';

type Kind = 'users' | 'groups';

/** What a delta request needs from the HTTP layer. */
export interface DeltaRequest {
  /** `https://127.0.0.1:PORT` */
  base: string;
  /** Lower-case request headers. */
  headers: Record<string, string | undefined>;
}

interface DeltaState {
  kind: Kind;
  select: string[];
  withMembers: boolean;
  /** Object id → rendered JSON (strings of unchanged objects are shared with the previous state). */
  objects: Map<string, string>;
  /** Group id → its member keys joined by `,` (absent: no members). */
  members: Map<string, string>;
}

interface Round {
  items: Record<string, unknown>[];
  deltaToken: string;
}

/** Members per appearance of a group in `members@delta`. */
const MEMBERS_PER_ITEM = 100;
/**
 * A page ends once it carries this many member references, whatever the page size asked: Graph's
 * group delta pages are far smaller than 999 groups with all their members (a 100k-user tenant
 * takes thousands of sequential delta pages; see shared/notes/idp-facts.md).
 */
const MEMBER_REFS_PER_PAGE = 400;
const DEFAULT_PAGE = 100;
/** States kept for delta tokens; older tokens expire (410). */
const MAX_STATES = 32;

const token = () => randomBytes(24).toString('base64url');

export class DeltaService {
  private readonly states = new Map<string, DeltaState>();
  private readonly rounds = new Map<string, Round>();
  /** Tokens once issued and since evicted: they answer `resyncRequired`. */
  private readonly expired = new Set<string>();
  /** The newest state per kind+select, whose strings a new capture reuses. */
  private readonly latest = new Map<string, DeltaState>();

  constructor(private readonly store: GraphStore) {}

  /** Expires every token issued so far (the admin API's stand-in for Graph's token lifetime). */
  expireAll(): void {
    for (const t of this.states.keys()) this.expired.add(t);
    this.states.clear();
    this.rounds.clear();
  }

  handle(kind: Kind, query: URLSearchParams, req: DeltaRequest): GraphResponse {
    const skip = query.get('$skiptoken');
    const dtoken = query.get('$deltatoken');
    const pageSize = this.pageSize(req);
    if (skip !== null) {
      const [key, offset] = skip.split('.');
      const round = this.rounds.get(key ?? '');
      if (!round) throw this.gone(kind, req, 'resyncRequired');
      return this.serve(kind, req, key as string, round, Number(offset), pageSize);
    }
    if (dtoken !== null) {
      if (dtoken === 'latest') {
        const state = this.capture(kind, this.selectOf(kind, query));
        return ok({
          '@odata.context': `${req.base}/v1.0/$metadata#${kind}`,
          '@odata.deltaLink': `${req.base}/v1.0/${kind}/delta?$deltatoken=${this.save(state)}`,
          value: [],
        });
      }
      const old = this.states.get(dtoken);
      if (!old || old.kind !== kind) {
        throw this.gone(kind, req, this.expired.has(dtoken) ? 'resyncRequired' : 'syncStateNotFound');
      }
      const now = this.capture(kind, old.select, old.withMembers);
      return this.start(kind, req, this.diff(old, now), now, pageSize);
    }
    const state = this.capture(kind, this.selectOf(kind, query));
    const items: Record<string, unknown>[] = [];
    for (const [id, json] of state.objects) {
      const o = JSON.parse(json) as Record<string, unknown>;
      const keys = state.members.get(id);
      items.push(o);
      if (keys !== undefined) this.spread(items, o, keys.split(',').map(memberRef));
    }
    return this.start(kind, req, items, state, pageSize);
  }

  private gone(kind: Kind, req: DeltaRequest, code: 'resyncRequired' | 'syncStateNotFound') {
    return new GraphHttpError(
      410,
      code,
      code === 'resyncRequired'
        ? 'Resync required. Replace any local cached copies of the objects with new data from a full delta round.'
        : 'The sync state is not found or has expired. Please start a new sync (resync).',
      { Location: `${req.base}/v1.0/${kind}/delta` },
    );
  }

  /**
   * Puts the first chunk of `members` on `head` (already in `items`) and the rest on copies of it
   * appended to the round, so one group's member list arrives over several appearances.
   */
  private spread(items: Record<string, unknown>[], head: Record<string, unknown>, members: unknown[]): void {
    if (members.length === 0) return;
    head['members@delta'] = members.slice(0, MEMBERS_PER_ITEM);
    const { 'members@delta': _, ...props } = head;
    for (let i = MEMBERS_PER_ITEM; i < members.length; i += MEMBERS_PER_ITEM) {
      items.push({ ...props, 'members@delta': members.slice(i, i + MEMBERS_PER_ITEM) });
    }
  }

  private pageSize(req: DeltaRequest): number {
    const m = /odata\.maxpagesize=(\d+)/i.exec(req.headers.prefer ?? '');
    const n = m ? Number(m[1]) : DEFAULT_PAGE;
    return Math.max(1, Math.min(999, n));
  }

  private selectOf(kind: Kind, query: URLSearchParams): string[] {
    const selectable = new Set([...Object.keys(kind === 'users' ? USER_PROPS : GROUP_PROPS), 'members']);
    const q = parseListQuery(query, kind === 'users' ? 'user' : 'group', selectable, new Set());
    if (q.filter !== null) {
      throw new GraphHttpError(
        400,
        'Request_UnsupportedQuery',
        '$filter is not supported on delta in this emulator.',
      );
    }
    return q.select ?? (kind === 'users' ? USER_DEFAULT : [...GROUP_DEFAULT]);
  }

  private capture(kind: Kind, select: string[], withMembers?: boolean): DeltaState {
    const { store } = this;
    const members = new Map<string, string>();
    const objects = new Map<string, string>();
    const wm = withMembers ?? (kind === 'groups' && select.includes('members'));
    const props = select.filter((s) => s !== 'members');
    const latestKey = `${kind}|${wm}|${props.join(',')}`;
    const prev = this.latest.get(latestKey);
    // Reusing the previous state's string for an unchanged object keeps many tokens affordable.
    const keep = (id: string, json: string) => {
      const was = prev?.objects.get(id);
      objects.set(id, was === json ? was : json);
    };
    if (kind === 'users') {
      for (const u of store.org.users) {
        if (store.isListed(u)) keep(graphId(u.id), JSON.stringify(renderUser(store, u, props)));
      }
    } else {
      const children = wm ? store.childIndex() : undefined;
      for (const g of store.org.groups) {
        const id = graphId(g.id);
        keep(id, JSON.stringify(renderGroup(store, g, props)));
        if (wm) {
          const list = store.members(g, children).map(memberKey).join(',');
          if (list !== '') {
            const was = prev?.members.get(id);
            members.set(id, was === list ? was : list);
          }
        }
      }
    }
    const state = { kind, select, withMembers: wm, objects, members };
    this.latest.set(latestKey, state);
    return state;
  }

  private diff(old: DeltaState, now: DeltaState): Record<string, unknown>[] {
    const items: Record<string, unknown>[] = [];
    for (const [id, json] of now.objects) {
      const before = old.objects.get(id);
      const delta: Record<string, unknown>[] = [];
      const was = old.members.get(id) ?? '';
      const is = now.members.get(id) ?? '';
      if (now.withMembers && was !== is) {
        const wasSet = new Set(was === '' ? [] : was.split(','));
        const isSet = new Set(is === '' ? [] : is.split(','));
        for (const k of isSet) if (!wasSet.has(k)) delta.push(memberRef(k));
        for (const k of wasSet)
          if (!isSet.has(k)) delta.push({ ...memberRef(k), '@removed': { reason: 'deleted' } });
      }
      if (before !== json || delta.length > 0) {
        const o = JSON.parse(json) as Record<string, unknown>;
        items.push(o);
        this.spread(items, o, delta);
      }
    }
    // Deleted users and groups are soft-deleted first: Graph reports them as removed, reason "changed".
    for (const id of old.objects.keys())
      if (!now.objects.has(id)) items.push({ id, '@removed': { reason: 'changed' } });
    return items;
  }

  private save(state: DeltaState): string {
    const t = token();
    this.states.set(t, state);
    while (this.states.size > MAX_STATES) {
      const oldest = this.states.keys().next().value as string;
      this.states.delete(oldest);
      this.expired.add(oldest);
    }
    return t;
  }

  private start(
    kind: Kind,
    req: DeltaRequest,
    items: Record<string, unknown>[],
    state: DeltaState,
    pageSize: number,
  ) {
    const key = token();
    const round = { items, deltaToken: this.save(state) };
    this.rounds.set(key, round);
    while (this.rounds.size > MAX_STATES * 4) this.rounds.delete(this.rounds.keys().next().value as string);
    return this.serve(kind, req, key, round, 0, pageSize);
  }

  private serve(kind: Kind, req: DeltaRequest, key: string, round: Round, offset: number, pageSize: number) {
    let end = offset;
    let refs = 0;
    while (
      end < round.items.length &&
      end - offset < pageSize &&
      (end === offset || refs < MEMBER_REFS_PER_PAGE)
    ) {
      const m = round.items[end]?.['members@delta'];
      refs += Array.isArray(m) ? m.length : 0;
      end++;
    }
    const value = round.items.slice(offset, end);
    const body: Record<string, unknown> = { '@odata.context': `${req.base}/v1.0/$metadata#${kind}` };
    if (end < round.items.length) {
      body['@odata.nextLink'] = `${req.base}/v1.0/${kind}/delta?$skiptoken=${key}.${end}`;
    } else {
      body['@odata.deltaLink'] = `${req.base}/v1.0/${kind}/delta?$deltatoken=${round.deltaToken}`;
      this.rounds.delete(key);
    }
    body.value = value;
    return ok(body);
  }
}

function memberRef(key: string): Record<string, unknown> {
  const [type, id] = key.split('|');
  return { '@odata.type': `#microsoft.graph.${type}`, id };
}
