/**
 * The one path that changes the emulated Workspace account. Every change goes through here, so the
 * audit log (activity.ts) records exactly what a reader of the Directory API can see change, as the
 * Admin console would: the admin API (`/__emulator/...`), seeded plans and tests all use it.
 *
 * Event names and parameters follow Google's admin activity reference (USER_SETTINGS and
 * GROUP_SETTINGS). Two are this emulator's choice where the org model has a field Google's
 * reference names no event for: `CHANGE_DISPLAY_NAME` and `CHANGE_USER_ORGANIZATION` (title,
 * department). Readers should re-read on any USER_SETTINGS event that names a user.
 *
 * Less than Google: deleting a group does not re-parent its subgroups (Google has no tree; the
 * neutral org model's `removeGroup` moves them up, which Google never does, so this store makes
 * them top-level instead); member changes that do not change the visible member list log nothing.
 */
import { applyMutation } from '../../emulator-kit/apply.js';
import {
  addGroup,
  addMember,
  addUser,
  moveGroup,
  OrgMutationError,
  removeGroup,
  removeMember,
  removeUser,
  updateGroup,
  updateUser,
} from '../../emulator-kit/mutate.js';
import type { OrgGroup, OrgUser } from '../../emulator-kit/org.js';
import type { Mutation } from '../../emulator-kit/plan.js';
import { ActivityLog } from './activity.js';
import type { ExternalMember, GoogleDirectory } from './directory.js';

/** How long Google keeps deleted users restorable (and listed with `showDeleted=true`): 20 days. */
export const DELETED_USER_RETENTION_MS = 20 * 24 * 3600 * 1000;

export class GoogleStore {
  readonly log: ActivityLog;
  /**
   * Users by id, kept by this store (every mutation goes through it). The directory's own index
   * re-sorts all users whenever the array changes: fine per API read, far too slow per mutation
   * in a 1% plan at 100k users.
   */
  private byId: Map<string, OrgUser> | null = null;

  constructor(
    readonly directory: GoogleDirectory,
    adminEmail: string,
  ) {
    this.log = new ActivityLog(adminEmail);
  }

  private get org() {
    return this.directory.org;
  }

  private user(type: 'USER_SETTINGS', name: string, email: string, extra: Record<string, string> = {}) {
    this.log.record(type, name, { USER_EMAIL: email, ...extra });
  }

  private group(name: string, params: Record<string, string | undefined>) {
    this.log.record('GROUP_SETTINGS', name, params);
  }

  private userIndex(): Map<string, OrgUser> {
    // Rebuilt if the org was changed behind the store's back (a test editing it directly).
    if (this.byId?.size !== this.org.users.length) this.byId = new Map(this.org.users.map((u) => [u.id, u]));
    return this.byId;
  }

  private findUser(id: string): OrgUser {
    const u = this.userIndex().get(id);
    if (!u) throw new OrgMutationError(`no user ${id}`, 404);
    return u;
  }

  private findGroup(id: string): OrgGroup {
    const g = this.directory.groups().byId.get(id);
    if (!g) throw new OrgMutationError(`no group ${id}`, 404);
    return g;
  }

  addUser(user: OrgUser): OrgUser {
    const index = this.userIndex(); // in step with the org before it changes
    addUser(this.org, user);
    index.set(user.id, user);
    const email = this.directory.primaryEmail(user);
    this.user('USER_SETTINGS', 'CREATE_USER', email);
    if (user.status === 'suspended') this.user('USER_SETTINGS', 'SUSPEND_USER', email);
    if (user.status === 'deprovisioned') this.user('USER_SETTINGS', 'ARCHIVE_USER', email);
    return user;
  }

