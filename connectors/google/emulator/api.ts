/**
 * The Directory API endpoints the emulator serves: users, groups and members (list and get),
 * with Google's parameters, limits, page tokens, partial responses and error bodies.
 * Reference: https://developers.google.com/workspace/admin/directory/reference/rest/v1
 */
import type { OrgGroup, OrgUser } from '../../emulator-kit/org.js';
import type { GoogleDirectory } from './directory.js';
import { applyFields, checkFields, FieldsError, parseFields, type SchemaProps } from './fields.js';
import { groupPredicate, QueryError, userPredicate } from './query.js';

type Obj = Record<string, unknown>;

/** An error to answer with Google's JSON error body. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly extra: {
      domain?: string;
      location?: string;
      locationType?: string;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/** `{"error":{"code","message","errors":[{"message","domain","reason"}],"status"}}` */
export function errorBody(e: ApiError): string {
  const item: Obj = { message: e.message, domain: e.extra.domain ?? 'global', reason: e.reason };
  if (e.extra.location) {
    item.location = e.extra.location;
    item.locationType = e.extra.locationType ?? 'parameter';
  }
  return JSON.stringify({
    error: { code: e.code, message: e.message, errors: [item], status: STATUS_TEXT[e.code] ?? 'UNKNOWN' },
  });
}

/** Property names of the resources (from the discovery document), for `fields` validation. */
const USER_PROPS = [
  'addresses', 'agreedToTerms', 'aliases', 'archived', 'changePasswordAtNextLogin', 'creationTime', 'customSchemas',
  'customerId', 'deletionTime', 'emails', 'etag', 'externalIds', 'gender', 'hashFunction', 'id', 'ims',
  'includeInGlobalAddressList', 'ipWhitelisted', 'isAdmin', 'isDelegatedAdmin', 'isEnforcedIn2Sv', 'isEnrolledIn2Sv',
  'isMailboxSetup', 'keywords', 'kind', 'languages', 'lastLoginTime', 'locations', 'name', 'nonEditableAliases',
  'notes', 'orgUnitPath', 'organizations', 'password', 'phones', 'posixAccounts', 'primaryEmail', 'recoveryEmail',
  'recoveryPhone', 'relations', 'sshPublicKeys', 'suspended', 'suspensionReason', 'thumbnailPhotoEtag',
  'thumbnailPhotoUrl', 'websites',
]; // prettier-ignore
const GROUP_PROPS = [
  'adminCreated', 'aliases', 'description', 'directMembersCount', 'email', 'etag', 'id', 'kind', 'name', 'nonEditableAliases',
]; // prettier-ignore
const MEMBER_PROPS = ['delivery_settings', 'email', 'etag', 'id', 'kind', 'role', 'status', 'type'];
const leaf = (names: string[], nested: Record<string, string> = {}) =>
  Object.fromEntries(names.map((n) => [n, nested[n] ?? null]));

export const SCHEMAS: SchemaProps = {
  Users: leaf(['etag', 'kind', 'nextPageToken', 'trigger_event', 'users'], { users: 'User' }),
  Groups: leaf(['etag', 'groups', 'kind', 'nextPageToken'], { groups: 'Group' }),
  Members: leaf(['etag', 'kind', 'members', 'nextPageToken'], { members: 'Member' }),
  User: leaf(USER_PROPS, { name: 'UserName' }),
  UserName: leaf(['displayName', 'familyName', 'fullName', 'givenName']),
  Group: leaf(GROUP_PROPS),
  Member: leaf(MEMBER_PROPS),
};

export interface ApiOptions {
  /**
   * Whether a page that ends exactly at the end of the list still carries a `nextPageToken`
   * (whose page is then empty, without the list key). Google's servers do this for some lists;
   * it is the less convenient behaviour, so it is the default.
   */
  tokenOnFullLastPage: boolean;
}

