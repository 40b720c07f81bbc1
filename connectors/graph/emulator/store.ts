/**
 * The emulator's live tenant: the shared {@link Org} plus what only Graph has: a group can sit in
 * several groups (a DAG, and cycles are possible), and groups hold devices, service principals and
 * org contacts besides users and groups.
 *
 * Every change goes through {@link GraphStore.apply} (the admin API, the seeded plans of
 * `POST /__emulator/mutate`, tests), which changes the org and appends what became visible to the
 * change log ({@link ChangeLog}) the delta service reads: rendered properties that changed, objects
 * becoming listed or unlisted, members joining or leaving a group's direct member list. The org is
 * still a plain object: a test that changes it directly is seen by every listing but by no delta
 * round (such tests read in full).
 */
import * as mutate from '../../emulator-kit/mutate.js';
import type { Org, OrgGroup, OrgUser } from '../../emulator-kit/org.js';
import type { Mutation } from '../../emulator-kit/plan.js';
import { ChangeLog, type ChangeKind, type ChangeLogOptions } from './changes.js';
import { graphId } from './ids.js';
import { GROUP_PROPS, USER_PROPS, type MemberRef, type OtherObject } from './model.js';
import { memberOrgId, renderGroup, renderUser } from './render.js';

/**
 * A change to the tenant: the IdP-neutral {@link Mutation}s, plus Graph's own: `nest` adds a group
 * to another beyond the tree (several parents, cycles allowed), `unnest` takes it out (its tree
 * edge and its extra edge), `override` serves an object with some fields replaced (`null` clears).
 */
export type GraphMutation =
  | Mutation
  | { op: 'nest'; parentId: string; childId: string }
  | { op: 'unnest'; parentId: string; childId: string }
  | { op: 'override'; id: string; patch: Record<string, unknown> | null };

const ALL_USER_PROPS = Object.keys(USER_PROPS);
const ALL_GROUP_PROPS = Object.keys(GROUP_PROPS);

/** A group's direct members by `type|graphId`. */
type MemberKeys = Map<string, { type: string; id: string }>;

const notFound = (kind: 'user' | 'group', id: string) => new mutate.OrgMutationError(`no ${kind} ${id}`, 404);

/** A patch without `id`: an object's id never changes (the indexes and Graph ids hang on it). */
function withoutId<T extends object>(patch: T): Omit<T, 'id'> {
  const { id: _id, ...rest } = patch as T & { id?: unknown };
  return rest;
}

export class GraphStore {
  /** What changed and when: the delta service's only source. */
  readonly changes: ChangeLog;

  private readonly nesting = new Map<string, Set<string>>();
  private readonly otherMembers = new Map<string, OtherObject[]>();
  private readonly fieldOverrides = new Map<string, Record<string, unknown>>();

  private usersRef: OrgUser[] | null = null;
  private usersLen = -1;
  private groupsRef: OrgGroup[] | null = null;
  private groupsLen = -1;
  private userByOrg = new Map<string, OrgUser>();
  private userByGraph = new Map<string, OrgUser>();
  /** Lower-case login → user, for addUser's uniqueness check (mutate.ts scans every user). */
  private userByLogin = new Map<string, OrgUser>();
  private groupByGraph = new Map<string, OrgGroup>();
  private groupByOrg = new Map<string, OrgGroup>();

  constructor(
    readonly org: Org,
    log: Partial<ChangeLogOptions> = {},
  ) {
    this.changes = new ChangeLog(log);
    this.seedOthers();
  }

  /**
   * Group-in-group edges besides the org's `parentId` tree: parent group org id → child group
   * org ids. Changed with `nest` / `unnest`; nothing stops a cycle, as in Entra ID.
   */
  get extraNesting(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.nesting;
  }

  /** Non-user members per group org id (devices, service principals, org contacts). */
  get others(): ReadonlyMap<string, readonly OtherObject[]> {
    return this.otherMembers;
  }

