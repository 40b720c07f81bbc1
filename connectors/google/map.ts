/**
 * Maps Directory API resources to directory records. Hand-written checks: this runs once per
 * record, about a million times for a large tenant.
 *
 * Resources: https://developers.google.com/workspace/admin/directory/reference/rest/v1/users,
 * .../groups and .../members.
 */
import {
  sourceProblem,
  type SourceEdge,
  type SourceGroup,
  type SourceProblem,
  type SourceUser,
} from '../types.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The user's primary organization entry (`organizations` is typed `any` in the API). */
function primaryOrganization(v: unknown): Obj | null {
  if (!Array.isArray(v)) return null;
  const orgs = v.filter(isObj);
  return orgs.find((o) => o.primary === true) ?? orgs[0] ?? null;
}

/**
 * A user. Username and email are `primaryEmail`, Google's login name. `active` is false for
 * suspended users and for archived ones (Archived User licence: they cannot sign in either).
 */
export function mapUser(raw: unknown): SourceUser | SourceProblem {
  if (!isObj(raw)) return sourceProblem('user', null, 'user is not an object');
  const id = text(raw.id);
  if (id === null) return sourceProblem('user', null, 'user has no id', { primaryEmail: raw.primaryEmail });
  const errors: string[] = [];
  const primaryEmail = text(raw.primaryEmail);
  if (primaryEmail === null) errors.push('primaryEmail is missing');
  for (const key of ['suspended', 'archived', 'isAdmin'] as const) {
    if (raw[key] !== undefined && raw[key] !== null && typeof raw[key] !== 'boolean')
      errors.push(`${key} is not a boolean`);
  }
  if (raw.name !== undefined && !isObj(raw.name)) errors.push('name is not an object');
  if (errors.length > 0)
    return sourceProblem('user', id, errors.join('; '), { primaryEmail: raw.primaryEmail });

  const name = isObj(raw.name) ? raw.name : {};
  const givenName = text(name.givenName);
  const familyName = text(name.familyName);
  // `suspended` missing (a trimmed `fields` mask) or null: unknown, never read as "not suspended"
  // (that would reactivate a suspended user). `archived` is newer and often left out: absent is false.
  const suspended = raw.suspended === true;
  const suspendedKnown = typeof raw.suspended === 'boolean';
  const archived = raw.archived === true;
  const org = primaryOrganization(raw.organizations);
  const attributes: Obj = {
    status: suspended ? 'suspended' : archived ? 'archived' : suspendedKnown ? 'active' : 'unknown',
    suspended,
    archived,
  };
  if (typeof raw.suspensionReason === 'string') attributes.suspensionReason = raw.suspensionReason;
  if (typeof raw.isAdmin === 'boolean') attributes.isAdmin = raw.isAdmin;
  if (typeof raw.orgUnitPath === 'string') attributes.orgUnitPath = raw.orgUnitPath;
  if (typeof raw.customerId === 'string') attributes.customerId = raw.customerId;
  if (typeof raw.creationTime === 'string') attributes.creationTime = raw.creationTime;
  if (org) {
    for (const key of ['department', 'title', 'costCenter', 'location'] as const) {
      const v = text(org[key]);
      if (v !== null) attributes[key] = v;
    }
  }
  return {
    kind: 'user',
    externalId: id,
    username: primaryEmail as string,
    email: primaryEmail,
    displayName: text(name.fullName) ?? ([givenName, familyName].filter(Boolean).join(' ') || null),
    givenName,
    familyName,
    active: suspended || archived ? false : suspendedKnown ? true : null,
    attributes,
  };
}

/** A group. Google has no "empty" description: `""` and a missing one both mean none. */
export function mapGroup(raw: unknown): SourceGroup | SourceProblem {
  if (!isObj(raw)) return sourceProblem('group', null, 'group is not an object');
  const id = text(raw.id);
  if (id === null) return sourceProblem('group', null, 'group has no id', { email: raw.email });
  const name = text(raw.name) ?? text(raw.email);
  if (name === null) return sourceProblem('group', id, 'group has neither name nor email');
  if (raw.description !== undefined && typeof raw.description !== 'string') {
    return sourceProblem('group', id, 'description is not a string', { email: raw.email });
  }
  const attributes: Obj = {};
  if (typeof raw.email === 'string') attributes.email = raw.email;
  // directMembersCount is an int64, which the API sends as a string.
  if (typeof raw.directMembersCount === 'string' && /^\d+$/.test(raw.directMembersCount)) {
    attributes.directMembersCount = Number(raw.directMembersCount);
  }
  if (typeof raw.adminCreated === 'boolean') attributes.adminCreated = raw.adminCreated;
  return { kind: 'group', externalId: id, name, description: text(raw.description), attributes };
}

/** What a member entry becomes: an edge, a problem, or a skip (with the reason, for the log). */
export type MemberResult = SourceEdge | SourceProblem | { kind: 'skip'; reason: string };

/**
 * A direct member of `groupId`. `USER` and `GROUP` become edges; `CUSTOMER` (the whole account
 * as a member, "everyone in the organisation") has no edge to give and is skipped.
 * Whether a `USER` belongs to this account is decided by the reader (external accounts).
 */
export function mapMember(groupId: string, raw: unknown): MemberResult {
  if (!isObj(raw)) return sourceProblem('edge', groupId, `group ${groupId}: member is not an object`);
  const type = raw.type;
  if (type === 'CUSTOMER') return { kind: 'skip', reason: 'CUSTOMER member' };
  if (type !== 'USER' && type !== 'GROUP') {
    if (typeof type === 'string') return { kind: 'skip', reason: `member type ${type}` };
    return sourceProblem('edge', groupId, `group ${groupId}: member has no type`, { email: raw.email });
  }
  const id = text(raw.id);
  if (id === null) {
    // External addresses without a Google account have no id: they cannot be a directory user.
    if (type === 'USER' && typeof raw.email === 'string')
      return { kind: 'skip', reason: 'external member without id' };
    return sourceProblem('edge', groupId, `group ${groupId}: ${type} member has no id`, { email: raw.email });
  }
  return { kind: 'edge', groupId, memberType: type === 'USER' ? 'user' : 'group', memberId: id };
}