function intParam(
  q: URLSearchParams,
  name: string,
  def: number,
  min: number,
  max: number,
  strictMax: boolean,
): number {
  const raw = q.get(name);
  if (raw === null || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || (strictMax && n > max)) {
    throw new ApiError(
      400,
      'invalidParameter',
      `Invalid value '${raw}'. Values must be within the range: [${min}, ${max}]`,
      {
        location: name,
      },
    );
  }
  // groups.list and members.list document "max 200" but accept more and cap it.
  return Math.min(n, max);
}

const encodeToken = (key: string) => Buffer.from(JSON.stringify({ k: key, v: 1 })).toString('base64url');

function decodeToken(token: string): string {
  try {
    const o = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k?: unknown };
    if (typeof o.k === 'string') return o.k;
  } catch {
    // fall through
  }
  throw new ApiError(400, 'invalid', 'Invalid Input: pageToken', { location: 'pageToken' });
}

/** Keyset paging over a list sorted by `keyOf` ascending. */
function pageOf<T>(
  sorted: readonly T[],
  keyOf: (t: T) => string,
  pageToken: string | null,
  max: number,
  keep: (t: T) => boolean,
  opts: ApiOptions,
): { items: T[]; next?: string } {
  let start = 0;
  if (pageToken) {
    const after = decodeToken(pageToken);
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keyOf(sorted[mid] as T) <= after) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const items: T[] = [];
  let i = start;
  for (; i < sorted.length && items.length < max; i++) {
    const t = sorted[i] as T;
    if (keep(t)) items.push(t);
  }
  if (items.length < max) return { items };
  let more = opts.tokenOnFullLastPage;
  for (let k = i; !more && k < sorted.length; k++) if (keep(sorted[k] as T)) more = true;
  return more ? { items, next: encodeToken(keyOf(items[items.length - 1] as T)) } : { items };
}

function fieldsOf(q: URLSearchParams, schema: string) {
  const f = q.get('fields');
  if (f === null || f === '') return null;
  try {
    const tree = parseFields(f);
    checkFields(tree, schema, SCHEMAS);
    return tree;
  } catch (e) {
    if (e instanceof FieldsError)
      throw new ApiError(400, 'invalidParameter', e.message, { location: 'fields' });
    throw e;
  }
}

function finish(q: URLSearchParams, schema: string, body: Obj): Obj {
  const tree = fieldsOf(q, schema);
  return tree ? (applyFields(body, tree) as Obj) : body;
}

function listEtag(kind: string, n: number, token: string | null): string {
  return `"${Buffer.from(`${kind}:${n}:${token ?? ''}`)
    .toString('base64url')
    .slice(0, 27)}"`;
}

/** Checks `customer`/`domain` the way users.list and groups.list do. */
function checkScope(dir: GoogleDirectory, q: URLSearchParams, allowUserKey: boolean): void {
  const customer = q.get('customer');
  const domain = q.get('domain');
  if (!customer && !domain && !(allowUserKey && q.get('userKey'))) {
    throw new ApiError(400, 'badRequest', 'Bad Request');
  }
  if (customer && customer !== 'my_customer' && customer !== dir.customerId) {
    throw new ApiError(400, 'badRequest', 'Bad Request');
  }
  if (!customer && domain && domain.toLowerCase() !== dir.org.domain.toLowerCase()) {
    throw new ApiError(403, 'forbidden', 'Not Authorized to access this resource/api');
  }
}

function queryFailure(e: unknown): never {
  if (e instanceof QueryError) throw new ApiError(400, 'invalid', e.message, { location: 'query' });
  throw e;
}

