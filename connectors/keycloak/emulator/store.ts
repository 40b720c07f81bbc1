/**
 * One emulated realm: the live {@link Org} rendered as Keycloak 26 representations, with the
 * orderings and paging Keycloak applies.
 *
 * The org is mutated in place by tests (emulator-kit/mutate.ts), so indexes are cached but
 * re-validated on every request with cheap O(n) checks rather than trusted.
 *
 * Keycloak behaviour reproduced (services/.../admin/UsersResource.java, GroupsResource.java,
 * GroupResource.java, utils/GroupUtils.java, models/utils/ModelToRepresentation.java):
 * - users are sorted by username (lower-cased by Keycloak), groups and subgroups by name;
 * - `/users` defaults to max 100, `/groups/{id}/members` to 100, `/groups/{id}/children` to 10,
 *   `/groups` has no default (all top-level groups);
 * - a plain `/users` listing leaves service-account users out, but any filter parameter
 *   (`enabled`, `q`, `username`, ...) puts them back in;
 * - group `search` matches any depth, case-insensitively by substring (`exact=true`: equal name);
 *   with `populateHierarchy` (the default) the matches come back nested under their root ancestors;
 * - every GroupRepresentation carries `subGroups` (an empty list unless a hierarchy is populated)
 *   and, unless `subGroupsCount=false`, `subGroupCount`; null fields are left out.
 */
import type { Org, OrgGroup, OrgUser } from '../../emulator-kit/org.js';

type Rep = Record<string, unknown>;

export interface Page {
  first: number;
  /** Negative: no limit. */
  max: number;
}

export interface UserFilter {
  search?: string;
  username?: string;
  email?: string;
  firstName?: string;
  lastName?: string;
  enabled?: boolean;
  exact?: boolean;
  /** `key:value key2:value2`, exact values. */
  q?: string;
  /** True when a filter parameter was given: Keycloak then includes service accounts. */
  filtered: boolean;
}

/** The realm-management roles the service account holds decide what `access` says; we grant view only. */
const USER_ACCESS = {
  manageGroupMembership: false,
  view: true,
  mapRoles: false,
  impersonate: false,
  manage: false,
};
const GROUP_ACCESS = {
  view: true,
  viewMembers: true,
  manageMembers: false,
  manage: false,
  manageMembership: false,
};

export interface ServiceAccount {
  id: string;
  username: string;
  created: number;
}

export class RealmStore {
  /** JSON merged over a user's representation (tests use it to serve malformed records). */
  readonly userPatches = new Map<string, Rep>();

  private usersRef: OrgUser[] | null = null;
  private usersLen = -1;
  private sorted: OrgUser[] = [];
  /** Each sorted user's login when it was sorted. */
  private sortedLogins: string[] = [];
  private byId = new Map<string, OrgUser>();

  private groupsRef: OrgGroup[] | null = null;
  private groupsLen = -1;
  private groupParents: (string | null)[] = [];
  private groupNames: string[] = [];
  private groupById = new Map<string, OrgGroup>();
  private childrenOf = new Map<string | null, OrgGroup[]>();

  private memberCache = new Map<string, { set: Set<string>; ids: string[] }>();

  constructor(
    public readonly name: string,
    public readonly org: Org,
    public readonly serviceAccount: ServiceAccount | null,
  ) {}

  // ---- users ---------------------------------------------------------------------------------

  /** `checkOrder`: also catch renames; O(users), so only for the users listing itself. */
  private usersIndex(checkOrder = false): void {
    const users = this.org.users;
    let stale = users !== this.usersRef || users.length !== this.usersLen;
    if (!stale && checkOrder) {
      // A rename (updateUser, or a test changing the org) keeps the array: any login that is not
      // the one it was sorted by re-sorts. Comparing the strings it was sorted by is cheap enough
      // for every page of a 100,000-user listing (lower-casing each name per page was not).
      for (let i = 0; i < this.sorted.length; i++) {
        if ((this.sorted[i] as OrgUser).login !== this.sortedLogins[i]) {
          stale = true;
          break;
        }
      }
    }
    if (!stale) return;
    this.usersRef = users;
    this.usersLen = users.length;
    this.sorted = [...users].sort((a, b) => cmp(usernameOf(a), usernameOf(b)));
    this.sortedLogins = this.sorted.map((u) => u.login);
    this.byId = new Map(users.map((u) => [u.id, u]));
  }

