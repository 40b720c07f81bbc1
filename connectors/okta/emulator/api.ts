/**
 * The list endpoints of the management API as Okta serves them: bare JSON arrays, cursor paging
 * with absolute `Link: <...?after=...&limit=...>; rel="next"` (plus `rel="self"`), Okta's page-size
 * defaults and caps, DEPROVISIONED users hidden unless `filter`/`search` is used, and the `filter`
 * attribute/operator limits. A full page always carries a next link, even when nothing follows (the
 * client then reads one empty page), as Okta's cursors do not look ahead.
 * https://developer.okta.com/docs/api/#pagination
 */
import type { Org, OrgUser } from '../../emulator-kit/org.js';
import { checkFilter, evalExpr, ExprError, parseExpr, type Expr } from './expr.js';
import { AD_APP_ID, everyoneGroup, EVERYONE_ID, renderGroup, renderUser, type Stamps } from './render.js';

export interface ListResult {
  status: number;
  body: unknown;
  headers: Record<string, string>;
  error?: { code: string; summary: string; causes?: string[] };
}

const USER_FILTER: Record<string, readonly string[]> = {
  status: ['eq'],
  id: ['eq'],
  'profile.login': ['eq'],
  'profile.email': ['eq'],
  'profile.firstName': ['eq'],
  'profile.lastName': ['eq'],
  lastUpdated: ['eq', 'gt', 'ge', 'lt', 'le'],
};
const GROUP_FILTER: Record<string, readonly string[]> = {
  id: ['eq'],
  type: ['eq'],
  lastUpdated: ['eq', 'gt', 'ge', 'lt', 'le'],
  lastMembershipUpdated: ['eq', 'gt', 'ge', 'lt', 'le'],
};

/** Sorted views of the org, rebuilt when its arrays change (mutate.ts replaces or grows them). */
export class OrgIndex {
  private usersRef: OrgUser[] | null = null;
  private usersLen = -1;
  sortedUsers: OrgUser[] = [];
  byId = new Map<string, OrgUser>();

  constructor(private readonly org: Org) {}

  refresh(): void {
    if (this.usersRef === this.org.users && this.usersLen === this.org.users.length) return;
    this.usersRef = this.org.users;
    this.usersLen = this.org.users.length;
    this.sortedUsers = [...this.org.users].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.byId = new Map(this.sortedUsers.map((u) => [u.id, u]));
  }
}

/** First index whose id is greater than `after`. */
function startAfter<T extends { id: string }>(sorted: T[], after: string | null): number {
  if (after === null) return 0;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as T).id <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function parseLimit(q: URLSearchParams, def: number, max: number): number | null {
  const raw = q.get('limit');
  if (raw === null || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) return null;
  return Math.min(n, max);
}

function links(base: string, path: string, q: URLSearchParams, next: string | null, limit: number): string {
  const self = `<${base}${path}${q.toString() ? `?${q}` : ''}>; rel="self"`;
  if (next === null) return self;
  const nq = new URLSearchParams(q);
  nq.delete('after');
  nq.delete('limit');
  const params = new URLSearchParams({ after: next, limit: String(limit) });
  for (const [k, v] of nq) params.append(k, v);
  return `${self}, <${base}${path}?${params}>; rel="next"`;
}

const bad = (code: string, summary: string): ListResult => ({
  status: 400,
  body: null,
  headers: {},
  error: { code, summary },
});

function compile(
  q: URLSearchParams,
  filterRules: Record<string, readonly string[]>,
): { expr: Expr | null; ci: boolean } | ListResult {
  const filter = q.get('filter');
  const search = q.get('search');
  try {
    if (search !== null && search !== '') return { expr: parseExpr(search), ci: true };
    if (filter !== null && filter !== '') {
      const expr = parseExpr(filter);
      checkFilter(expr, filterRules);
      return { expr, ci: false };
    }
  } catch (e) {
    if (e instanceof ExprError) return bad('E0000031', 'Invalid search criteria.');
    throw e;
  }
  return { expr: null, ci: false };
}

