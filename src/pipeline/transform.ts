/**
 * Transforms: the configured templates compiled once per run and applied to each record as it
 * streams past. A transform that leaves a user without a username does not drop the user silently:
 * the record is reported and held.
 */
import type { SourceGroup, SourceUser } from '../../connectors/types.js';
import type { CommonConnectorConfig } from '../../config/schema.js';
import { compileTemplate, type CompiledTemplate } from './template.js';
import { keySkeleton, usernameKey } from './username.js';

export interface TransformedUser {
  externalId: string;
  username: string;
  /** Two usernames with the same key are the same name to a person (see username.ts). */
  usernameKey: string;
  /** TR39 skeleton of the key: names with equal skeletons look alike (see username.ts). */
  usernameSkeleton: string;
  email: string | null;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  /** Null: the IdP does not say (see `SourceUser.active`); check.ts resolves it. */
  active: boolean | null;
  attributes: Record<string, unknown>;
  /** Set when the record must be held rather than applied. */
  problem: string | null;
}

export interface TransformedGroup {
  externalId: string;
  /** The name the IdP gave; group filters match this one. */
  sourceName: string;
  name: string;
  description: string | null;
  attributes: Record<string, unknown>;
  problem: string | null;
}

const textOrNull = (v: unknown): string | null =>
  v === null || v === undefined || v === '' ? null : typeof v === 'string' ? v : String(v);

/** The fields a template can read: the record as the connector mapped it. */
function userScope(u: SourceUser): Record<string, unknown> {
  return {
    externalId: u.externalId,
    username: u.username,
    email: u.email,
    displayName: u.displayName,
    givenName: u.givenName,
    familyName: u.familyName,
    active: u.active,
    attributes: u.attributes,
  };
}

export interface Transformer {
  user(u: SourceUser): TransformedUser;
  group(g: SourceGroup): TransformedGroup;
}

export function compileTransforms(t: CommonConnectorConfig['transform']): Transformer {
  const field = (tpl: string | undefined) => (tpl === undefined ? null : compileTemplate(tpl));
  const username = field(t.username);
  const email = field(t.email);
  const displayName = field(t.displayName);
  const givenName = field(t.givenName);
  const familyName = field(t.familyName);
  const groupName = field(t.groupName);
  const attributes: [string, CompiledTemplate | null][] = Object.entries(t.attributes).map(([k, tpl]) => [
    k,
    tpl === null ? null : compileTemplate(tpl),
  ]);
  const keep = t.keepAttributes ? new Set(t.keepAttributes) : null;

  return {
    user(u) {
      const scope = userScope(u);
      const name = textOrNull(username ? username(scope) : u.username)?.normalize('NFC') ?? '';
      let attrs: Record<string, unknown> = u.attributes;
      if (attributes.length > 0 || keep) {
        attrs = { ...u.attributes };
        for (const [k, tpl] of attributes) {
          if (tpl === null) delete attrs[k];
          else {
            const v = tpl(scope);
            if (v === null || v === undefined || v === '') delete attrs[k];
            else attrs[k] = v;
          }
        }
        if (keep) for (const k of Object.keys(attrs)) if (!keep.has(k)) delete attrs[k];
      }
      const key = usernameKey(name);
      return {
        externalId: u.externalId,
        username: name,
        usernameKey: key,
        usernameSkeleton: keySkeleton(key),
        email: email ? textOrNull(email(scope)) : u.email,
        displayName: displayName ? textOrNull(displayName(scope)) : u.displayName,
        givenName: givenName ? textOrNull(givenName(scope)) : u.givenName,
        familyName: familyName ? textOrNull(familyName(scope)) : u.familyName,
        active: u.active,
        attributes: attrs,
        problem:
          key === ''
            ? name === ''
              ? 'the username transform produced an empty username'
              : 'the username is empty once white space and invisible characters are removed'
            : null,
      };
    },
    group(g) {
      const scope = {
        externalId: g.externalId,
        name: g.name,
        description: g.description,
        attributes: g.attributes,
      };
      const name = groupName ? (textOrNull(groupName(scope)) ?? '') : g.name;
      return {
        externalId: g.externalId,
        sourceName: g.name,
        name,
        description: g.description,
        attributes: g.attributes,
        problem: name.trim() === '' ? 'the group name transform produced an empty name' : null,
      };
    },
  };
}
