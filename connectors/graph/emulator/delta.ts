/**
 * `/users/delta` and `/groups/delta`: an initial round pages through every object (groups with
 * `members@delta` when `members` is selected, left out for a group without members, and split over
 * several appearances of the same group when it has many) and ends in an `@odata.deltaLink`;
 * calling that link returns what changed since, with every selected property of a changed object,
 * `@removed` objects (reason `changed`: Entra ID soft-deletes first) and `@removed` members
 * (reason `deleted`). As in Graph, only changes to selected properties (and, with `members`
 * selected, to the member list) bring an object back.
 * https://learn.microsoft.com/graph/delta-query-overview  https://learn.microsoft.com/graph/delta-query-groups
 *
 * Changes come from the store's change log (changes.ts), so a round costs what changed, not the
 * directory. A token names a store version and the round's `$select` (delta-token.ts). Tokens may
 * be replayed: Graph documents a token as naming the state of its round and warns that the same
 * change may come again; here a replayed token returns every change since its version against the
 * current state, so any consumer that applies it ends in the current state. An object changed and
 * changed back is reported (the log has the change), as Graph's own change tracking would.
 * `$deltatoken=latest` gives a link to the current version without the objects. A token whose
 * changes the log no longer holds (dropped past its retention, or the admin API expired them all)
 * answers 410 Gone `resyncRequired` with a `Location` to start over, as Graph does for a reset or
 * an expired token; a token never issued answers 410 `syncStateNotFound`.
 */
import { randomBytes } from 'node:crypto';
import { changedSince, currentItems, refsOf, renderItem, type RoundItem } from './delta-items.js';
import { DeltaTokens, type DeltaKind } from './delta-token.js';
import { GraphHttpError, ok, type GraphResponse } from './http.js';
import { GROUP_DEFAULT, GROUP_PROPS, USER_DEFAULT, USER_PROPS } from './model.js';
import { parseListQuery } from './odata.js';
import type { GraphStore } from './store.js';

/** What a delta request needs from the HTTP layer. */
export interface DeltaRequest {
  /** `https://127.0.0.1:PORT` */
  base: string;
  /** Lower-case request headers. */
  headers: Record<string, string | undefined>;
}

interface Round {
  items: RoundItem[];
  /** Selected properties without `members`. */
  props: readonly string[];
  deltaToken: string;
}

/**
 * A page ends once it carries this many member references, whatever the page size asked: Graph's
 * group delta pages are far smaller than 999 groups with all their members (a 100k-user tenant
 * takes thousands of sequential delta pages; see shared/notes/idp-facts.md).
 */
const MEMBER_REFS_PER_PAGE = 400;
const DEFAULT_PAGE = 100;
/** Rounds being paged; an older one's nextLink answers 410 (an initial round holds every member list). */
const MAX_ROUNDS = 32;

export class DeltaService {
  private readonly rounds = new Map<string, Round>();
  private readonly tokens = new DeltaTokens();

  constructor(private readonly store: GraphStore) {}

  /** Expires every token issued so far (the admin API's stand-in for Graph's token lifetime). */
  expireAll(): void {
    this.store.changes.expireAll();
    this.rounds.clear();
  }

  handle(kind: DeltaKind, query: URLSearchParams, req: DeltaRequest): GraphResponse {
    const skip = query.get('$skiptoken');
    const dtoken = query.get('$deltatoken');
    const pageSize = this.pageSize(req);
    const log = this.store.changes;
    if (skip !== null) {
      const [key, offset] = skip.split('.');
      const round = this.rounds.get(key ?? '');
      if (!round) throw this.gone(kind, req, 'resyncRequired');
      return this.serve(kind, req, key as string, round, Number(offset), pageSize);
    }
    if (dtoken === 'latest') {
      const select = this.selectOf(kind, query);
      return ok({
        '@odata.context': `${req.base}/v1.0/$metadata#${kind}`,
        '@odata.deltaLink': this.deltaLink(kind, req, log.version, select),
        value: [],
      });
    }
    if (dtoken !== null) {
      const t = this.tokens.read(dtoken);
      if (!t) throw this.gone(kind, req, 'syncStateNotFound');
      if (!log.covers(t.version)) throw this.gone(kind, req, 'resyncRequired');
      if (t.kind !== kind) throw this.gone(kind, req, 'syncStateNotFound');
      const { props, withMembers } = this.split(kind, t.select);
      const items = changedSince(this.store, log, kind, t.version, props, withMembers);
      return this.start(
        kind,
        req,
        { items, props, deltaToken: this.token(kind, log.version, t.select) },
        pageSize,
      );
    }
    const select = this.selectOf(kind, query);
    const { props, withMembers } = this.split(kind, select);
    const items = currentItems(this.store, kind, withMembers);
    return this.start(
      kind,
      req,
      { items, props, deltaToken: this.token(kind, log.version, select) },
      pageSize,
    );
  }

  private token(kind: DeltaKind, version: number, select: readonly string[]): string {
    return this.tokens.issue({ kind, version, select });
  }

  private deltaLink(kind: DeltaKind, req: DeltaRequest, version: number, select: readonly string[]) {
    return `${req.base}/v1.0/${kind}/delta?$deltatoken=${this.token(kind, version, select)}`;
  }

  private split(kind: DeltaKind, select: readonly string[]) {
    return {
      props: select.filter((s) => s !== 'members'),
      withMembers: kind === 'groups' && select.includes('members'),
    };
  }

  private gone(kind: DeltaKind, req: DeltaRequest, code: 'resyncRequired' | 'syncStateNotFound') {
    return new GraphHttpError(
      410,
      code,
      code === 'resyncRequired'
        ? 'Resync required. Replace any local cached copies of the objects with new data from a full delta round.'
        : 'The sync state is not found or has expired. Please start a new sync (resync).',
      { Location: `${req.base}/v1.0/${kind}/delta` },
    );
  }

  private pageSize(req: DeltaRequest): number {
    const m = /odata\.maxpagesize=(\d+)/i.exec(req.headers.prefer ?? '');
    const n = m ? Number(m[1]) : DEFAULT_PAGE;
    return Math.max(1, Math.min(999, n));
  }

  private selectOf(kind: DeltaKind, query: URLSearchParams): string[] {
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

  private start(kind: DeltaKind, req: DeltaRequest, round: Round, pageSize: number) {
    const key = randomBytes(24).toString('base64url');
    this.rounds.set(key, round);
    while (this.rounds.size > MAX_ROUNDS) this.rounds.delete(this.rounds.keys().next().value as string);
    return this.serve(kind, req, key, round, 0, pageSize);
  }

  private serve(
    kind: DeltaKind,
    req: DeltaRequest,
    key: string,
    round: Round,
    offset: number,
    pageSize: number,
  ) {
    let end = offset;
    let refs = 0;
    while (
      end < round.items.length &&
      end - offset < pageSize &&
      (end === offset || refs < MEMBER_REFS_PER_PAGE)
    ) {
      refs += refsOf(round.items[end] as RoundItem);
      end++;
    }
    const value = round.items.slice(offset, end).map((item) => renderItem(this.store, item, round.props));
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