export function listUsers(dir: GoogleDirectory, q: URLSearchParams, opts: ApiOptions): Obj {
  checkScope(dir, q, false);
  const max = intParam(q, 'maxResults', 100, 1, 500, true);
  const view = userView(q);
  let keep: (u: OrgUser) => boolean;
  try {
    keep = userPredicate(q.get('query'), dir);
  } catch (e) {
    queryFailure(e);
  }
  if (q.get('showDeleted') === 'true') return listDeletedUsers(dir, q, max, keep, opts);
  const orderBy = q.get('orderBy');
  let sorted = dir.users().sorted;
  let keyOf = (u: OrgUser) => u.id;
  if (orderBy === 'email' || orderBy === 'givenName' || orderBy === 'familyName') {
    const field = (u: OrgUser) =>
      orderBy === 'email' ? dir.primaryEmail(u) : orderBy === 'givenName' ? u.givenName : u.familyName;
    keyOf = (u) => `${field(u).toLowerCase()}\u0000${u.id}`;
    sorted = [...sorted].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
    if (q.get('sortOrder') === 'DESCENDING')
      throw new ApiError(400, 'invalid', 'Invalid Input: sortOrder is not emulated');
  } else if (orderBy) {
    throw new ApiError(400, 'invalidParameter', `Invalid value '${orderBy}' for orderBy`, {
      location: 'orderBy',
    });
  }
  const page = pageOf(sorted, keyOf, q.get('pageToken'), max, keep, opts);
  const body: Obj = {
    kind: 'admin#directory#users',
    etag: listEtag('users', page.items.length, q.get('pageToken')),
  };
  // Google leaves the list out of an empty page.
  if (page.items.length > 0) {
    body.users = page.items.map((u) => view(dir.renderUser(u)));
  }
  if (page.next) body.nextPageToken = page.next;
  return finish(q, 'Users', body);
}

/** `showDeleted=true`: the users deleted in the last 20 days (Google keeps them restorable). */
function listDeletedUsers(
  dir: GoogleDirectory,
  q: URLSearchParams,
  max: number,
  keep: (u: OrgUser) => boolean,
  opts: ApiOptions,
): Obj {
  const sorted = [...dir.deletedUsers].sort((a, b) =>
    a.user.id < b.user.id ? -1 : a.user.id > b.user.id ? 1 : 0,
  );
  const page = pageOf(
    sorted,
    (d) => d.user.id,
    q.get('pageToken'),
    max,
    (d) => keep(d.user),
    opts,
  );
  const body: Obj = {
    kind: 'admin#directory#users',
    etag: listEtag('deleted-users', page.items.length, q.get('pageToken')),
  };
  if (page.items.length > 0) body.users = page.items.map((d) => dir.renderDeletedUser(d));
  if (page.next) body.nextPageToken = page.next;
  return finish(q, 'Users', body);
}

/** Fields a `viewType=domain_public` reader sees (Google: "Retrieve a user as a non-administrator"). */
const PUBLIC_USER_FIELDS = new Set([
  'kind',
  'id',
  'etag',
  'primaryEmail',
  'name',
  'emails',
  'organizations',
  'thumbnailPhotoUrl',
]);

/** `projection` and `viewType` as users.get and users.list check them; returns a renderer. */
function userView(q: URLSearchParams): (r: Obj) => Obj {
  const projection = q.get('projection') ?? 'basic';
  if (!['basic', 'custom', 'full'].includes(projection)) {
    throw new ApiError(400, 'invalidParameter', `Invalid value '${projection}' for projection`, {
      location: 'projection',
    });
  }
  if (projection === 'custom' && !q.get('customFieldMask')) {
    throw new ApiError(400, 'invalid', 'Invalid Input: customFieldMask is required with projection=custom');
  }
  if (projection !== 'custom' && q.get('customFieldMask')) {
    throw new ApiError(
      400,
      'invalid',
      'Invalid Input: customFieldMask is only allowed with projection=custom',
    );
  }
  const viewType = q.get('viewType') ?? 'admin_view';
  if (!['admin_view', 'domain_public'].includes(viewType)) {
    throw new ApiError(400, 'invalidParameter', `Invalid value '${viewType}' for viewType`, {
      location: 'viewType',
    });
  }
  return (r) => {
    // No custom schemas are defined here: custom and full projections carry an empty map.
    if (projection !== 'basic') r.customSchemas = {};
    if (viewType === 'domain_public') {
      for (const k of Object.keys(r)) if (!PUBLIC_USER_FIELDS.has(k) && k !== 'customSchemas') delete r[k];
    }
    return r;
  };
}

