/**
 * The Graph v1.0 directory endpoints a sync reads: `/users`, `/groups`, `/groups/{id}/members`
 * (with the `microsoft.graph.user`/`microsoft.graph.group` cast segments), single objects, and
 * `$expand=members` (capped at 20, no nextLink). A pure function of (request, store) so `$batch`
 * can run the same code for its inner requests.
 * https://learn.microsoft.com/graph/api/user-list  https://learn.microsoft.com/graph/api/group-list-members
 */
import type { OrgGroup, OrgUser } from '../../emulator-kit/org.js';
import type { TokenClaims } from './auth.js';
import type { DeltaService } from './delta.js';
import { GraphHttpError, ok, type GraphResponse } from './http.js';
import {
  GROUP_DEFAULT,
  GROUP_PROPS,
  MEMBER_SELECTABLE,
  USER_DEFAULT,
  USER_PROPS,
  type MemberRef,
} from './model.js';
import { decodeCursor, encodeCursor, parseListQuery, resumeIndex, withSkiptoken } from './odata.js';
import { advancedProps, compileOrderBy, compileSearch } from './advanced.js';
import { memberOrgId, renderGroup, renderMember, renderUser } from './render.js';
import {
  countResponse,
  directParents,
  organization,
  photo,
  requireEventual,
  transitiveMembers,
  transitiveParents,
} from './reads.js';
import type { GraphStore } from './store.js';

export interface GraphRequestContext {
  /** `https://127.0.0.1:PORT` */
  base: string;
  store: GraphStore;
  delta: DeltaService;
  claims: TokenClaims;
  /** Lower-case request headers. */
  headers: Record<string, string | undefined>;
  /** The tenant's id and creation time (for `/organization`). */
  tenantId: string;
  created: string;
}

const USER_SELECTABLE = new Set(Object.keys(USER_PROPS));
const GROUP_SELECTABLE = new Set([...Object.keys(GROUP_PROPS), 'members']);
const USER_FILTERABLE = new Set([
  'id',
  'accountEnabled',
  'userPrincipalName',
  'displayName',
  'mail',
  'mailNickname',
  'givenName',
  'surname',
  'userType',
]);
const GROUP_FILTERABLE = new Set(['id', 'displayName', 'mailNickname', 'securityEnabled', 'mailEnabled']);
const DEFAULT_PAGE = 100;
/** `$expand=members` returns at most 20 members and no link to the rest. */
const EXPAND_CAP = 20;

const ANY_USER_READ = [
  'User.Read.All',
  'User.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
];
const ANY_ORG_READ = [
  'Organization.Read.All',
  'Organization.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
];
const ANY_PHOTO_READ = ['ProfilePhoto.Read.All', 'User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All'];
const ANY_GROUP_READ = [
  'GroupMember.Read.All',
  'Group.Read.All',
  'Group.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
];

function requireRole(claims: TokenClaims, anyOf: string[]): void {
  if (!claims.roles.some((r) => anyOf.includes(r))) {
    throw new GraphHttpError(
      403,
      'Authorization_RequestDenied',
      'Insufficient privileges to complete the operation.',
    );
  }
}

