/**
 * `/users/delta` and `/groups/delta`: an initial round pages through every object (groups with
 * `members@delta` when `members` is selected, split over several appearances of the same group when
 * it has many members) and ends in an `@odata.deltaLink`; calling that link returns what changed
 * since, including `@removed` objects and members. Tokens are opaque; `$deltatoken=latest` gives a
 * link to the current state without the objects; an unknown or evicted token answers 410 Gone
 * with a `Location` to start over, as Graph does when a token expired.
 * https://learn.microsoft.com/graph/delta-query-overview  https://learn.microsoft.com/graph/api/group-delta
 *
 * Less faithful on purpose: changes are found by diffing stored snapshots rather than a change log,
 * so an object changed and changed back between two rounds is not reported.
 */
import { randomBytes } from 'node:crypto';
import type { GraphRequestContext } from './graph.js';
import { memberKey, renderGroup, renderUser } from './graph.js';
import { GraphHttpError, ok, type GraphResponse } from './http.js';
import { graphId } from './ids.js';
import { GROUP_DEFAULT, GROUP_PROPS, USER_DEFAULT, USER_PROPS } from './model.js';
import { parseListQuery } from './odata.js';

type Kind = 'users' | 'groups';

interface DeltaState {
  kind: Kind;
  select: string[];
  withMembers: boolean;
  objects: Map<string, string>;
  members: Map<string, Set<string>>;
}

interface Round {
  items: Record<string, unknown>[];
  deltaToken: string;
}

/** Members per appearance of a group in `members@delta`. */
const MEMBERS_PER_ITEM = 100;
const DEFAULT_PAGE = 100;
/** States kept for delta tokens; older tokens expire (410). */
const MAX_STATES = 8;

const token = () => randomBytes(24).toString('base64url');

export class DeltaService {
  private readonly states = new Map<string, DeltaState>();
  private readonly rounds = new Map<string, Round>();

  handle(kind: Kind, query: URLSearchParams, ctx: GraphRequestContext): GraphResponse {
    const skip = query.get('$skiptoken');
    const dtoken = query.get('$deltatoken');
    const pageSize = this.pageSize(ctx);
    if (skip !== null) {
      const [key, offset] = skip.split('.');
      const round = this.rounds.get(key ?? '');
      if (!round)
        throw new GraphHttpError(400, 'Request_BadRequest', 'The skip token is invalid or has expired.');
      return this.serve(kind, ctx, key as string, round, Number(offset), pageSize);
    }
    if (dtoken !== null) {
      if (dtoken === 'latest') {
        const state = this.capture(kind, this.selectOf(kind, query), ctx);
        return ok({
          '@odata.context': `${ctx.base}/v1.0/$metadata#${kind}`,
          '@odata.deltaLink': `${ctx.base}/v1.0/${kind}/delta?$deltatoken=${this.save(state)}`,
          value: [],
        });
      }
      const old = this.states.get(dtoken);
      if (!old || old.kind !== kind) {
        throw new GraphHttpError(
          410,
          'syncStateNotFound',
          'The sync state is not found or has expired. Please start a new sync (resync).',
          {
            Location: `${ctx.base}/v1.0/${kind}/delta`,
          },
        );
      }
      const now = this.capture(kind, old.select, ctx, old.withMembers);
      const items = this.diff(old, now);
      return this.start(kind, ctx, items, now, pageSize);
    }
    const select = this.selectOf(kind, query);
    const state = this.capture(kind, select, ctx);
    const items: Record<string, unknown>[] = [];
    for (const [id, json] of state.objects) {
      const o = JSON.parse(json) as Record<string, unknown>;
      if (kind === 'groups' && state.withMembers) {
        const keys = [...(state.members.get(id) ?? [])];
        for (let i = 0; i === 0 || i < keys.length; i += MEMBERS_PER_ITEM) {
          items.push({ ...o, 'members@delta': keys.slice(i, i + MEMBERS_PER_ITEM).map((k) => memberRef(k)) });
        }
      } else items.push(o);
    }
    return this.start(kind, ctx, items, state, pageSize);
  }

  private pageSize(ctx: GraphRequestContext): number {
    const m = /odata\.maxpagesize=(\d+)/i.exec(ctx.headers.prefer ?? '');
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

  private capture(kind: Kind, select: string[], ctx: GraphRequestContext, withMembers?: boolean): DeltaState {
    const { store } = ctx;
    const members = new Map<string, Set<string>>();
    const objects = new Map<string, string>();
    const wm = withMembers ?? (kind === 'groups' && select.includes('members'));
    const props = select.filter((s) => s !== 'members');
    if (kind === 'users') {
      for (const u of store.org.users) {
        if (store.isListed(u)) objects.set(graphId(u.id), JSON.stringify(renderUser(store, u, props)));
      }
    } else {
      for (const g of store.org.groups) {
        const id = graphId(g.id);
        objects.set(id, JSON.stringify(renderGroup(store, g, props)));
        if (wm) members.set(id, new Set(store.members(g).map(memberKey)));
      }
    }
    return { kind, select, withMembers: wm, objects, members };
  }

  private diff(old: DeltaState, now: DeltaState): Record<string, unknown>[] {
    const items: Record<string, unknown>[] = [];
    for (const [id, json] of now.objects) {
      const before = old.objects.get(id);
      const delta: Record<string, unknown>[] = [];
      if (now.withMembers) {
        const was = old.members.get(id) ?? new Set<string>();
        const is = now.members.get(id) ?? new Set<string>();
        for (const k of is) if (!was.has(k)) delta.push(memberRef(k));
        for (const k of was)
          if (!is.has(k)) delta.push({ ...memberRef(k), '@removed': { reason: 'deleted' } });
      }
      if (before !== json || delta.length > 0) {
        const o = JSON.parse(json) as Record<string, unknown>;
        if (now.withMembers) o['members@delta'] = delta;
        items.push(o);
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
    while (this.states.size > MAX_STATES) this.states.delete(this.states.keys().next().value as string);
    return t;
  }

  private start(
    kind: Kind,
    ctx: GraphRequestContext,
    items: Record<string, unknown>[],
    state: DeltaState,
    pageSize: number,
  ) {
    const key = token();
    const round = { items, deltaToken: this.save(state) };
    this.rounds.set(key, round);
    while (this.rounds.size > MAX_STATES * 4) this.rounds.delete(this.rounds.keys().next().value as string);
    return this.serve(kind, ctx, key, round, 0, pageSize);
  }

  private serve(
    kind: Kind,
    ctx: GraphRequestContext,
    key: string,
    round: Round,
    offset: number,
    pageSize: number,
  ) {
    const value = round.items.slice(offset, offset + pageSize);
    const body: Record<string, unknown> = { '@odata.context': `${ctx.base}/v1.0/$metadata#${kind}` };
    if (offset + pageSize < round.items.length) {
      body['@odata.nextLink'] = `${ctx.base}/v1.0/${kind}/delta?$skiptoken=${key}.${offset + pageSize}`;
    } else {
      body['@odata.deltaLink'] = `${ctx.base}/v1.0/${kind}/delta?$deltatoken=${round.deltaToken}`;
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
