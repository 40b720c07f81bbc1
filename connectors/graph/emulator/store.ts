/**
 * The emulator's live tenant: the shared {@link Org} (tests mutate it with emulator-kit/mutate.ts)
 * plus what only Graph has: a group can sit in several groups (a DAG, and cycles are possible),
 * and groups hold devices, service principals and org contacts besides users and groups.
 */
import type { Org, OrgGroup, OrgUser } from '../../emulator-kit/org.js';
import { graphId } from './ids.js';
import type { OtherObject } from './model.js';

export type MemberRef =
  | { type: 'user'; obj: OrgUser }
  | { type: 'group'; obj: OrgGroup }
  | { type: OtherObject['type']; obj: OtherObject };

export class GraphStore {
  /**
   * Group-in-group edges besides the org's `parentId` tree: parent group org id → child group
   * org ids. Added through the admin API; nothing stops a cycle, as in Entra ID.
   */
  readonly extraNesting = new Map<string, Set<string>>();
  /** Non-user members per group org id (devices, service principals, org contacts). */
  readonly others = new Map<string, OtherObject[]>();
  /** Field overrides applied to rendered objects (by org id): lets tests serve malformed records. */
  readonly overrides = new Map<string, Record<string, unknown>>();

  private usersRef: OrgUser[] | null = null;
  private usersLen = -1;
  private groupsRef: OrgGroup[] | null = null;
  private groupsLen = -1;
  private userByOrg = new Map<string, OrgUser>();
  private userByGraph = new Map<string, OrgUser>();
  private groupByGraph = new Map<string, OrgGroup>();
  private groupByOrg = new Map<string, OrgGroup>();

  constructor(readonly org: Org) {
    this.seedOthers();
  }

  /** A few groups get a device, a service principal and an org contact, so the skip path runs. */
  private seedOthers(): void {
    this.org.groups.forEach((g, i) => {
      const list: OtherObject[] = [];
      if (i % 10 === 0) list.push({ type: 'device', orgId: `d${g.id}`, displayName: `LAPTOP-${i}` });
      if (i % 25 === 3) list.push({ type: 'servicePrincipal', orgId: `s${g.id}`, displayName: `svc-${i}` });
      if (i % 40 === 5) list.push({ type: 'orgContact', orgId: `c${g.id}`, displayName: `Partner ${i}` });
      if (list.length > 0) this.others.set(g.id, list);
    });
  }

  /** Rebuilds the lookup maps when users or groups were added or removed (mutate.ts pushes or replaces arrays). */
  private refresh(): void {
    const { users, groups } = this.org;
    if (users !== this.usersRef || users.length !== this.usersLen) {
      this.userByOrg = new Map(users.map((u) => [u.id, u]));
      this.userByGraph = new Map(users.map((u) => [graphId(u.id), u]));
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
    for (const o of this.others.get(group.id) ?? []) out.push({ type: o.type, obj: o });
    const seen = new Set<string>();
    for (const g of children ? (children.get(group.id) ?? []) : this.org.groups) {
      if (g.parentId === group.id) {
        seen.add(g.id);
        out.push({ type: 'group', obj: g });
      }
    }
    for (const cid of this.extraNesting.get(group.id) ?? []) {
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
    let set = this.extraNesting.get(parentId);
    if (!set) this.extraNesting.set(parentId, (set = new Set()));
    set.add(childId);
  }

  unnest(parentId: string, childId: string): boolean {
    const g = this.groupById(childId);
    if (g && g.parentId === parentId) {
      g.parentId = null;
      return true;
    }
    return this.extraNesting.get(parentId)?.delete(childId) ?? false;
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
