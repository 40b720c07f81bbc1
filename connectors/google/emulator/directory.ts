/**
 * The emulated Workspace account: an {@link Org} (the live store tests mutate with
 * emulator-kit/mutate.ts) rendered as Directory API resources, plus what Google has and the
 * neutral org model lacks: extra group-in-group edges (a group may sit in several groups, and an
 * admin can make a cycle), CUSTOMER members and external (consumer account) members.
 *
 * Mapping of the org model:
 * - user `suspended` → `suspended: true` (suspensionReason ADMIN); `deprovisioned` → `archived:
 *   true` (an Archived User: kept, cannot sign in). `primaryEmail` is `login@domain` for everyone
 *   (every Google account has one, mailbox or not); the org's `email: null` shows as
 *   `isMailboxSetup: false`.
 * - group nesting: a group's `parentId` makes it a `type: GROUP` member of the parent.
 */
import type { Org, OrgGroup, OrgUser } from '../../emulator-kit/org.js';

export interface ExternalMember {
  type: 'USER' | 'CUSTOMER';
  /** Consumer address for USER; ignored for CUSTOMER. */
  email?: string;
  role?: 'MEMBER' | 'MANAGER' | 'OWNER';
}

type Obj = Record<string, unknown>;

export interface DeletedUser {
  user: OrgUser;
  /** Primary address at deletion. */
  email: string;
  deletedAt: number;
}

/** FNV-1a, for etags and stable pseudo-random choices. */
export function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const etag = (s: string) => `"${fnv(s).toString(36)}/${(fnv(`${s}#`) % 1e9).toString(36)}"`;

function slug(name: string): string {
  return (
    name
      .normalize('NFKD')
      .replace(/\p{M}/gu, '')
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'group'
  );
}

export class GoogleDirectory {
  readonly customerId: string;
  /** Extra parent → child group edges on top of the org's parentId tree (cycles allowed). */
  readonly extraSubgroups = new Map<string, Set<string>>();
  readonly externals = new Map<string, ExternalMember[]>();
  /** Former primary addresses of renamed users (Google keeps them as aliases): address → user id. */
  readonly aliases = new Map<string, string>();
  /** Deleted users, oldest first, as `users.list?showDeleted=true` lists them (20 days in Google). */
  readonly deletedUsers: DeletedUser[] = [];
  /**
   * Per-resource overrides applied after rendering (a value of `undefined` removes the
   * property): malformed records for the connector's problem handling.
   */
  readonly corruptions = new Map<string, Record<string, unknown>>();
  private readonly groupEmails = new Map<string, string>();
  private readonly emailToGroup = new Map<string, string>();
  private userCache: { ref: OrgUser[]; len: number; byId: Map<string, OrgUser>; sorted: OrgUser[] } | null =
    null;
  private groupCache: {
    ref: OrgGroup[];
    len: number;
    byId: Map<string, OrgGroup>;
    sorted: OrgGroup[];
  } | null = null;

  constructor(readonly org: Org) {
    this.customerId = `C0${(fnv(org.domain) % 36 ** 7).toString(36).padStart(7, '0')}`;
  }

  primaryEmail(u: OrgUser): string {
    return `${u.login}@${this.org.domain}`.toLowerCase();
  }

  /** A group's email is fixed when Google first sees the group; renaming keeps it (as in Google). */
  groupEmail(g: OrgGroup): string {
    let e = this.groupEmails.get(g.id);
    if (e === undefined) {
      e = `${slug(g.name)}@${this.org.domain}`;
      if (this.emailToGroup.has(e)) e = `${slug(g.name)}-${g.id}@${this.org.domain}`;
      this.groupEmails.set(g.id, e);
      this.emailToGroup.set(e, g.id);
    }
    return e;
  }

  /** Users sorted by id, cached until the array changes (mutate.ts replaces it or pushes). */
  users(): { byId: Map<string, OrgUser>; sorted: OrgUser[] } {
    const c = this.userCache;
    if (c && c.ref === this.org.users && c.len === this.org.users.length) return c;
    const sorted = [...this.org.users].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const next = {
      ref: this.org.users,
      len: this.org.users.length,
      byId: new Map(sorted.map((u) => [u.id, u])),
      sorted,
    };
    this.userCache = next;
    return next;
  }

