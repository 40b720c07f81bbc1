/**
 * Keycloak representations → directory records. Hand-written checks (this runs once per record,
 * a million times for members of a large realm); anything malformed becomes a SourceProblem.
 *
 * UserRepresentation / GroupRepresentation: https://www.keycloak.org/docs-api/latest/rest-api/#UserRepresentation
 */
import {
  sourceProblem,
  type SourceEdge,
  type SourceGroup,
  type SourceProblem,
  type SourceUser,
} from '../types.js';

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

function optText(o: Obj, key: string, errors: string[]): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') {
    errors.push(`${key} must be a string, got ${typeof v}`);
    return null;
  }
  return v === '' ? null : v;
}

/**
 * Keycloak attributes are `{ name: [values] }`. Single values become plain strings, so transforms
 * and filters can say `attributes.department`; multi-valued ones stay arrays.
 */
function flattenAttributes(v: unknown, errors: string[]): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) {
    errors.push('attributes must be an object');
    return {};
  }
  const out: Record<string, unknown> = {};
  for (const [k, vals] of Object.entries(v)) {
    if (!Array.isArray(vals) || !vals.every((x) => typeof x === 'string')) {
      errors.push(`attribute ${k} must be a list of strings`);
      continue;
    }
    out[k] = vals.length === 1 ? vals[0] : vals;
  }
  return out;
}

/** Service-account users (`service-account-<clientId>`) are clients, not people. */
export function isServiceAccount(raw: unknown): boolean {
  return (
    isObj(raw) &&
    (nonEmpty(raw.serviceAccountClientId) ||
      (typeof raw.username === 'string' && raw.username.startsWith('service-account-')))
  );
}

/** A user from `/users` or from a full (non-brief) member list. */
export function mapUser(raw: unknown): SourceUser | SourceProblem {
  if (!isObj(raw)) return sourceProblem('user', null, 'user record is not an object');
  if (!nonEmpty(raw.id)) return sourceProblem('user', null, 'user has no id', { username: raw.username });
  const id = raw.id;
  const errors: string[] = [];
  if (!nonEmpty(raw.username)) errors.push('username is missing');
  // Missing or null: unknown (active: null keeps an existing user as it is); only a wrong type is an error.
  if (raw.enabled !== undefined && raw.enabled !== null && typeof raw.enabled !== 'boolean')
    errors.push('enabled must be true, false or null');
  const givenName = optText(raw, 'firstName', errors);
  const familyName = optText(raw, 'lastName', errors);
  const email = optText(raw, 'email', errors);
  const attributes = flattenAttributes(raw.attributes, errors);
  if (errors.length > 0)
    return sourceProblem('user', id, errors.join('; '), { username: raw.username, enabled: raw.enabled });
  if (typeof raw.emailVerified === 'boolean') attributes.emailVerified = raw.emailVerified;
  if (typeof raw.createdTimestamp === 'number')
    attributes.createdAt = new Date(raw.createdTimestamp).toISOString();
  // Users from LDAP/Kerberos federation carry the provider id; useful to tell them apart.
  if (nonEmpty(raw.federationLink)) attributes.federationLink = raw.federationLink;
  // Keycloak has no display name; the account console shows "first last".
  const displayName = [givenName, familyName].filter((x) => x !== null).join(' ') || null;
  return {
    kind: 'user',
    externalId: id,
    username: raw.username as string,
    email,
    displayName,
    givenName,
    familyName,
    active: typeof raw.enabled === 'boolean' ? raw.enabled : null,
    attributes,
  };
}

/** A group from `/groups`, a search, `/groups/{id}` or `/children`. */
export function mapGroup(raw: unknown): SourceGroup | SourceProblem {
  if (!isObj(raw)) return sourceProblem('group', null, 'group record is not an object');
  if (!nonEmpty(raw.id)) return sourceProblem('group', null, 'group has no id', { name: raw.name });
  const errors: string[] = [];
  if (!nonEmpty(raw.name)) errors.push('name is missing');
  const description = optText(raw, 'description', errors);
  const attributes = flattenAttributes(raw.attributes, errors);
  if (errors.length > 0) return sourceProblem('group', raw.id, errors.join('; '), { name: raw.name });
  // The path (`/parent/child`) is what Keycloak shows and what token mappers emit.
  if (typeof raw.path === 'string') attributes.path = raw.path;
  return { kind: 'group', externalId: raw.id, name: raw.name as string, description, attributes };
}

/** A direct user member of `groupId`; only the id matters (the user itself comes from `/users`). */
export function mapMember(groupId: string, raw: unknown): SourceEdge | SourceProblem {
  if (!isObj(raw) || !nonEmpty(raw.id)) {
    return sourceProblem(
      'edge',
      groupId,
      `group ${groupId}: a member has no id`,
      isObj(raw) ? { username: raw.username } : undefined,
    );
  }
  return { kind: 'edge', groupId, memberType: 'user', memberId: raw.id };
}

export function subgroupEdge(parentId: string, childId: string): SourceEdge {
  return { kind: 'edge', groupId: parentId, memberType: 'group', memberId: childId };
}

/** Whether a group may have subgroups: `subGroupCount` when Keycloak sent it, else ask. */
export function mayHaveChildren(raw: Obj): boolean {
  return typeof raw.subGroupCount === 'number' ? raw.subGroupCount > 0 : true;
}