function notFound(id: string): GraphHttpError {
  return new GraphHttpError(
    404,
    'Request_ResourceNotFound',
    `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
  );
}

function contextUrl(base: string, set: string, select: string[] | null): string {
  return `${base}/v1.0/$metadata#${set}${select ? `(${select.join(',')})` : ''}`;
}

function checkCount(count: boolean, headers: GraphRequestContext['headers']): void {
  // $count on directory objects is an advanced query: it needs ConsistencyLevel: eventual.
  // https://learn.microsoft.com/graph/aad-advanced-queries
  if (count && headers.consistencylevel?.toLowerCase() !== 'eventual') {
    throw new GraphHttpError(400, 'Request_BadRequest', '$count is not currently supported.');
  }
}

/**
 * Serves one page of a list: scans from the cursor, keeps `top` matching items and looks ahead
 * for one more so the last page has no nextLink.
 */
function page<T>(
  list: readonly T[],
  idOf: (x: T) => string,
  keep: (x: T) => boolean,
  top: number,
  skiptoken: string | null,
): { items: T[]; next: string | null } {
  const start = skiptoken === null ? 0 : resumeIndex(list as never[], decodeCursor(skiptoken), idOf as never);
  const items: T[] = [];
  let i = start;
  for (; i < list.length && items.length < top; i++) {
    const x = list[i] as T;
    if (keep(x)) items.push(x);
  }
  while (i < list.length && !keep(list[i] as T)) i++;
  const last = items.length > 0 ? idOf(items[items.length - 1] as T) : null;
  return { items, next: i < list.length ? encodeCursor({ i, last }) : null };
}

export function handleGraph(
  method: string,
  path: string,
  query: URLSearchParams,
  ctx: GraphRequestContext,
): GraphResponse {
  const seg = path.split('/').filter((s) => s !== '');
  const [collection, id, nav, cast] = seg;
  if (method !== 'GET') {
    throw new GraphHttpError(405, 'Request_BadRequest', `The HTTP method '${method}' is not allowed here.`);
  }
  const isDelta = id === 'delta' || id === 'delta()';
  if (collection === 'organization') {
    requireRole(ctx.claims, ANY_ORG_READ);
    const o = organization(ctx.store, ctx.tenantId, ctx.created);
    if (seg.length === 1) {
      return ok({ '@odata.context': `${ctx.base}/v1.0/$metadata#organization`, value: [o] });
    }
    if (seg.length === 2) {
      if ((id as string).toLowerCase() !== ctx.tenantId.toLowerCase()) throw notFound(id as string);
      return ok({ '@odata.context': `${ctx.base}/v1.0/$metadata#organization/$entity`, ...o });
    }
  }
  if (collection === 'users' && (nav === 'photo' || nav === 'photos') && seg.length <= 5) {
    // Profile photos are served by the profile service: its own permission and throttling.
    requireRole(ctx.claims, ANY_PHOTO_READ);
    const u = ctx.store.userById(id as string);
    if (!u) throw notFound(id as string);
    return photo(ctx.base, u, seg.slice(2));
  }
  if (collection === 'users') {
    requireRole(ctx.claims, ANY_USER_READ);
    if (seg.length === 1) return listUsers(`/v1.0/users`, query, ctx);
    if (seg.length === 2 && id === '$count') {
      requireEventual(ctx.headers, 'Count');
      return countResponse(ctx.store.org.users.filter((u) => ctx.store.isListed(u)).length);
    }
    if (seg.length === 2 && isDelta) return ctx.delta.handle('users', query, ctx);
    if (seg.length === 2) return getUser(id as string, query, ctx);
    if ((nav === 'memberOf' || nav === 'transitiveMemberOf') && seg.length <= 4) {
      requireRole(ctx.claims, ANY_GROUP_READ);
      const u = ctx.store.userById(id as string);
      if (!u) throw notFound(id as string);
      const groups =
        nav === 'memberOf'
          ? directParents(ctx.store, u.id, false)
          : transitiveParents(ctx.store, u.id, false);
      return listParents(path, groups, cast, query, ctx);
    }
  }
  if (collection === 'groups') {
    requireRole(ctx.claims, ANY_GROUP_READ);
    if (seg.length === 1) return listGroups('/v1.0/groups', query, ctx);
    if (seg.length === 2 && id === '$count') {
      requireEventual(ctx.headers, 'Count');
      return countResponse(ctx.store.org.groups.length);
    }
    if (seg.length === 2 && isDelta) return ctx.delta.handle('groups', query, ctx);
    if (seg.length === 2) return getGroup(id as string, query, ctx);
    if ((nav === 'memberOf' || nav === 'transitiveMemberOf') && seg.length <= 4) {
      const g = ctx.store.groupById(id as string);
      if (!g) throw notFound(id as string);
      const groups =
        nav === 'memberOf' ? directParents(ctx.store, g.id, true) : transitiveParents(ctx.store, g.id, true);
      return listParents(path, groups, cast, query, ctx);
    }
    if (nav === 'transitiveMembers' && (seg.length === 3 || seg.length === 4)) {
      const only = castType(cast);
      const g = ctx.store.groupById(id as string);
      if (!g) throw notFound(id as string);
      return listMembers(path, transitiveMembers(ctx.store, g), only, query, ctx);
    }
    if (nav === 'members' && (seg.length === 3 || seg.length === 4)) {
      const only = castType(cast);
      const g = ctx.store.groupById(id as string);
      if (!g) throw notFound(id as string);
      return listMembers(path, ctx.store.members(g), only, query, ctx);
    }
  }
  throw new GraphHttpError(
    400,
    'BadRequest',
    `Resource not found for the segment '${seg[seg.length - 1] ?? ''}'.`,
  );
}

function listUsers(path: string, query: URLSearchParams, ctx: GraphRequestContext): GraphResponse {
  const q = parseListQuery(query, 'user', USER_SELECTABLE, USER_FILTERABLE);
  checkCount(q.count, ctx.headers);
  if (q.expand !== null) {
    throw new GraphHttpError(
      400,
      'Request_BadRequest',
      `Expand is not supported for '${q.expand}' on users here.`,
    );
  }
  const { store } = ctx;
  const filterProps = [...USER_FILTERABLE];
  const filter = q.filter;
  const search = compileSearch(q.search, 'user', ctx.headers);
  const order = compileOrderBy(q.orderby, 'user', ctx.headers, filter !== null || search !== null);
  const adv = advancedProps('user');
  const keep = (u: OrgUser) =>
    store.isListed(u) &&
    (filter === null || filter(renderUser(store, u, filterProps))) &&
    (search === null || search(renderUser(store, u, adv)));
  const list = order
    ? [...store.org.users].sort((a, b) => order(renderUser(store, a, adv), renderUser(store, b, adv)))
    : store.org.users;
  const { items, next } = page(list, (u) => u.id, keep, q.top ?? DEFAULT_PAGE, q.skiptoken);
  const select = q.select ?? USER_DEFAULT;
  const body: Record<string, unknown> = { '@odata.context': contextUrl(ctx.base, 'users', q.select) };
  if (q.count) body['@odata.count'] = store.org.users.filter(keep).length;
  if (next) body['@odata.nextLink'] = withSkiptoken(ctx.base, path, query, next);
  body.value = items.map((u) => renderUser(store, u, select));
  return ok(body);
}

function getUser(id: string, query: URLSearchParams, ctx: GraphRequestContext): GraphResponse {
  const q = parseListQuery(query, 'user', USER_SELECTABLE, new Set());
  const u = ctx.store.userById(id);
  if (!u) throw notFound(id);
  return ok({
    '@odata.context': contextUrl(ctx.base, 'users', q.select) + '/$entity',
    ...renderUser(ctx.store, u, q.select ?? USER_DEFAULT),
  });
}

function expandMembers(ctx: GraphRequestContext, g: OrgGroup): unknown[] {
  return ctx.store
    .members(g)
    .slice(0, EXPAND_CAP)
    .map((m) => renderMember(ctx.store, m, null, true));
}

function checkExpand(expand: string | null): boolean {
  if (expand === null) return false;
  if (expand.split('(')[0]?.trim() !== 'members') {
    throw new GraphHttpError(
      400,
      'BadRequest',
      `Could not find a property named '${expand}' on type 'microsoft.graph.group'.`,
    );
  }
  return true;
}

function listGroups(path: string, query: URLSearchParams, ctx: GraphRequestContext): GraphResponse {
  const q = parseListQuery(query, 'group', GROUP_SELECTABLE, GROUP_FILTERABLE);
  checkCount(q.count, ctx.headers);
  const expand = checkExpand(q.expand);
  const { store } = ctx;
  const filterProps = [...GROUP_FILTERABLE];
  const filter = q.filter;
  const search = compileSearch(q.search, 'group', ctx.headers);
  const order = compileOrderBy(q.orderby, 'group', ctx.headers, filter !== null || search !== null);
  const adv = advancedProps('group');
  const keep = (g: OrgGroup) =>
    (filter === null || filter(renderGroup(store, g, filterProps))) &&
    (search === null || search(renderGroup(store, g, adv)));
  const list = order
    ? [...store.org.groups].sort((a, b) => order(renderGroup(store, a, adv), renderGroup(store, b, adv)))
    : store.org.groups;
  const { items, next } = page(list, (g) => g.id, keep, q.top ?? DEFAULT_PAGE, q.skiptoken);
  const select = (q.select ?? GROUP_DEFAULT).filter((s) => s !== 'members');
  const body: Record<string, unknown> = { '@odata.context': contextUrl(ctx.base, 'groups', q.select) };
  if (q.count) body['@odata.count'] = store.org.groups.filter(keep).length;
  if (next) body['@odata.nextLink'] = withSkiptoken(ctx.base, path, query, next);
  body.value = items.map((g) => {
    const o = renderGroup(store, g, select);
    if (expand) o.members = expandMembers(ctx, g);
    return o;
  });
  return ok(body);
}

function getGroup(id: string, query: URLSearchParams, ctx: GraphRequestContext): GraphResponse {
  const q = parseListQuery(query, 'group', GROUP_SELECTABLE, new Set());
  const expand = checkExpand(q.expand);
  const g = ctx.store.groupById(id);
  if (!g) throw notFound(id);
  const o: Record<string, unknown> = {
    '@odata.context': contextUrl(ctx.base, 'groups', q.select) + '/$entity',
    ...renderGroup(
      ctx.store,
      g,
      (q.select ?? GROUP_DEFAULT).filter((s) => s !== 'members'),
    ),
  };
  if (expand) o.members = expandMembers(ctx, g);
  return ok(o);
}

function castType(cast: string | undefined): 'user' | 'group' | null {
  if (cast === undefined) return null;
  if (cast === 'microsoft.graph.user') return 'user';
  if (cast === 'microsoft.graph.group') return 'group';
  throw new GraphHttpError(400, 'BadRequest', `Resource not found for the segment '${cast}'.`);
}

function listMembers(
  path: string,
  all: MemberRef[],
  only: 'user' | 'group' | null,
  query: URLSearchParams,
  ctx: GraphRequestContext,
): GraphResponse {
  const q = parseListQuery(query, 'directoryObject', MEMBER_SELECTABLE, new Set());
  checkCount(q.count, ctx.headers);
  const search = compileSearch(q.search, 'directoryObject', ctx.headers);
  compileOrderBy(q.orderby, 'directoryObject', ctx.headers, search !== null);
  let members = all;
  if (only) members = members.filter((m) => m.type === only);
  if (search)
    members = members.filter((m) =>
      search(
        renderMember(
          ctx.store,
          m,
          advancedProps('directoryObject').filter((p) => MEMBER_SELECTABLE.has(p)),
          false,
        ),
      ),
    );
  const { items, next } = page(members, memberOrgId, () => true, q.top ?? DEFAULT_PAGE, q.skiptoken);
  const set = only === null ? 'directoryObjects' : only === 'user' ? 'users' : 'groups';
  const body: Record<string, unknown> = { '@odata.context': contextUrl(ctx.base, set, q.select) };
  if (q.count) body['@odata.count'] = members.length;
  if (next) body['@odata.nextLink'] = withSkiptoken(ctx.base, `/v1.0${path}`, query, next);
  // Items of a cast segment are all of the cast type, so Graph leaves `@odata.type` out.
  body.value = items.map((m) => renderMember(ctx.store, m, q.select, only === null));
  return ok(body);
}

/** `memberOf` / `transitiveMemberOf`: the groups above an object (cast: `microsoft.graph.group`). */
function listParents(
  path: string,
  groups: OrgGroup[],
  cast: string | undefined,
  query: URLSearchParams,
  ctx: GraphRequestContext,
): GraphResponse {
  const q = parseListQuery(query, 'directoryObject', MEMBER_SELECTABLE, new Set());
  checkCount(q.count, ctx.headers);
  if (cast !== undefined && cast !== 'microsoft.graph.group') {
    // Directory roles and administrative units are not modelled: none to list.
    if (cast === 'microsoft.graph.directoryRole' || cast === 'microsoft.graph.administrativeUnit')
      groups = [];
    else throw new GraphHttpError(400, 'BadRequest', `Resource not found for the segment '${cast}'.`);
  }
  const { items, next } = page(
    groups,
    (g) => g.id,
    () => true,
    q.top ?? DEFAULT_PAGE,
    q.skiptoken,
  );
  const typed = cast === undefined;
  const body: Record<string, unknown> = {
    '@odata.context': contextUrl(ctx.base, typed ? 'directoryObjects' : 'groups', q.select),
  };
  if (q.count) body['@odata.count'] = groups.length;
  if (next) body['@odata.nextLink'] = withSkiptoken(ctx.base, `/v1.0${path}`, query, next);
  body.value = items.map((g) => renderMember(ctx.store, { type: 'group', obj: g }, q.select, typed));
  return ok(body);
}
