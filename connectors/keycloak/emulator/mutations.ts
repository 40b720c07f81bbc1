/**
 * The one path through which the emulated realm changes (the control API, `POST /__emulator/mutate`
 * and tests all use it), so that every change is recorded as the admin event real Keycloak 26
 * records for the admin REST call that makes it:
 *
 * | change                  | admin call                                 | event (type, operation, path)                 |
 * |-------------------------|--------------------------------------------|-----------------------------------------------|
 * | create user             | `POST users`                               | USER CREATE `users/{id}`, rep = request body  |
 * | update user             | `PUT users/{id}`                           | USER UPDATE `users/{id}`, rep = request body  |
 * | delete user             | `DELETE users/{id}`                        | USER DELETE `users/{id}` (no membership events) |
 * | create top-level group  | `POST groups`                              | GROUP CREATE `groups/{id}`                    |
 * | create subgroup         | `POST groups/{parent}/children`            | GROUP CREATE `groups/{parent}/children`, rep carries the new id |
 * | rename group            | `PUT groups/{id}`                          | GROUP UPDATE `groups/{id}`                    |
 * | move group under parent | `POST groups/{parent}/children` `{id,...}` | GROUP UPDATE `groups/{parent}/children`       |
 * | move group to the top   | `POST groups` `{id,...}`                   | GROUP UPDATE `groups`                         |
 * | delete group            | `DELETE groups/{id}`                       | GROUP DELETE `groups/{id}`; its subgroups are deleted with it, silently |
 * | join / leave group      | `PUT|DELETE users/{uid}/groups/{gid}`      | GROUP_MEMBERSHIP CREATE/DELETE `users/{uid}/groups/{gid}`, only when membership changed |
 *
 * (GroupsResource.addTopLevelGroup, GroupResource.addChild/deleteGroup, UserResource.joinGroup/
 * removeMembership, JpaRealmProvider.removeGroup, which removes subgroups recursively.)
 */
import { applyMutation, applyPlan, type PlanReport } from '../../emulator-kit/apply.js';
import { OrgMutationError } from '../../emulator-kit/mutate.js';
import type { Org, OrgGroup, OrgUser } from '../../emulator-kit/org.js';
import type { Mutation } from '../../emulator-kit/plan.js';
import type { AdminEventLog } from './events.js';

/** The UserRepresentation an admin sends to create or update a user. */
function userBody(u: OrgUser): Record<string, unknown> {
  return {
    username: u.login.toLowerCase(),
    ...(u.email ? { email: u.email.toLowerCase() } : {}),
    firstName: u.givenName,
    lastName: u.familyName,
    enabled: u.status === 'active',
    attributes: { department: [u.department], title: [u.title] },
  };
}

export class RealmMutations {
  constructor(
    private readonly org: Org,
    private readonly events: AdminEventLog,
  ) {}

  private user(id: string): OrgUser {
    const u = this.org.users.find((x) => x.id === id);
    if (!u) throw new OrgMutationError(`User not found`, 404);
    return u;
  }

  private group(id: string): OrgGroup {
    const g = this.org.groups.find((x) => x.id === id);
    if (!g) throw new OrgMutationError(`Could not find group by id`, 404);
    return g;
  }

  addUser(user: OrgUser): OrgUser {
    if (this.org.users.some((x) => x.id === user.id))
      throw new OrgMutationError(`user ${user.id} exists`, 409);
    if (this.org.users.some((x) => x.login.toLowerCase() === user.login.toLowerCase()))
      throw new OrgMutationError('User exists with same username', 409);
    this.org.users.push(user);
    this.events.record('CREATE', 'USER', `users/${user.id}`, userBody(user));
    return user;
  }

  updateUser(id: string, patch: Partial<Omit<OrgUser, 'id'>>): OrgUser {
    const u = this.user(id);
    if (
      patch.login !== undefined &&
      this.org.users.some(
        (x) => x.id !== id && x.login.toLowerCase() === (patch.login as string).toLowerCase(),
      )
    )
      throw new OrgMutationError('User exists with same username', 409);
    Object.assign(u, patch);
    this.events.record('UPDATE', 'USER', `users/${id}`, userBody(u));
    return u;
  }

  removeUser(id: string): void {
    this.user(id);
    this.org.users = this.org.users.filter((x) => x.id !== id);
    for (const set of this.org.members.values()) set.delete(id);
    this.events.record('DELETE', 'USER', `users/${id}`);
  }