  user(id: string): OrgUser | undefined {
    this.usersIndex();
    return this.byId.get(id);
  }

  /** `GET /users` and `/users/count`: matching users in username order (service account included when Keycloak would). */
  private matchingUsers(f: UserFilter): Array<OrgUser | ServiceAccount> {
    this.usersIndex(true);
    const plain =
      f.search === undefined &&
      !f.filtered &&
      f.enabled === undefined &&
      f.q === undefined &&
      f.username === undefined &&
      f.email === undefined &&
      f.firstName === undefined &&
      f.lastName === undefined;
    const out: Array<OrgUser | ServiceAccount> = plain
      ? this.sorted
      : this.sorted.filter((u) => userMatches(u, f));
    // Service accounts: left out by a plain listing and by `search`, included with filter params.
    const sa = this.serviceAccount;
    if (sa && f.search === undefined && f.filtered && serviceAccountMatches(sa, f)) {
      const copy = plain ? [...out] : out;
      let i = 0;
      while (i < copy.length && cmp(usernameOf(copy[i] as OrgUser | ServiceAccount), sa.username) < 0) i++;
      copy.splice(i, 0, sa);
      return copy;
    }
    return out;
  }

  listUsers(f: UserFilter, page: Page, brief: boolean): Rep[] {
    return paginate(this.matchingUsers(f), page).map((u) =>
      'login' in u ? { ...this.userRep(u, brief), access: USER_ACCESS } : serviceAccountRep(u, brief),
    );
  }

  countUsers(f: UserFilter): number {
    return this.matchingUsers(f).length;
  }

