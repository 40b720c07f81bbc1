/**
 * Crowd's entity shapes (UserEntity, GroupEntity, their lists, attributes and links), as Nodes for
 * ./format.ts. Field names and nesting follow Crowd's REST representations.
 */
import { wrap, type Node } from './format.js';

/** A user row as the Crowd API reads it. */
export interface UserRow {
  connector: string;
  external_id: string;
  username: string;
  email: string | null;
  display_name: string | null;
  given_name: string | null;
  family_name: string | null;
  active: boolean;
  attributes: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
}

export interface GroupRow {
  connector: string;
  external_id: string;
  name: string;
  description: string | null;
  local: boolean;
  attributes: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
}

/** Base of the links: `https://host/rest/usermanagement/1`. */
export type Base = string;

const q = encodeURIComponent;
const link = (href: string, rel = 'self'): Node => ({ '@rel': rel, '@href': href });

/** Crowd attributes are multi-valued strings: arrays become values, other JSON becomes text. */
function attributeValues(v: unknown): string[] {
  const one = (x: unknown) => (typeof x === 'string' ? x : JSON.stringify(x));
  if (Array.isArray(v)) return v.filter((x) => x !== null && x !== undefined).map(one);
  if (v === null || v === undefined) return [];
  return [one(v)];
}

function attributes(
  base: Base,
  kind: 'user' | 'group',
  name: string,
  attrs: Record<string, unknown> | null,
  extra: Record<string, string>,
): Node {
  const param = kind === 'user' ? 'username' : 'groupname';
  const all = { ...(attrs ?? {}), ...extra };
  return {
    link: link(`${base}/${kind}/attribute?${param}=${q(name)}`),
    'attribute|attributes': Object.keys(all)
      .sort()
      .map((k) => ({
        '@name': k,
        link: link(`${base}/${kind}/attribute?${param}=${q(name)}&attributename=${q(k)}`),
        values: wrap('value', attributeValues(all[k])),
      })),
  };
}

/** Only the name and link, as in a list without `expand`. */
export function userRef(base: Base, name: string): Node {
  return { '@name': name, link: link(`${base}/user?username=${q(name)}`) };
}

export function groupRef(base: Base, name: string): Node {
  return { '@name': name, link: link(`${base}/group?groupname=${q(name)}`) };
}

/**
 * A full user. `key` is stable across renames (directory and IdP id), so an application that keys its
 * cache by it sees a rename, not a new person.
 */
export function userEntity(base: Base, u: UserRow, withAttributes: boolean): Node {
  const node: Node = {
    '@name': u.username,
    '@expand': 'attributes',
    link: link(`${base}/user?username=${q(u.username)}`),
    'first-name': u.given_name ?? '',
    'last-name': u.family_name ?? '',
    'display-name': u.display_name ?? u.username,
    email: u.email ?? '',
    password: { link: link(`${base}/user/password?username=${q(u.username)}`, 'edit') },
    key: `${u.connector}:${u.external_id}`,
    active: u.active,
    'created-date': u.created_at,
    'updated-date': u.updated_at,
  };
  if (withAttributes) {
    node.attributes = attributes(base, 'user', u.username, u.attributes, {
      'dirsync.directory': u.connector,
      'dirsync.externalId': u.external_id,
    });
  }
  return node;
}

export function groupEntity(base: Base, g: GroupRow, withAttributes: boolean): Node {
  const node: Node = {
    '@name': g.name,
    '@expand': 'attributes',
    link: link(`${base}/group?groupname=${q(g.name)}`),
    description: g.description ?? '',
    type: 'GROUP',
    active: true,
  };
  if (withAttributes) {
    node.attributes = attributes(base, 'group', g.name, g.attributes, {
      'dirsync.directory': g.connector,
      'dirsync.local': String(g.local),
    });
  }
  return node;
}