  /** Field overrides applied to rendered objects (by org id): lets tests serve malformed records. */
  get overrides(): ReadonlyMap<string, Record<string, unknown>> {
    return this.fieldOverrides;
  }

  /** A few groups get a device, a service principal and an org contact, so the skip path runs. */
  private seedOthers(): void {
    this.org.groups.forEach((g, i) => {
      const list: OtherObject[] = [];
      if (i % 10 === 0) list.push({ type: 'device', orgId: `d${g.id}`, displayName: `LAPTOP-${i}` });
      if (i % 25 === 3) list.push({ type: 'servicePrincipal', orgId: `s${g.id}`, displayName: `svc-${i}` });
      if (i % 40 === 5) list.push({ type: 'orgContact', orgId: `c${g.id}`, displayName: `Partner ${i}` });
      if (list.length > 0) this.otherMembers.set(g.id, list);
    });
  }

  /** Rebuilds the lookup maps when users or groups were added or removed outside {@link apply}. */
  private refresh(): void {
    const { users, groups } = this.org;
    if (users !== this.usersRef || users.length !== this.usersLen) {
      this.userByOrg = new Map(users.map((u) => [u.id, u]));
      this.userByGraph = new Map(users.map((u) => [graphId(u.id), u]));
      this.userByLogin = new Map(users.map((u) => [u.login.toLowerCase(), u]));
      this.usersRef = users;
      this.usersLen = users.length;
    }
    if (groups !== this.groupsRef || groups.length !== this.groupsLen) {
      this.groupByOrg = new Map(groups.map((g) => [g.id, g]));
      this.groupByGraph = new Map(groups.map((g) => [graphId(g.id), g]));
      this.groupsRef = groups;
      this.groupsLen = groups.length;
    }
  }

  /** Keeps the lookup maps current after {@link apply} changed the arrays (no O(n) rebuild). */
  private reindex(user?: { add?: OrgUser; remove?: OrgUser }, group?: { add?: OrgGroup; remove?: OrgGroup }) {
    if (user?.add) {
      this.userByOrg.set(user.add.id, user.add);
      this.userByGraph.set(graphId(user.add.id), user.add);
      this.userByLogin.set(user.add.login.toLowerCase(), user.add);
    }
    if (user?.remove) {
      this.userByOrg.delete(user.remove.id);
      this.userByGraph.delete(graphId(user.remove.id));
      const login = user.remove.login.toLowerCase();
      if (this.userByLogin.get(login) === user.remove) this.userByLogin.delete(login);
    }
    if (group?.add) {
      this.groupByOrg.set(group.add.id, group.add);
      this.groupByGraph.set(graphId(group.add.id), group.add);
    }
    if (group?.remove) {
      this.groupByOrg.delete(group.remove.id);
      this.groupByGraph.delete(graphId(group.remove.id));
    }
    this.usersRef = this.org.users;
    this.usersLen = this.org.users.length;
    this.groupsRef = this.org.groups;
    this.groupsLen = this.org.groups.length;
  }

  /**
   * Deprovisioned users are soft-deleted in Entra ID: they sit in /directory/deletedItems, are not
   * listed by /users and have left their groups (a restore brings the memberships back).
   */
  isListed(u: OrgUser): boolean {
    return u.status !== 'deprovisioned';
  }

  userById(id: string): OrgUser | undefined {
    this.refresh();
    const u = this.userByGraph.get(id.toLowerCase()) ?? this.userByOrg.get(id);
    return u && this.isListed(u) ? u : undefined;
  }

  groupById(id: string): OrgGroup | undefined {
    this.refresh();
    return this.groupByGraph.get(id.toLowerCase()) ?? this.groupByOrg.get(id);
  }

  /** Any user, listed or not (admin API). */
  anyUser(id: string): OrgUser | undefined {
    this.refresh();
    return this.userByGraph.get(id.toLowerCase()) ?? this.userByOrg.get(id);
  }