  addGroup(group: OrgGroup): OrgGroup {
    if (this.org.groups.some((x) => x.id === group.id))
      throw new OrgMutationError(`group ${group.id} exists`, 409);
    if (group.parentId) this.group(group.parentId);
    const sibling = this.org.groups.some((x) => x.parentId === group.parentId && x.name === group.name);
    if (sibling) throw new OrgMutationError(`Sibling group named '${group.name}' already exists.`, 409);
    this.org.groups.push(group);
    this.org.members.set(group.id, new Set());
    const rep = {
      id: group.id,
      name: group.name,
      ...(group.description ? { description: group.description } : {}),
    };
    if (group.parentId) this.events.record('CREATE', 'GROUP', `groups/${group.parentId}/children`, rep);
    else this.events.record('CREATE', 'GROUP', `groups/${group.id}`, rep);
    return group;
  }

  updateGroup(id: string, patch: Partial<Pick<OrgGroup, 'name' | 'description'>>): OrgGroup {
    const g = this.group(id);
    Object.assign(g, patch);
    this.events.record('UPDATE', 'GROUP', `groups/${id}`, {
      id,
      name: g.name,
      ...(g.description ? { description: g.description } : {}),
    });
    return g;
  }

  /** Deletes a group and, as Keycloak does, every group below it; one event names the group only. */
  removeGroup(id: string): void {
    this.group(id);
    const doomed = new Set([id]);
    for (let grew = true; grew;) {
      grew = false;
      for (const g of this.org.groups) {
        if (g.parentId !== null && doomed.has(g.parentId) && !doomed.has(g.id)) {
          doomed.add(g.id);
          grew = true;
        }
      }
    }
    this.org.groups = this.org.groups.filter((g) => !doomed.has(g.id));
    for (const d of doomed) this.org.members.delete(d);
    this.events.record('DELETE', 'GROUP', `groups/${id}`);
  }

  /** Moves a group under another, or to the top with null. A move into its own subtree is refused. */
  moveGroup(id: string, parentId: string | null): void {
    const g = this.group(id);
    for (let p = parentId; p !== null; p = this.group(p).parentId) {
      if (p === id) throw new OrgMutationError('Cannot move group into its own subgroup', 400);
    }
    g.parentId = parentId;
    const rep = { id, name: g.name };
    if (parentId) this.events.record('UPDATE', 'GROUP', `groups/${parentId}/children`, rep);
    else this.events.record('UPDATE', 'GROUP', 'groups', rep);
  }

  /** The GroupRepresentation (full) Keycloak puts on a membership event. */
  private groupRep(g: OrgGroup): Record<string, unknown> {
    const parts: string[] = [];
    for (
      let c: OrgGroup | undefined = g;
      c;
      c = c.parentId ? this.org.groups.find((x) => x.id === c!.parentId) : undefined
    )
      parts.unshift(c.name.replace(/\//g, '~/'));
    return {
      id: g.id,
      name: g.name,
      path: `/${parts.join('/')}`,
      ...(g.parentId ? { parentId: g.parentId } : {}),
      subGroups: [],
      attributes: {},
      realmRoles: [],
      clientRoles: {},
    };
  }

  addMember(groupId: string, userId: string): void {
    const g = this.group(groupId);
    this.user(userId);
    const set = this.org.members.get(groupId) ?? new Set<string>();
    this.org.members.set(groupId, set);
    if (set.has(userId)) return;
    set.add(userId);
    this.events.record('CREATE', 'GROUP_MEMBERSHIP', `users/${userId}/groups/${groupId}`, this.groupRep(g));
  }

  removeMember(groupId: string, userId: string): void {
    const g = this.group(groupId);
    this.user(userId);
    const set = this.org.members.get(groupId);
    if (!set?.has(userId)) return;
    set.delete(userId);
    this.events.record('DELETE', 'GROUP_MEMBERSHIP', `users/${userId}/groups/${groupId}`, this.groupRep(g));
  }

  /**
   * Applies a plan (emulator-kit/plan.ts) in order. An operation on an object that no longer exists
   * (a subgroup deleted with its parent earlier in the plan) fails as the admin call would, and is
   * skipped and reported (emulator-kit/apply.ts).
   */
  apply(plan: readonly Mutation[]): PlanReport {
    return applyPlan(plan, (m) => applyMutation(this, m));
  }
}
