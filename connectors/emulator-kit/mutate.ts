/**
 * Mutations of an {@link Org}, shared by every emulator's admin API so tests can change an org
 * between syncs (add, rename, disable, remove users; change memberships; move subgroups).
 */
import type { Org, OrgGroup, OrgUser } from './org.js';

export class OrgMutationError extends Error {
  constructor(
    message: string,
    readonly status: 404 | 409 | 400,
  ) {
    super(message);
  }
}

function findUser(org: Org, id: string): OrgUser {
  const u = org.users.find((x) => x.id === id);
  if (!u) throw new OrgMutationError(`no user ${id}`, 404);
  return u;
}

function findGroup(org: Org, id: string): OrgGroup {
  const g = org.groups.find((x) => x.id === id);
  if (!g) throw new OrgMutationError(`no group ${id}`, 404);
  return g;
}

export function addUser(org: Org, user: OrgUser): OrgUser {
  if (org.users.some((x) => x.id === user.id)) throw new OrgMutationError(`user ${user.id} exists`, 409);
  if (org.users.some((x) => x.login.toLowerCase() === user.login.toLowerCase())) {
    throw new OrgMutationError(`login ${user.login} is taken`, 409);
  }
  org.users.push(user);
  return user;
}

export function updateUser(org: Org, id: string, patch: Partial<Omit<OrgUser, 'id'>>): OrgUser {
  return Object.assign(findUser(org, id), patch);
}

export function removeUser(org: Org, id: string): void {
  findUser(org, id);
  org.users = org.users.filter((x) => x.id !== id);
  for (const set of org.members.values()) set.delete(id);
}

export function addGroup(org: Org, group: OrgGroup): OrgGroup {
  if (org.groups.some((x) => x.id === group.id)) throw new OrgMutationError(`group ${group.id} exists`, 409);
  if (group.parentId) findGroup(org, group.parentId);
  org.groups.push(group);
  org.members.set(group.id, new Set());
  return group;
}

export function updateGroup(
  org: Org,
  id: string,
  patch: Partial<Pick<OrgGroup, 'name' | 'description'>>,
): OrgGroup {
  return Object.assign(findGroup(org, id), patch);
}

/** Removes a group; its subgroups move up to its parent, as when an admin deletes a middle group. */
export function removeGroup(org: Org, id: string): void {
  const g = findGroup(org, id);
  org.groups = org.groups.filter((x) => x.id !== id);
  org.members.delete(id);
  for (const child of org.groups) if (child.parentId === id) child.parentId = g.parentId;
}

export function addMember(org: Org, groupId: string, userId: string): void {
  findGroup(org, groupId);
  findUser(org, userId);
  org.members.get(groupId)?.add(userId);
}

export function removeMember(org: Org, groupId: string, userId: string): void {
  findGroup(org, groupId);
  org.members.get(groupId)?.delete(userId);
}

/** Moves a group under another (or to the top with null). Refuses a move that would make a cycle. */
export function moveGroup(org: Org, id: string, parentId: string | null): void {
  const g = findGroup(org, id);
  for (let p = parentId; p !== null; p = findGroup(org, p).parentId) {
    if (p === id) throw new OrgMutationError(`moving ${id} under ${parentId} would make a cycle`, 409);
  }
  g.parentId = parentId;
}
