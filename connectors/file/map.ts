/**
 * Maps records of a snapshot file to directory records. Hand-written checks rather than a schema
 * library: this runs once per record, a million times in a large snapshot.
 */
import type { SnapshotItem, SourceProblem } from '../types.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
// Ids are strings, never coerced: `123` and `"123"` are different values in the file, and reading
// one as the other can make a record collide with another one's id.
const idOf = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
/** Why a value is not an id, for the problem report. */
const notAnId = (v: unknown): string =>
  v === undefined || v === null || v === ''
    ? 'no id'
    : `an id that is not a string (${Array.isArray(v) ? 'array' : typeof v} ${JSON.stringify(v)})`;

function problem(
  objectType: SourceProblem['objectType'],
  externalId: string | null,
  reason: string,
  sample?: unknown,
): SourceProblem {
  return { kind: 'problem', objectType, externalId, reason, sample };
}

function optText(o: Obj, key: string, errors: string[]): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') {
    errors.push(`${key} must be a string, got ${typeof v}`);
    return null;
  }
  return v;
}

/**
 * One user record: `{ id, username, email?, displayName?, givenName?, familyName?, active?, attributes? }`.
 * `active` defaults to true; `null` means unknown (see `SourceUser.active`).
 */
export function* mapUser(raw: unknown): Generator<SnapshotItem> {
  if (!isObj(raw)) return yield problem('user', null, 'user record is not an object');
  const id = idOf(raw.id);
  if (id === null)
    return yield problem('user', null, `user has ${notAnId(raw.id)}`, { id: raw.id, username: raw.username });
  const errors: string[] = [];
  const username = optText(raw, 'username', errors);
  if (username === null && errors.length === 0) errors.push('username is missing');
  if (raw.active !== undefined && raw.active !== null && typeof raw.active !== 'boolean')
    errors.push('active must be true, false or null (unknown)');
  if (raw.attributes !== undefined && !isObj(raw.attributes)) errors.push('attributes must be an object');
  const user = {
    kind: 'user' as const,
    externalId: id,
    username: username ?? '',
    email: optText(raw, 'email', errors),
    displayName: optText(raw, 'displayName', errors),
    givenName: optText(raw, 'givenName', errors),
    familyName: optText(raw, 'familyName', errors),
    // Missing: active (the file format's default); null: the source does not know.
    active: raw.active === undefined ? true : raw.active === null ? null : raw.active === true,
    attributes: isObj(raw.attributes) ? raw.attributes : {},
  };
  if (errors.length > 0) return yield problem('user', id, errors.join('; '));
  yield user;
}

/** One group record: `{ id, name, description?, attributes?, members?: [userId], groups?: [groupId] }`. */
export function* mapGroup(raw: unknown): Generator<SnapshotItem> {
  if (!isObj(raw)) return yield problem('group', null, 'group record is not an object');
  const id = idOf(raw.id);
  if (id === null)
    return yield problem('group', null, `group has ${notAnId(raw.id)}`, { id: raw.id, name: raw.name });
  const errors: string[] = [];
  const name = optText(raw, 'name', errors);
  if (name === null && errors.length === 0) errors.push('name is missing');
  if (raw.attributes !== undefined && !isObj(raw.attributes)) errors.push('attributes must be an object');
  for (const key of ['members', 'groups'] as const) {
    if (raw[key] !== undefined && !Array.isArray(raw[key])) errors.push(`${key} must be an array of ids`);
  }
  if (errors.length > 0) return yield problem('group', id, errors.join('; '));
  yield {
    kind: 'group',
    externalId: id,
    name: name as string,
    description: optText(raw, 'description', errors),
    attributes: isObj(raw.attributes) ? raw.attributes : {},
  };
  for (const [key, memberType] of [
    ['members', 'user'],
    ['groups', 'group'],
  ] as const) {
    const list = raw[key] as unknown[] | undefined;
    if (!list) continue;
    for (const m of list) {
      const memberId = idOf(m);
      if (memberId === null) yield problem('edge', id, `group ${id}: ${key} holds ${notAnId(m)}`, m);
      else yield { kind: 'edge', groupId: id, memberType, memberId };
    }
  }
}

/** A membership record: `{ group, user }` or `{ group, subgroup }`. */
export function* mapMembership(raw: unknown): Generator<SnapshotItem> {
  if (!isObj(raw)) return yield problem('edge', null, 'membership record is not an object');
  const groupId = idOf(raw.group);
  const userId = idOf(raw.user);
  const subgroupId = idOf(raw.subgroup);
  if (groupId === null)
    return yield problem('edge', null, `membership has ${notAnId(raw.group)} for its group`, raw);
  if (
    (raw.user !== undefined && userId === null) ||
    (raw.subgroup !== undefined && subgroupId === null) ||
    (userId === null) === (subgroupId === null)
  ) {
    return yield problem(
      'edge',
      groupId,
      'membership needs exactly one of user or subgroup, as a string id',
      raw,
    );
  }
  yield userId !== null
    ? { kind: 'edge', groupId, memberType: 'user', memberId: userId }
    : { kind: 'edge', groupId, memberType: 'group', memberId: subgroupId as string };
}

/** One NDJSON line, tagged by `type`. */
export function* mapLine(raw: unknown): Generator<SnapshotItem> {
  if (!isObj(raw)) return yield problem('user', null, 'line is not a JSON object');
  switch (raw.type) {
    case 'user':
      return yield* mapUser(raw);
    case 'group':
      return yield* mapGroup(raw);
    case 'membership':
      return yield* mapMembership(raw);
    default:
      return yield problem(
        'user',
        null,
        `unknown record type ${JSON.stringify(raw.type)} (user, group or membership)`,
      );
  }
}