/** A page from a sorted array: items after the cursor that match, up to `limit`. */
function page<T extends { id: string }, R>(
  sorted: T[],
  after: string | null,
  limit: number,
  render: (t: T) => R,
  keep: (r: R, t: T) => boolean,
): { items: R[]; next: string | null } {
  const items: R[] = [];
  let last: string | null = null;
  for (let i = startAfter(sorted, after); i < sorted.length && items.length < limit; i++) {
    const t = sorted[i] as T;
    const r = render(t);
    if (!keep(r, t)) continue;
    items.push(r);
    last = t.id;
  }
  return { items, next: items.length === limit ? last : null };
}

export function listUsers(
  org: Org,
  index: OrgIndex,
  base: string,
  q: URLSearchParams,
  stamps: Stamps,
): ListResult {
  index.refresh();
  const qParam = q.get('q');
  const limit = parseLimit(q, qParam !== null ? 10 : 200, 200);
  if (limit === null) return bad('E0000001', 'Api validation failed: limit');
  const compiled = compile(q, USER_FILTER);
  if ('status' in compiled) return compiled;
  const { expr, ci } = compiled;
  const render = (u: OrgUser) => renderUser(org, u, base, stamps);
  let keep: (r: Record<string, unknown>) => boolean;
  if (qParam !== null) {
    // `q`: a startsWith over firstName/lastName/email, no DEPROVISIONED, no paging.
    const needle = qParam.toLowerCase();
    keep = (r) => {
      const p = r.profile as Record<string, string>;
      return (
        r.status !== 'DEPROVISIONED' &&
        [p.firstName, p.lastName, p.email].some((v) => v?.toLowerCase().startsWith(needle))
      );
    };
  } else if (expr === null) keep = (r) => r.status !== 'DEPROVISIONED';
  else keep = (r) => evalExpr(expr, r, ci);
  const { items, next } = page(index.sortedUsers, q.get('after'), limit, render, keep);
  return {
    status: 200,
    body: items,
    headers: { Link: links(base, '/api/v1/users', q, qParam !== null ? null : next, limit) },
  };
}

export function listGroups(org: Org, base: string, q: URLSearchParams, stamps: Stamps): ListResult {
  const qParam = q.get('q');
  const limit = parseLimit(q, qParam !== null ? 300 : 10_000, 10_000);
  if (limit === null) return bad('E0000001', 'Api validation failed: limit');
  const compiled = compile(q, GROUP_FILTER);
  if ('status' in compiled) return compiled;
  const { expr, ci } = compiled;
  const all = [everyoneGroup, ...org.groups].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const render = (g: (typeof all)[number]) => renderGroup(g, base, stamps, org.domain);
  const keep =
    qParam !== null
      ? (r: ReturnType<typeof render>) =>
          String(r.profile.name).toLowerCase().startsWith(qParam.toLowerCase())
      : expr === null
        ? () => true
        : (r: ReturnType<typeof render>) =>
            evalExpr(expr, { ...r, source: { id: r._links.source ? AD_APP_ID : undefined } }, ci);
  const { items, next } = page(all, q.get('after'), limit, render, keep);
  return {
    status: 200,
    body: items,
    headers: { Link: links(base, '/api/v1/groups', q, qParam !== null ? null : next, limit) },
  };
}

export function listGroupUsers(
  org: Org,
  index: OrgIndex,
  base: string,
  groupId: string,
  q: URLSearchParams,
  stamps: Stamps,
): ListResult {
  index.refresh();
  const isEveryone = groupId === EVERYONE_ID;
  const members = isEveryone ? null : org.members.get(groupId);
  if (!isEveryone && (!members || !org.groups.some((g) => g.id === groupId))) {
    return {
      status: 404,
      body: null,
      headers: {},
      error: { code: 'E0000007', summary: `Not found: Resource not found: ${groupId} (UserGroup)` },
    };
  }
  const limit = parseLimit(q, 1000, 1000);
  if (limit === null) return bad('E0000001', 'Api validation failed: limit');
  const sorted = isEveryone
    ? index.sortedUsers
    : [...(members as Set<string>)]
        .sort()
        .map((id) => index.byId.get(id))
        .filter((u): u is OrgUser => u !== undefined);
  const { items, next } = page(
    sorted,
    q.get('after'),
    limit,
    (u) => renderUser(org, u, base, stamps),
    () => true,
  );
  return {
    status: 200,
    body: items,
    headers: { Link: links(base, `/api/v1/groups/${groupId}/users`, q, next, limit) },
  };
}