  updateUser(id: string, patch: Partial<Omit<OrgUser, 'id'>>): OrgUser {
    const before = { ...this.findUser(id) };
    const oldEmail = this.directory.primaryEmail(before);
    if (patch.login !== undefined && patch.login.toLowerCase() !== before.login.toLowerCase()) {
      const taken = this.org.users.some(
        (x) => x.id !== id && x.login.toLowerCase() === patch.login?.toLowerCase(),
      );
      if (taken) throw new OrgMutationError(`login ${patch.login} is taken`, 409);
    }
    const u = updateUser(this.org, id, patch);
    const email = this.directory.primaryEmail(u);
    if (email !== oldEmail) {
      // Google keeps the old address as an alias of the renamed user.
      this.directory.aliases.set(oldEmail, id);
      this.user('USER_SETTINGS', 'RENAME_USER', oldEmail, { NEW_VALUE: email });
    }
    if (u.givenName !== before.givenName)
      this.user('USER_SETTINGS', 'CHANGE_FIRST_NAME', email, { NEW_VALUE: u.givenName });
    if (u.familyName !== before.familyName)
      this.user('USER_SETTINGS', 'CHANGE_LAST_NAME', email, { NEW_VALUE: u.familyName });
    if (u.displayName !== before.displayName)
      this.user('USER_SETTINGS', 'CHANGE_DISPLAY_NAME', email, { NEW_VALUE: u.displayName });
    if (u.title !== before.title || u.department !== before.department)
      this.user('USER_SETTINGS', 'CHANGE_USER_ORGANIZATION', email);
    if (u.email !== before.email) this.user('USER_SETTINGS', 'CHANGE_USER_ORGANIZATION', email);
    if (u.status !== before.status) {
      if (before.status === 'suspended') this.user('USER_SETTINGS', 'UNSUSPEND_USER', email);
      if (before.status === 'deprovisioned') this.user('USER_SETTINGS', 'UNARCHIVE_USER', email);
      if (u.status === 'suspended') this.user('USER_SETTINGS', 'SUSPEND_USER', email);
      if (u.status === 'deprovisioned') this.user('USER_SETTINGS', 'ARCHIVE_USER', email);
    }
    return u;
  }

  /** Deletes a user; Google lists it with `showDeleted=true` for 20 days (restorable). */
  removeUser(id: string): void {
    const u = this.findUser(id);
    const email = this.directory.primaryEmail(u);
    const index = this.userIndex();
    removeUser(this.org, id);
    index.delete(id);
    for (const [alias, owner] of this.directory.aliases)
      if (owner === id) this.directory.aliases.delete(alias);
    const now = Date.now();
    this.directory.deletedUsers.push({ user: { ...u }, email, deletedAt: now });
    const cutoff = now - DELETED_USER_RETENTION_MS;
    while ((this.directory.deletedUsers[0]?.deletedAt ?? now) < cutoff) this.directory.deletedUsers.shift();
    this.user('USER_SETTINGS', 'DELETE_USER', email);
  }

  /** Runs `change` and logs the add/remove member events of the visible child-group edges it changed. */
  private withGroupEdges(parents: (string | null)[], child: string, change: () => void): void {
    const visible = (p: string) =>
      this.directory.groups().byId.has(p) && this.directory.childGroups(p).includes(child);
    const ids = [...new Set(parents.filter((p): p is string => p !== null))];
    const before = new Map(ids.map((p) => [p, visible(p)]));
    change();
    const c = this.directory.groups().byId.get(child);
    if (!c) return;
    const childEmail = this.directory.groupEmail(c);
    for (const p of ids) {
      const now = visible(p);
      if (now === before.get(p)) continue;
      const pg = this.directory.groups().byId.get(p);
      if (!pg) continue;
      this.group(now ? 'ADD_GROUP_MEMBER' : 'REMOVE_GROUP_MEMBER', {
        USER_EMAIL: childEmail,
        GROUP_EMAIL: this.directory.groupEmail(pg),
      });
    }
  }

  addGroup(group: OrgGroup): OrgGroup {
    const parentId = group.parentId;
    // The group is created at the top and then moved: its parent is checked first, so a missing one
    // refuses the whole change instead of leaving the group created at the top.
    if (parentId) this.findGroup(parentId);
    addGroup(this.org, { ...group, parentId: null });
    const g = this.findGroup(group.id);
    this.group('CREATE_GROUP', { GROUP_EMAIL: this.directory.groupEmail(g) });
    if (parentId) this.withGroupEdges([parentId], g.id, () => moveGroup(this.org, g.id, parentId));
    return g;
  }