  /** Child groups by parent org id (the tree's `parentId` edges), for reading many member lists at once. */
  childIndex(): Map<string, OrgGroup[]> {
    const index = new Map<string, OrgGroup[]>();
    for (const g of this.org.groups) {
      if (g.parentId === null) continue;
      let list = index.get(g.parentId);
      if (!list) index.set(g.parentId, (list = []));
      list.push(g);
    }
    return index;
  }

  /**
   * Direct members of a group in a stable order: users, other objects, then groups. Pass a
   * {@link childIndex} when reading many groups (without one, each call scans every group).
   */
  members(group: OrgGroup, children?: Map<string, OrgGroup[]>): MemberRef[] {
    this.refresh();
    const out: MemberRef[] = [];
    for (const uid of this.org.members.get(group.id) ?? []) {
      const u = this.userByOrg.get(uid);
      if (u && this.isListed(u)) out.push({ type: 'user', obj: u });
    }
    for (const o of this.otherMembers.get(group.id) ?? []) out.push({ type: o.type, obj: o });
    const seen = new Set<string>();
    for (const g of children ? (children.get(group.id) ?? []) : this.org.groups) {
      if (g.parentId === group.id) {
        seen.add(g.id);
        out.push({ type: 'group', obj: g });
      }
    }
    for (const cid of this.nesting.get(group.id) ?? []) {
      const g = this.groupByOrg.get(cid);
      if (g && !seen.has(cid)) {
        seen.add(cid);
        out.push({ type: 'group', obj: g });
      }
    }
    return out;
  }

  /** Adds a group to another group beyond the tree (Graph allows several parents, and cycles). */
  nest(parentId: string, childId: string): void {
    this.apply({ op: 'nest', parentId, childId });
  }

  /** Takes a group out of another (its tree edge and its extra edge, whichever it has). */
  unnest(parentId: string, childId: string): void {
    this.apply({ op: 'unnest', parentId, childId });
  }