export function getUser(dir: GoogleDirectory, userKey: string, q: URLSearchParams): Obj {
  const view = userView(q);
  const u = dir.findUser(userKey);
  if (!u) throw new ApiError(404, 'notFound', 'Resource Not Found: userKey');
  return finish(q, 'User', view(dir.renderUser(u)));
}

export function listGroups(dir: GoogleDirectory, q: URLSearchParams, opts: ApiOptions): Obj {
  checkScope(dir, q, true);
  const max = intParam(q, 'maxResults', 200, 1, 200, false);
  let keep: (g: OrgGroup) => boolean;
  try {
    keep = groupPredicate(q.get('query'), dir);
  } catch (e) {
    queryFailure(e);
  }
  const userKey = q.get('userKey');
  if (userKey) {
    const u = dir.findUser(userKey);
    if (!u) throw new ApiError(404, 'notFound', 'Resource Not Found: userKey');
    const inner = keep;
    keep = (g) => inner(g) && (dir.org.members.get(g.id)?.has(u.id) ?? false);
  }
  const orderBy = q.get('orderBy');
  let sorted = dir.groups().sorted;
  let keyOf = (g: OrgGroup) => g.id;
  if (orderBy === 'email') {
    keyOf = (g) => `${dir.groupEmail(g)}\u0000${g.id}`;
    sorted = [...sorted].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
  } else if (orderBy) {
    throw new ApiError(400, 'invalidParameter', `Invalid value '${orderBy}' for orderBy`, {
      location: 'orderBy',
    });
  }
  const page = pageOf(sorted, keyOf, q.get('pageToken'), max, keep, opts);
  const counts = dir.childCounts();
  const body: Obj = {
    kind: 'admin#directory#groups',
    etag: listEtag('groups', page.items.length, q.get('pageToken')),
  };
  if (page.items.length > 0) body.groups = page.items.map((g) => dir.renderGroup(g, counts.get(g.id) ?? 0));
  if (page.next) body.nextPageToken = page.next;
  return finish(q, 'Groups', body);
}

export function getGroup(dir: GoogleDirectory, groupKey: string, q: URLSearchParams): Obj {
  const g = dir.findGroup(groupKey);
  if (!g) throw new ApiError(404, 'notFound', 'Resource Not Found: groupKey');
  return finish(q, 'Group', dir.renderGroup(g, dir.childGroups(g.id).length));
}

export function listMembers(
  dir: GoogleDirectory,
  groupKey: string,
  q: URLSearchParams,
  opts: ApiOptions,
): Obj {
  const g = dir.findGroup(groupKey);
  if (!g) throw new ApiError(404, 'notFound', 'Resource Not Found: groupKey');
  const max = intParam(q, 'maxResults', 200, 1, 200, false);
  const roles = q.get('roles');
  const roleSet = roles ? new Set(roles.split(',').map((r) => r.trim().toUpperCase())) : null;
  const derived = q.get('includeDerivedMembership') === 'true';
  const all = derived ? dir.derivedMembers(g) : dir.members(g);
  const keep = (m: Obj) => roleSet === null || roleSet.has(m.role as string);
  const page = pageOf(all, (m) => m.id as string, q.get('pageToken'), max, keep, opts);
  const body: Obj = {
    kind: 'admin#directory#members',
    etag: listEtag(`members:${g.id}`, page.items.length, q.get('pageToken')),
  };
  if (page.items.length > 0) body.members = page.items;
  if (page.next) body.nextPageToken = page.next;
  return finish(q, 'Members', body);
}