  updateGroup(id: string, patch: Partial<Pick<OrgGroup, 'name' | 'description'>>): OrgGroup {
    const before = { ...this.findGroup(id) };
    const g = updateGroup(this.org, id, patch);
    const email = this.directory.groupEmail(g);
    if (g.name !== before.name)
      this.group('CHANGE_GROUP_NAME', { GROUP_EMAIL: email, NEW_VALUE: g.name, OLD_VALUE: before.name });
    if (g.description !== before.description) this.group('CHANGE_GROUP_DESCRIPTION', { GROUP_EMAIL: email });
    return g;
  }

  removeGroup(id: string): void {
    const g = this.findGroup(id);
    const email = this.directory.groupEmail(g);
    // Google has no tree: the subgroups of a deleted group simply stop being its members.
    for (const child of this.org.groups) if (child.parentId === id) child.parentId = null;
    removeGroup(this.org, id);
    this.directory.extraSubgroups.delete(id);
    for (const set of this.directory.extraSubgroups.values()) set.delete(id);
    this.directory.externals.delete(id);
    this.group('DELETE_GROUP', { GROUP_EMAIL: email });
  }

  moveGroup(id: string, parentId: string | null): void {
    const g = this.findGroup(id);
    this.withGroupEdges([g.parentId, parentId], id, () => moveGroup(this.org, id, parentId));
  }

  addMember(groupId: string, userId: string): void {
    const g = this.findGroup(groupId);
    const u = this.findUser(userId);
    const had = this.org.members.get(groupId)?.has(userId) ?? false;
    addMember(this.org, groupId, userId);
    if (!had) {
      this.group('ADD_GROUP_MEMBER', {
        USER_EMAIL: this.directory.primaryEmail(u),
        GROUP_EMAIL: this.directory.groupEmail(g),
      });
    }
  }

  removeMember(groupId: string, userId: string): void {
    const g = this.findGroup(groupId);
    const had = this.org.members.get(groupId)?.has(userId) ?? false;
    removeMember(this.org, groupId, userId);
    const u = this.userIndex().get(userId);
    if (had && u) {
      this.group('REMOVE_GROUP_MEMBER', {
        USER_EMAIL: this.directory.primaryEmail(u),
        GROUP_EMAIL: this.directory.groupEmail(g),
      });
    }
  }

  /** An extra group-in-group edge (a group may sit in several groups; cycles are allowed). */
  addSubgroup(parentId: string, childId: string): { parentId: string; childId: string } {
    this.findGroup(parentId);
    this.findGroup(childId);
    this.withGroupEdges([parentId], childId, () => {
      let set = this.directory.extraSubgroups.get(parentId);
      if (!set) this.directory.extraSubgroups.set(parentId, (set = new Set()));
      set.add(childId);
    });
    return { parentId, childId };
  }

  removeSubgroup(parentId: string, childId: string): { parentId: string; childId: string } {
    this.withGroupEdges([parentId], childId, () =>
      this.directory.extraSubgroups.get(parentId)?.delete(childId),
    );
    return { parentId, childId };
  }

  addExternalMember(groupId: string, m: ExternalMember): ExternalMember {
    const g = this.findGroup(groupId);
    let list = this.directory.externals.get(groupId);
    if (!list) this.directory.externals.set(groupId, (list = []));
    list.push(m);
    this.group('ADD_GROUP_MEMBER', {
      ...(m.type === 'USER' ? { USER_EMAIL: (m.email ?? 'someone@gmail.com').toLowerCase() } : {}),
      GROUP_EMAIL: this.directory.groupEmail(g),
    });
    return m;
  }

  /** Applies one seeded plan operation (emulator-kit/plan.ts). */
  apply(m: Mutation): void {
    applyMutation(this, m);
  }
}