  /**
   * Applies one change with the checks of emulator-kit/mutate.ts (404 for a missing object, 409
   * for a taken id or login or a cycling move) and records what it made visible. Returns the
   * added or updated user or group, else null.
   */
  apply(m: GraphMutation): OrgUser | OrgGroup | null {
    this.refresh();
    const { org } = this;
    switch (m.op) {
      case 'addUser': {
        // mutate.addUser's checks, from the indexes (it scans every user twice per call).
        const u = { ...m.user };
        if (this.userByOrg.has(u.id)) throw new mutate.OrgMutationError(`user ${u.id} exists`, 409);
        const login = u.login.toLowerCase();
        if (this.userByLogin.get(login)?.login.toLowerCase() === login) {
          throw new mutate.OrgMutationError(`login ${u.login} is taken`, 409);
        }
        org.users.push(u);
        this.reindex({ add: u });
        if (this.isListed(u)) this.userListing(u, true, this.groupsHolding(u, false));
        return u;
      }
      case 'updateUser': {
        const u = this.user(m.id);
        const was = this.isListed(u);
        const before = was ? this.rendered('users', u) : null;
        const login = u.login;
        Object.assign(u, withoutId(m.patch));
        if (u.login !== login) this.userByLogin.set(u.login.toLowerCase(), u);
        const is = this.isListed(u);
        if (was !== is) this.userListing(u, is, this.groupsHolding(u, false));
        else if (before) this.propsChanged('users', u.id, before, this.rendered('users', u));
        return u;
      }
      case 'removeUser': {
        // mutate.removeUser's effect, with one pass over the member sets instead of two.
        const u = this.user(m.id);
        const groups = this.groupsHolding(u, true);
        org.users = org.users.filter((x) => x.id !== m.id);
        this.reindex({ remove: u });
        // A deprovisioned user was already unlisted and out of its groups' member lists.
        if (this.isListed(u)) this.userListing(u, false, groups);
        return null;
      }
      case 'addGroup': {
        const affected = [m.group.id, ...this.parentsOf(m.group.id, m.group.parentId)];
        const before = this.memberKeysOf(affected);
        const g = mutate.addGroup(org, { ...m.group });
        this.reindex(undefined, { add: g });
        this.changes.record({ kind: 'groups', id: graphId(g.id), what: 'listed' });
        this.membersChanged(affected, before);
        return g;
      }
      case 'updateGroup': {
        const g = this.group(m.id);
        const before = this.rendered('groups', g);
        Object.assign(g, withoutId(m.patch));
        this.propsChanged('groups', g.id, before, this.rendered('groups', g));
        return g;
      }
      case 'removeGroup': {
        const g = this.group(m.id);
        // Its parents lose it; its tree parent also gains its children (mutate.removeGroup).
        const affected = this.parentsOf(g.id, g.parentId);
        const before = this.memberKeysOf(affected);
        const gid = graphId(g.id);
        // Its own members leave with it, so a group re-created under the same id starts empty.
        for (const [, k] of this.memberKeys(g.id)) this.memberChange(gid, k, false);
        this.changes.record({ kind: 'groups', id: gid, what: 'unlisted' });
        mutate.removeGroup(org, m.id);
        this.reindex(undefined, { remove: g });
        this.membersChanged(affected, before);
        return null;
      }
      case 'setParent': {
        const g = this.group(m.id);
        const affected = [g.parentId, m.parentId].filter((p): p is string => p !== null);
        const before = this.memberKeysOf(affected);
        mutate.moveGroup(org, m.id, m.parentId);
        this.membersChanged(affected, before);
        return null;
      }
      case 'addMember':
      case 'removeMember': {
        const g = this.group(m.groupId);
        const u = this.userByOrg.get(m.userId);
        // mutate.removeMember does not ask for the user; addMember does.
        if (!u && m.op === 'addMember') throw notFound('user', m.userId);
        const set = org.members.get(g.id);
        if (!set) return null;
        const had = set.has(m.userId);
        if (m.op === 'addMember') set.add(m.userId);
        else set.delete(m.userId);
        if (u && had !== (m.op === 'addMember') && this.isListed(u)) {
          this.memberChange(graphId(g.id), { type: 'user', id: graphId(u.id) }, m.op === 'addMember');
        }
        return null;
      }
      case 'nest':
      case 'unnest': {
        const parent = this.group(m.parentId);
        const child = this.group(m.childId);
        const before = this.memberKeysOf([parent.id]);
        if (m.op === 'nest') {
          let set = this.nesting.get(parent.id);
          if (!set) this.nesting.set(parent.id, (set = new Set()));
          set.add(child.id);
        } else {
          // Graph has one membership however the emulator models it: both edges go.
          if (child.parentId === parent.id) child.parentId = null;
          this.nesting.get(parent.id)?.delete(child.id);
        }
        this.membersChanged([parent.id], before);
        return null;
      }
      case 'override': {
        const u = this.userByOrg.get(m.id);
        const g = this.groupByOrg.get(m.id);
        const kind: ChangeKind | null = u && this.isListed(u) ? 'users' : g ? 'groups' : null;
        const obj = kind === 'users' ? u : g;
        const before = kind && obj ? this.rendered(kind, obj) : null;
        if (m.patch) this.fieldOverrides.set(m.id, m.patch);
        else this.fieldOverrides.delete(m.id);
        if (kind && obj && before) this.propsChanged(kind, m.id, before, this.rendered(kind, obj));
        return null;
      }
    }
  }

  private user(id: string): OrgUser {
    const u = this.userByOrg.get(id);
    if (!u) throw notFound('user', id);
    return u;
  }

  private group(id: string): OrgGroup {
    const g = this.groupByOrg.get(id);
    if (!g) throw notFound('group', id);
    return g;
  }

  private rendered(kind: ChangeKind, obj: OrgUser | OrgGroup): Record<string, unknown> {
    return kind === 'users'
      ? renderUser(this, obj as OrgUser, ALL_USER_PROPS)
      : renderGroup(this, obj as OrgGroup, ALL_GROUP_PROPS);
  }

