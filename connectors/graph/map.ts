/**
 * Maps Graph objects to directory records. Hand-written checks: this runs once per user, group and
 * member, a million times in a large tenant.
 */
import { sourceProblem, type SnapshotItem, type SourceEdge, type SourceProblem } from '../types.js';

type Obj = Record<string, unknown>;

/** Properties read for users. `accountEnabled` is not returned unless selected. */
export const USER_SELECT = [
  'id',
  'userPrincipalName',
  'displayName',
  'givenName',
  'surname',
  'mail',
  'accountEnabled',
  'userType',
  'department',
  'jobTitle',
  'employeeId',
  'companyName',
  'officeLocation',
  'createdDateTime',
  'onPremisesSyncEnabled',
];

export const GROUP_SELECT = [
  'id',
  'displayName',
  'description',
  'mailNickname',
  'mail',
  'securityEnabled',
  'mailEnabled',
  'groupTypes',
  'createdDateTime',
  'onPremisesSyncEnabled',
];

const USER_ATTRIBUTES = [
  'userType',
  'department',
  'jobTitle',
  'employeeId',
  'companyName',
  'officeLocation',
  'createdDateTime',
  'onPremisesSyncEnabled',
] as const;
const GROUP_ATTRIBUTES = [
  'mailNickname',
  'mail',
  'securityEnabled',
  'mailEnabled',
  'groupTypes',
  'createdDateTime',
  'onPremisesSyncEnabled',
] as const;

/** Member types that are not synced (they have no place in a user directory); counted as skipped. */
export const SKIPPED_MEMBER_TYPES = new Set([
  '#microsoft.graph.device',
  '#microsoft.graph.servicePrincipal',
  '#microsoft.graph.orgContact',
  '#microsoft.graph.application',
  '#microsoft.graph.agentIdentity',
]);

const idOf = (o: Obj): string | null => (typeof o.id === 'string' && o.id !== '' ? o.id : null);

function text(o: Obj, key: string, errors: string[]): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') {
    errors.push(`${key} must be a string, got ${typeof v}`);
    return null;
  }
  return v;
}

function attributes(o: Obj, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = o[k];
    if (v !== undefined && v !== null) out[k] = v;
  }
  return out;
}

export function mapUser(raw: Obj): SnapshotItem {
  const id = idOf(raw);
  if (id === null)
    return sourceProblem('user', null, 'user has no id', { userPrincipalName: raw.userPrincipalName });
  const errors: string[] = [];
  const upn = text(raw, 'userPrincipalName', errors);
  // Every Entra user has a userPrincipalName; a payload without one was trimmed. The user is held as
  // it is (a problem with its id: never renamed, never deactivated) rather than guessed.
  if (upn === null || upn === '') errors.push('userPrincipalName is missing');
  // accountEnabled is nullable in Graph's metadata, and absent when not selected: both mean the
  // state is unknown (active: null), which keeps an existing user as it is and holds a new one
  // (filters.users.activeUnknown). Only a value of the wrong type is an error.
  const enabled = raw.accountEnabled;
  if (enabled !== undefined && enabled !== null && typeof enabled !== 'boolean')
    errors.push(`accountEnabled must be true, false or null, got ${typeof enabled}`);
  const user = {
    kind: 'user' as const,
    externalId: id,
    username: upn ?? '',
    email: text(raw, 'mail', errors),
    displayName: text(raw, 'displayName', errors),
    givenName: text(raw, 'givenName', errors),
    familyName: text(raw, 'surname', errors),
    active: typeof enabled === 'boolean' ? enabled : null,
    attributes: attributes(raw, USER_ATTRIBUTES),
  };
  if (errors.length > 0)
    return sourceProblem('user', id, errors.join('; '), { userPrincipalName: raw.userPrincipalName });
  return user;
}

export function mapGroup(raw: Obj): SnapshotItem {
  const id = idOf(raw);
  if (id === null) return sourceProblem('group', null, 'group has no id', { displayName: raw.displayName });
  const errors: string[] = [];
  const name = text(raw, 'displayName', errors);
  if (name === null || name === '') errors.push('displayName is missing');
  const description = text(raw, 'description', errors);
  if (errors.length > 0)
    return sourceProblem('group', id, errors.join('; '), { displayName: raw.displayName });
  return {
    kind: 'group',
    externalId: id,
    name: name as string,
    description: description === '' ? null : description,
    attributes: attributes(raw, GROUP_ATTRIBUTES),
  };
}

/**
 * One entry of a members list. Graph tags each with `@odata.type`; users and groups become edges,
 * other directory objects are skipped (returned as null so the caller can count them).
 */
export function mapMember(groupId: string, raw: Obj): SourceEdge | SourceProblem | null {
  const type = raw['@odata.type'];
  const id = idOf(raw);
  if (type === '#microsoft.graph.user' || type === '#microsoft.graph.group') {
    if (id === null)
      return sourceProblem('edge', groupId, `a ${type.slice(17)} member of group ${groupId} has no id`);
    return {
      kind: 'edge',
      groupId,
      memberType: type === '#microsoft.graph.user' ? 'user' : 'group',
      memberId: id,
    };
  }
  if (typeof type === 'string' && (SKIPPED_MEMBER_TYPES.has(type) || type.startsWith('#microsoft.graph.')))
    return null;
  return sourceProblem('edge', groupId, `member of group ${groupId} has no usable @odata.type`, { id, type });
}
