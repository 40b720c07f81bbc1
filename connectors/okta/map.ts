/**
 * Maps raw Okta JSON (User, Group) to directory records, or to a SourceProblem when a record lacks
 * what a directory needs. Hand-written checks: this runs once per record, over a million times for
 * the member lists of a large org.
 */
import {
  sourceProblem,
  type SnapshotItem,
  type SourceEdge,
  type SourceGroup,
  type SourceProblem,
  type SourceUser,
} from '../types.js';
import { INACTIVE_STATUSES, USER_STATUSES } from './config.js';

const KNOWN_STATUSES: ReadonlySet<string> = new Set(USER_STATUSES);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** Profile attributes kept on the user (Okta's base profile; custom attributes vary per org). */
const USER_ATTRIBUTES = [
  'userType',
  'department',
  'title',
  'division',
  'organization',
  'costCenter',
  'employeeNumber',
  'manager',
  'managerId',
  'locale',
  'timezone',
] as const;

/** What mapUser returns: the record plus the status, for the status filter. */
export type MappedUser = { item: SourceUser; status: string } | { item: SourceProblem; status: null };

export function mapUser(raw: unknown): MappedUser {
  if (!isObj(raw)) return { item: sourceProblem('user', null, 'user record is not an object'), status: null };
  const id = text(raw.id);
  if (id === null)
    return { item: sourceProblem('user', null, 'user has no id', { status: raw.status }), status: null };
  const profile = raw.profile;
  if (!isObj(profile)) return { item: sourceProblem('user', id, 'user has no profile object'), status: null };
  const login = text(profile.login);
  const status = text(raw.status);
  const errors: string[] = [];
  if (login === null) errors.push('profile.login is missing');
  if (status === null) errors.push('status is missing');
  // A status Okta added after this code was written: we cannot tell whether the user may sign in.
  // Reported and held as it is; guessing "active" or dropping the user (which deactivates it) is not safe.
  else if (!KNOWN_STATUSES.has(status))
    errors.push(`status ${JSON.stringify(status)} is not one Dirsync knows; the user is held as it is`);
  for (const key of ['email', 'firstName', 'lastName', 'displayName'] as const) {
    if (profile[key] !== undefined && profile[key] !== null && typeof profile[key] !== 'string') {
      errors.push(`profile.${key} must be a string`);
    }
  }
  if (errors.length > 0)
    return { item: sourceProblem('user', id, errors.join('; '), { status: raw.status }), status: null };
  const firstName = text(profile.firstName);
  const lastName = text(profile.lastName);
  const attributes: Obj = { status };
  for (const key of USER_ATTRIBUTES) {
    const v = profile[key];
    if (v !== undefined && v !== null && v !== '') attributes[key] = v;
  }
  if (isObj(raw.type) && typeof raw.type.id === 'string') attributes.userTypeId = raw.type.id;
  return {
    status: status as string,
    item: {
      kind: 'user',
      externalId: id,
      username: login as string,
      email: text(profile.email),
      // Okta's base profile has displayName, but most orgs leave it empty.
      displayName: text(profile.displayName) ?? ([firstName, lastName].filter(Boolean).join(' ') || null),
      givenName: firstName,
      familyName: lastName,
      active: !INACTIVE_STATUSES.has(status as string),
      attributes,
    },
  };
}

export type MappedGroup = { item: SourceGroup; type: string } | { item: SourceProblem; type: null };

export function mapGroup(raw: unknown): MappedGroup {
  if (!isObj(raw)) return { item: sourceProblem('group', null, 'group record is not an object'), type: null };
  const id = text(raw.id);
  if (id === null) return { item: sourceProblem('group', null, 'group has no id'), type: null };
  const profile = raw.profile;
  const type = text(raw.type);
  if (!isObj(profile) || text(profile.name) === null || type === null) {
    return {
      item: sourceProblem('group', id, 'group needs a type and a profile with a name', { type: raw.type }),
      type: null,
    };
  }
  const attributes: Obj = { type };
  const links = isObj(raw._links) ? raw._links : {};
  // APP_GROUPs name their source app (AD, Workday, ...) in _links.source.
  const source = isObj(links.source) ? text(links.source.href) : null;
  if (source) attributes.sourceAppId = source.split('/').pop();
  for (const key of ['samAccountName', 'windowsDomainQualifiedName', 'externalId'] as const) {
    if (typeof profile[key] === 'string') attributes[key] = profile[key];
  }
  return {
    type,
    item: {
      kind: 'group',
      externalId: id,
      name: profile.name as string,
      description: typeof profile.description === 'string' ? profile.description : null,
      attributes,
    },
  };
}

/** A member of `GET /api/v1/groups/{id}/users` (a full User object): its edge and status. */
export function mapMember(
  groupId: string,
  raw: unknown,
): { item: SourceEdge; status: string | null } | { item: SourceProblem } {
  const id = isObj(raw) ? text(raw.id) : null;
  if (id === null) return { item: sourceProblem('edge', groupId, `group ${groupId}: a member has no id`) };
  return {
    item: { kind: 'edge', groupId, memberType: 'user', memberId: id },
    status: isObj(raw) ? text(raw.status) : null,
  };
}

export type { SnapshotItem };