  /** Records the rendered properties that differ (Graph tracks changes per selected property). */
  private propsChanged(
    kind: ChangeKind,
    orgId: string,
    before: Record<string, unknown>,
    after: Record<string, unknown>,
  ): void {
    const props = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
      (k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]),
    );
    if (props.length > 0) this.changes.record({ kind, id: graphId(orgId), what: 'props', props });
  }

  /** Org ids of the groups whose member set holds the user (taking it out when `remove`). */
  private groupsHolding(u: OrgUser, remove: boolean): string[] {
    const out: string[] = [];
    for (const [gid, set] of this.org.members) if (remove ? set.delete(u.id) : set.has(u.id)) out.push(gid);
    return out;
  }

  /** A user appearing or disappearing: it joins or leaves the member lists of `groups`, too. */
  private userListing(u: OrgUser, listed: boolean, groups: readonly string[]): void {
    const id = graphId(u.id);
    this.changes.record({ kind: 'users', id, what: listed ? 'listed' : 'unlisted' });
    for (const gid of groups) {
      if (this.groupByOrg.has(gid)) this.memberChange(graphId(gid), { type: 'user', id }, listed);
    }
  }

  private memberChange(groupGraphId: string, m: { type: string; id: string }, added: boolean): void {
    this.changes.record({
      kind: 'groups',
      id: groupGraphId,
      what: 'member',
      added,
      type: m.type,
      member: m.id,
    });
  }

  /** Groups whose member list holds `childId`: its tree parent and every extra parent. */
  private parentsOf(childId: string, treeParent: string | null): string[] {
    const out = new Set<string>();
    if (treeParent !== null) out.add(treeParent);
    for (const [p, kids] of this.nesting) if (kids.has(childId)) out.add(p);
    return [...out];
  }

  private memberKeys(groupId: string): MemberKeys {
    const keys: MemberKeys = new Map();
    const g = this.groupByOrg.get(groupId);
    if (!g) return keys;
    for (const m of this.members(g)) {
      const id = graphId(memberOrgId(m));
      keys.set(`${m.type}|${id}`, { type: m.type, id });
    }
    return keys;
  }

  private memberKeysOf(groupIds: readonly string[]): Map<string, MemberKeys> {
    return new Map(groupIds.map((id) => [id, this.memberKeys(id)]));
  }

  /** Records the members that joined or left each of `groupIds` since `before` was taken. */
  private membersChanged(groupIds: readonly string[], before: Map<string, MemberKeys>): void {
    for (const id of new Set(groupIds)) {
      if (!this.groupByOrg.has(id)) continue;
      const was = before.get(id) ?? new Map();
      const is = this.memberKeys(id);
      const gid = graphId(id);
      for (const [k, m] of was) if (!is.has(k)) this.memberChange(gid, m, false);
      for (const [k, m] of is) if (!was.has(k)) this.memberChange(gid, m, true);
    }
  }
}

/** What a complete, correct sync of the tenant must produce, in Graph ids. */
export interface GraphTruth {
  users: Map<string, { username: string; active: boolean; email: string | null; displayName: string }>;
  groups: Map<string, { name: string; description: string | null }>;
  /** `groupId|user|memberId` and `groupId|group|memberId`. */
  edges: Set<string>;
}

export function truthOf(store: GraphStore): GraphTruth {
  const { org } = store;
  const users: GraphTruth['users'] = new Map();
  for (const u of org.users) {
    if (!store.isListed(u)) continue;
    users.set(graphId(u.id), {
      username: `${u.login}@${org.domain}`,
      active: u.status === 'active',
      email: u.email,
      displayName: u.displayName,
    });
  }
  const groups: GraphTruth['groups'] = new Map();
  const edges = new Set<string>();
  for (const g of org.groups) {
    const gid = graphId(g.id);
    groups.set(gid, { name: g.name, description: g.description === '' ? null : g.description });
    for (const m of store.members(g)) {
      if (m.type === 'user' || m.type === 'group') edges.add(`${gid}|${m.type}|${graphId(m.obj.id)}`);
    }
  }
  return { users, groups, edges };
}