  userRep(u: OrgUser, brief: boolean): Rep {
    const rep: Rep = {
      id: u.id,
      username: usernameOf(u),
      firstName: u.givenName,
      lastName: u.familyName,
      ...(u.email ? { email: u.email.toLowerCase() } : {}),
      emailVerified: u.email !== null,
      // Declared in the realm's user profile, so Keycloak returns them in full representations.
      ...(brief ? {} : { attributes: { department: [u.department], title: [u.title] } }),
      createdTimestamp: Date.parse(u.created),
      // Keycloak has one switch: suspended and off-boarded accounts are both disabled.
      enabled: u.status === 'active',
      ...(brief ? {} : { totp: false, disableableCredentialTypes: [], requiredActions: [], notBefore: 0 }),
    };
    const patch = this.userPatches.get(u.id);
    if (!patch) return rep;
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) delete rep[k];
      else rep[k] = v;
    }
    return rep;
  }

  // ---- groups --------------------------------------------------------------------------------

  private groupsIndex(): void {
    const groups = this.org.groups;
    let stale = groups !== this.groupsRef || groups.length !== this.groupsLen;
    if (!stale) {
      // Moves and renames (moveGroup, updateGroup) keep the array.
      for (let i = 0; i < groups.length; i++) {
        const g = groups[i] as OrgGroup;
        if (g.parentId !== this.groupParents[i] || g.name !== this.groupNames[i]) {
          stale = true;
          break;
        }
      }
    }
    if (!stale) return;
    this.groupsRef = groups;
    this.groupsLen = groups.length;
    this.groupParents = groups.map((g) => g.parentId);
    this.groupNames = groups.map((g) => g.name);
    this.groupById = new Map(groups.map((g) => [g.id, g]));
    this.childrenOf = new Map();
    for (const g of groups) {
      const list = this.childrenOf.get(g.parentId);
      if (list) list.push(g);
      else this.childrenOf.set(g.parentId, [g]);
    }
    for (const list of this.childrenOf.values()) list.sort((a, b) => cmp(a.name, b.name));
  }

  group(id: string): OrgGroup | undefined {
    this.groupsIndex();
    return this.groupById.get(id);
  }

  private children(id: string | null): OrgGroup[] {
    return this.childrenOf.get(id) ?? [];
  }

  /** Keycloak escapes `/` inside a name as `~/` in paths (since 23). */
  private path(g: OrgGroup): string {
    const parts: string[] = [];
    for (
      let c: OrgGroup | undefined = g, n = 0;
      c && n < 1000;
      c = c.parentId ? this.groupById.get(c.parentId) : undefined, n++
    ) {
      parts.unshift(c.name.replace(/\//g, '~/'));
    }
    return `/${parts.join('/')}`;
  }

  groupRep(g: OrgGroup, full: boolean, subGroupsCount: boolean): Rep {
    this.groupsIndex();
    return {
      id: g.id,
      name: g.name,
      ...(g.description ? { description: g.description } : {}),
      path: this.path(g),
      ...(g.parentId ? { parentId: g.parentId } : {}),
      ...(subGroupsCount ? { subGroupCount: this.children(g.id).length } : {}),
      subGroups: [],
      ...(full ? { attributes: {}, realmRoles: [], clientRoles: {} } : {}),
      access: GROUP_ACCESS,
    };
  }

  /** `GET /groups`: top-level groups, or `search` matches at any depth. */
  listGroups(
    opts: {
      search?: string;
      exact: boolean;
      q?: string;
      populateHierarchy: boolean;
      subGroupsCount: boolean;
    },
    page: Page,
    full: boolean,
  ): Rep[] {
    this.groupsIndex();
    if (opts.q !== undefined) return []; // no group in the emulated realms has attributes
    if (opts.search === undefined) {
      return paginate(this.children(null), page).map((g) => this.groupRep(g, full, opts.subGroupsCount));
    }
    const matches = paginate(this.searchGroups(opts.search, opts.exact), page);
    if (!opts.populateHierarchy) return matches.map((g) => this.groupRep(g, full, opts.subGroupsCount));
    // GroupUtils.populateGroupHierarchyFromSubGroups: each match nested under its ancestors, only
    // the branches that lead to matches, roots sorted by name.
    const reps = new Map<string, Rep>();
    const roots = new Map<string, Rep>();
    for (const m of matches) {
      let child: OrgGroup = m;
      let childRep = reps.get(m.id) ?? this.groupRep(m, full, opts.subGroupsCount);
      reps.set(m.id, childRep);
      while (child.parentId) {
        const parent = this.groupById.get(child.parentId);
        if (!parent) break;
        let parentRep = reps.get(parent.id);
        if (!parentRep) {
          parentRep = this.groupRep(parent, full, opts.subGroupsCount);
          reps.set(parent.id, parentRep);
        }
        const subs = parentRep.subGroups as Rep[];
        if (!subs.includes(childRep)) subs.push(childRep);
        child = parent;
        childRep = parentRep;
      }
      roots.set(child.id, childRep);
    }
    return [...roots.values()].sort((a, b) => cmp(a.name as string, b.name as string));
  }

  private searchGroups(search: string, exact: boolean): OrgGroup[] {
    const needle = search.trim();
    const lower = needle.toLowerCase();
    return this.org.groups
      .filter((g) => (exact ? g.name === needle : g.name.toLowerCase().includes(lower)))
      .sort((a, b) => cmp(a.name, b.name));
  }

  countGroups(search: string | undefined, top: boolean): number {
    this.groupsIndex();
    if (search !== undefined) return this.searchGroups(search, false).length;
    return top ? this.children(null).length : this.org.groups.length;
  }

  listChildren(
    id: string,
    opts: { search?: string; exact: boolean; subGroupsCount: boolean },
    page: Page,
    full: boolean,
  ): Rep[] {
    this.groupsIndex();
    let list = this.children(id);
    if (opts.search !== undefined) {
      const s = opts.search.toLowerCase();
      list = list.filter((g) => (opts.exact ? g.name === opts.search : g.name.toLowerCase().includes(s)));
    }
    return paginate(list, page).map((g) => this.groupRep(g, full, opts.subGroupsCount));
  }

  /** The groups a user is a direct member of, by name (`search`: name substring, case-insensitive). */
  userGroups(userId: string, search?: string): OrgGroup[] {
    this.groupsIndex();
    const s = search?.toLowerCase();
    return this.org.groups
      .filter(
        (g) =>
          this.org.members.get(g.id)?.has(userId) && (s === undefined || g.name.toLowerCase().includes(s)),
      )
      .sort((a, b) => cmp(a.name, b.name));
  }

  /** `GET /users/{id}/groups` (UserResource.groupMembership): brief by default, no subgroup counts. */
  listUserGroups(userId: string, search: string | undefined, page: Page, full: boolean): Rep[] {
    return paginate(this.userGroups(userId, search), page).map((g) => {
      const { subGroups: _s, ...rep } = this.groupRep(g, full, false);
      return rep;
    });
  }

  /** `GET /groups/{id}/members`: direct members in username order. */
  listMembers(id: string, page: Page, brief: boolean): Rep[] {
    this.usersIndex();
    const set = this.org.members.get(id) ?? new Set<string>();
    let cached = this.memberCache.get(id);
    // Valid while it holds exactly the set's ids and their usernames are still in order.
    const valid =
      cached !== undefined &&
      cached.set === set &&
      cached.ids.length === set.size &&
      cached.ids.every((uid, i) => {
        if (!set.has(uid)) return false;
        if (i === 0) return true;
        const a = this.byId.get(cached!.ids[i - 1] as string);
        const b = this.byId.get(uid);
        return a !== undefined && b !== undefined && usernameOf(a) <= usernameOf(b);
      });
    if (!valid) {
      const ids = [...set].filter((uid) => this.byId.has(uid));
      ids.sort((a, b) =>
        cmp(usernameOf(this.byId.get(a) as OrgUser), usernameOf(this.byId.get(b) as OrgUser)),
      );
      cached = { set, ids };
      this.memberCache.set(id, cached);
    }
    return paginate(cached!.ids, page).map((uid) => this.userRep(this.byId.get(uid) as OrgUser, brief));
  }
}

function usernameOf(u: OrgUser | ServiceAccount): string {
  return 'login' in u ? u.login.toLowerCase() : u.username;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function paginate<T>(list: readonly T[], page: Page): T[] {
  const first = Math.max(0, page.first);
  return page.max < 0 ? list.slice(first) : list.slice(first, first + page.max);
}

function textMatches(value: string | null, wanted: string | undefined, exact: boolean): boolean {
  if (wanted === undefined) return true;
  if (value === null) return false;
  return exact
    ? value.toLowerCase() === wanted.toLowerCase()
    : value.toLowerCase().includes(wanted.toLowerCase());
}

/** `search`: prefix by default, `*x*` infix, `"x"` exact; on username, email, first and last name. */
function searchMatches(u: OrgUser, search: string): boolean {
  const s = search.trim().toLowerCase();
  const fields = [
    usernameOf(u),
    u.email?.toLowerCase() ?? '',
    u.givenName.toLowerCase(),
    u.familyName.toLowerCase(),
  ];
  if (s === '*' || s === '') return true;
  if (s.length > 1 && s.startsWith('"') && s.endsWith('"')) return fields.includes(s.slice(1, -1));
  const infix = s.startsWith('*');
  const core = s.replace(/^\*/, '').replace(/\*$/, '');
  return fields.some((f) => (infix ? f.includes(core) : f.startsWith(core)));
}

function attributesOf(u: OrgUser): Record<string, string> {
  return { department: u.department, title: u.title };
}

/** `q=key:value key2:value2` (SearchQueryUtils.getFields): every pair must match exactly. */
export function parseQuery(q: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const m of q.matchAll(/(?:"([^"]*)"|([^\s:]+)):(?:"([^"]*)"|(\S+))/g)) {
    pairs.push([(m[1] ?? m[2]) as string, (m[3] ?? m[4]) as string]);
  }
  return pairs;
}

function userMatches(u: OrgUser, f: UserFilter): boolean {
  if (f.search !== undefined) {
    if (!searchMatches(u, f.search)) return false;
    return f.enabled === undefined || (u.status === 'active') === f.enabled;
  }
  const exact = f.exact === true;
  if (f.enabled !== undefined && (u.status === 'active') !== f.enabled) return false;
  if (!textMatches(usernameOf(u), f.username, exact)) return false;
  if (!textMatches(u.email, f.email, exact)) return false;
  if (!textMatches(u.givenName, f.firstName, exact)) return false;
  if (!textMatches(u.familyName, f.lastName, exact)) return false;
  if (f.q !== undefined) {
    const attrs = attributesOf(u);
    for (const [k, v] of parseQuery(f.q)) if (attrs[k] !== v) return false;
  }
  return true;
}

function serviceAccountMatches(sa: ServiceAccount, f: UserFilter): boolean {
  if (f.enabled === false) return false;
  if (f.email !== undefined || f.firstName !== undefined || f.lastName !== undefined || f.q !== undefined)
    return false;
  return textMatches(sa.username, f.username, f.exact === true);
}

function serviceAccountRep(sa: ServiceAccount, brief: boolean): Rep {
  return {
    id: sa.id,
    username: sa.username,
    emailVerified: false,
    createdTimestamp: sa.created,
    enabled: true,
    ...(brief ? {} : { totp: false, disableableCredentialTypes: [], requiredActions: [], notBefore: 0 }),
    access: USER_ACCESS,
  };
}