  groups(): { byId: Map<string, OrgGroup>; sorted: OrgGroup[] } {
    const c = this.groupCache;
    if (c && c.ref === this.org.groups && c.len === this.org.groups.length) return c;
    const sorted = [...this.org.groups].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const g of sorted) this.groupEmail(g);
    const next = {
      ref: this.org.groups,
      len: this.org.groups.length,
      byId: new Map(sorted.map((g) => [g.id, g])),
      sorted,
    };
    this.groupCache = next;
    return next;
  }

  findUser(key: string): OrgUser | undefined {
    const { byId } = this.users();
    const u = byId.get(key);
    if (u) return u;
    const k = key.toLowerCase();
    const byEmail = this.org.users.find((x) => this.primaryEmail(x) === k);
    if (byEmail) return byEmail;
    const aliasOf = this.aliases.get(k);
    return aliasOf === undefined ? undefined : byId.get(aliasOf);
  }

  /** A deleted user as `users.list?showDeleted=true` renders it. */
  renderDeletedUser(d: DeletedUser): Obj {
    return {
      ...this.renderUser(d.user),
      primaryEmail: d.email,
      deletionTime: new Date(d.deletedAt).toISOString(),
    };
  }

  findGroup(key: string): OrgGroup | undefined {
    const { byId } = this.groups();
    const g = byId.get(key);
    if (g) return g;
    const id = this.emailToGroup.get(key.toLowerCase());
    return id === undefined ? undefined : byId.get(id);
  }

  /** Child groups of `groupId`: the org tree plus the extra edges (ids of existing groups). */
  childGroups(groupId: string): string[] {
    const { byId } = this.groups();
    const out = new Set<string>();
    for (const g of this.org.groups) if (g.parentId === groupId) out.add(g.id);
    for (const c of this.extraSubgroups.get(groupId) ?? []) if (byId.has(c)) out.add(c);
    return [...out];
  }

  /** Child-group counts of every group at once (for directMembersCount on a page of groups). */
  childCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const g of this.org.groups)
      if (g.parentId) counts.set(g.parentId, (counts.get(g.parentId) ?? 0) + 1);
    const { byId } = this.groups();
    for (const [p, set] of this.extraSubgroups) {
      for (const c of set) if (byId.has(c)) counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    return counts;
  }

  renderUser(u: OrgUser): Obj {
    const primaryEmail = this.primaryEmail(u);
    const suspended = u.status === 'suspended';
    const user: Obj = {
      kind: 'admin#directory#user',
      id: u.id,
      etag: etag(`${u.id}|${u.login}|${u.status}|${u.givenName}|${u.familyName}|${u.title}|${u.department}`),
      primaryEmail,
      name: {
        givenName: u.givenName,
        familyName: u.familyName,
        fullName: u.displayName,
        displayName: u.displayName,
      },
      isAdmin: false,
      isDelegatedAdmin: false,
      lastLoginTime: '1970-01-01T00:00:00.000Z',
      creationTime: u.created,
      agreedToTerms: true,
      suspended,
      archived: u.status === 'deprovisioned',
      changePasswordAtNextLogin: false,
      ipWhitelisted: false,
      emails: [{ address: primaryEmail, primary: true }],
      organizations: [{ title: u.title, department: u.department, primary: true, customType: '' }],
      customerId: this.customerId,
      orgUnitPath: '/',
      isMailboxSetup: u.email !== null,
      isEnrolledIn2Sv: false,
      isEnforcedIn2Sv: false,
      includeInGlobalAddressList: true,
    };
    if (suspended) user.suspensionReason = 'ADMIN';
    return this.corrupted(u.id, user);
  }

  renderGroup(g: OrgGroup, childCount: number): Obj {
    const email = this.groupEmail(g);
    const direct =
      (this.org.members.get(g.id)?.size ?? 0) + childCount + (this.externals.get(g.id)?.length ?? 0);
    return this.corrupted(g.id, {
      kind: 'admin#directory#group',
      id: g.id,
      etag: etag(`${g.id}|${g.name}|${g.description}|${direct}`),
      email,
      name: g.name,
      // int64 values travel as strings in Google's JSON.
      directMembersCount: String(direct),
      description: g.description,
      adminCreated: true,
      nonEditableAliases: [email.replace(/@(.*)$/, '@$1.test-google-a.com')],
    });
  }

  private corrupted(id: string, o: Obj): Obj {
    const patch = this.corruptions.get(id);
    if (!patch) return o;
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) delete o[k];
      else o[k] = v;
    }
    return o;
  }

  private role(groupId: string, memberId: string): 'MEMBER' | 'MANAGER' | 'OWNER' {
    const h = fnv(`${groupId}:${memberId}`) % 20;
    return h === 0 ? 'OWNER' : h === 1 ? 'MANAGER' : 'MEMBER';
  }

  /** Direct members of a group, sorted by id (the page-token key). */
  members(g: OrgGroup): Obj[] {
    const out: Obj[] = [];
    const { byId: users } = this.users();
    const { byId: groups } = this.groups();
    for (const uid of this.org.members.get(g.id) ?? []) {
      const u = users.get(uid);
      if (!u) continue;
      out.push({
        kind: 'admin#directory#member',
        etag: etag(`${g.id}:${uid}:${u.status}`),
        id: uid,
        email: this.primaryEmail(u),
        role: this.role(g.id, uid),
        type: 'USER',
        status: u.status === 'suspended' ? 'SUSPENDED' : 'ACTIVE',
      });
    }
    for (const cid of this.childGroups(g.id)) {
      const c = groups.get(cid) as OrgGroup;
      out.push({
        kind: 'admin#directory#member',
        etag: etag(`${g.id}:${cid}`),
        id: cid,
        email: this.groupEmail(c),
        role: 'MEMBER',
        type: 'GROUP',
        status: 'ACTIVE',
      });
    }
    for (const x of this.externals.get(g.id) ?? []) {
      if (x.type === 'CUSTOMER') {
        out.push({
          kind: 'admin#directory#member',
          etag: etag(`${g.id}:customer`),
          id: this.customerId,
          role: x.role ?? 'MEMBER',
          type: 'CUSTOMER',
        });
      } else {
        const email = (x.email ?? 'someone@gmail.com').toLowerCase();
        out.push({
          kind: 'admin#directory#member',
          etag: etag(`${g.id}:${email}`),
          // Consumer accounts have a numeric Google id of their own.
          id: `1${String(fnv(email)).padStart(20, '0')}`,
          email,
          role: x.role ?? 'MEMBER',
          type: 'USER',
          status: 'ACTIVE',
        });
      }
    }
    out.sort((a, b) =>
      (a.id as string) < (b.id as string) ? -1 : (a.id as string) > (b.id as string) ? 1 : 0,
    );
    return out;
  }

  /** `includeDerivedMembership=true`: direct members plus the users of nested groups (cycle-safe). */
  derivedMembers(g: OrgGroup): Obj[] {
    const direct = this.members(g);
    const seen = new Set(direct.map((m) => m.id as string));
    const visited = new Set([g.id]);
    const stack = this.childGroups(g.id);
    const extra: Obj[] = [];
    while (stack.length > 0) {
      const cid = stack.pop() as string;
      if (visited.has(cid)) continue;
      visited.add(cid);
      const child = this.groups().byId.get(cid);
      if (!child) continue;
      for (const m of this.members(child)) {
        if (m.type === 'GROUP') stack.push(m.id as string);
        else if (!seen.has(m.id as string)) {
          seen.add(m.id as string);
          extra.push(m);
        }
      }
    }
    return [...direct, ...extra].sort((a, b) => ((a.id as string) < (b.id as string) ? -1 : 1));
  }
}
