/**
 * Search restrictions (Crowd's SearchRestriction: property, boolean and null restrictions) and
 * their translation into a parameterised SQL condition on `dirsync.users` / `dirsync.groups`.
 * Both the GET form (CQL, ./cql.ts) and the POST bodies (./body.ts) produce this one tree.
 */
import { CrowdError } from './errors.js';

export type MatchMode =
  | 'EXACTLY_MATCHES'
  | 'CONTAINS'
  | 'STARTS_WITH'
  | 'ENDS_WITH'
  | 'NULL'
  | 'GREATER_THAN'
  | 'LESS_THAN'
  /** A CQL value with `*` inside it (not only at the ends). */
  | 'WILDCARD';

export const MATCH_MODES: readonly MatchMode[] = [
  'EXACTLY_MATCHES',
  'CONTAINS',
  'STARTS_WITH',
  'ENDS_WITH',
  'NULL',
  'GREATER_THAN',
  'LESS_THAN',
];

export type Restriction =
  | { kind: 'all' }
  | { kind: 'property'; property: string; mode: MatchMode; value: string | null }
  | { kind: 'boolean'; logic: 'AND' | 'OR'; restrictions: Restriction[] };

export type EntityType = 'user' | 'group';

type PropertyType = 'string' | 'boolean' | 'date';
interface Column {
  sql: string;
  type: PropertyType;
  /** The indexed lower-case form, where there is one. */
  lower?: string;
}

/** Crowd's property names (UserTermKeys / GroupTermKeys) and the columns they read. */
const COLUMNS: Record<EntityType, Record<string, Column>> = {
  user: {
    name: { sql: 'u.username', type: 'string', lower: 'u.username_lower' },
    email: { sql: 'u.email', type: 'string' },
    displayName: { sql: 'u.display_name', type: 'string' },
    firstName: { sql: 'u.given_name', type: 'string' },
    lastName: { sql: 'u.family_name', type: 'string' },
    active: { sql: 'u.active', type: 'boolean' },
    createdDate: { sql: 'u.created_at', type: 'date' },
    updatedDate: { sql: 'u.updated_at', type: 'date' },
  },
  group: {
    name: { sql: 'g.name', type: 'string' },
    description: { sql: 'g.description', type: 'string' },
    // Every synchronized group is active.
    active: { sql: 'true', type: 'boolean' },
    createdDate: { sql: 'g.created_at', type: 'date' },
    updatedDate: { sql: 'g.updated_at', type: 'date' },
  },
};

/** Property names a restriction may use for an entity type. */
export function propertiesOf(entity: EntityType): string[] {
  return Object.keys(COLUMNS[entity]);
}

const MAX_DEPTH = 32;
const MAX_TERMS = 256;

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function parseBoolean(v: string, property: string): boolean {
  const t = v.trim().toLowerCase();
  if (t === 'true') return true;
  if (t === 'false') return false;
  throw new CrowdError('ILLEGAL_ARGUMENT', `${property} takes true or false, not "${v}"`);
}

/** A date (`2024-01-01`), an ISO date-time, or epoch milliseconds (Crowd's JSON dates). */
export function parseDate(v: string, property: string): Date {
  const t = v.trim();
  const d = /^-?\d{9,}$/.test(t)
    ? new Date(Number(t))
    : /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)
      ? new Date(t.length === 10 ? `${t}T00:00:00Z` : t)
      : new Date(NaN);
  if (Number.isNaN(d.getTime())) {
    throw new CrowdError('ILLEGAL_ARGUMENT', `${property} takes a date such as 2024-01-31, not "${v}"`);
  }
  return d;
}

/**
 * The SQL condition of a restriction (on alias `u` for users, `g` for groups), with its values
 * appended to `params`. Unknown properties and mismatched values are ILLEGAL_ARGUMENT.
 */
export function restrictionSql(r: Restriction, entity: EntityType, params: unknown[]): string {
  let terms = 0;
  const walk = (x: Restriction, depth: number): string => {
    if (depth > MAX_DEPTH) throw new CrowdError('ILLEGAL_ARGUMENT', 'the restriction is nested too deeply');
    if (++terms > MAX_TERMS) throw new CrowdError('ILLEGAL_ARGUMENT', 'the restriction has too many terms');
    if (x.kind === 'all') return 'true';
    if (x.kind === 'boolean') {
      if (x.restrictions.length === 0) return x.logic === 'AND' ? 'true' : 'false';
      return `(${x.restrictions.map((y) => walk(y, depth + 1)).join(x.logic === 'AND' ? ' AND ' : ' OR ')})`;
    }
    const col = COLUMNS[entity][x.property];
    if (!col) {
      throw new CrowdError(
        'ILLEGAL_ARGUMENT',
        `unknown ${entity} property "${x.property}" (use ${propertiesOf(entity).join(', ')})`,
      );
    }
    if (x.mode === 'NULL') return `${col.sql} IS NULL`;
    if (x.value === null) {
      throw new CrowdError('ILLEGAL_ARGUMENT', `${x.mode} on ${x.property} needs a value`);
    }
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (col.type === 'boolean') {
      if (x.mode !== 'EXACTLY_MATCHES') {
        throw new CrowdError('ILLEGAL_ARGUMENT', `${x.property} can only be compared with EXACTLY_MATCHES`);
      }
      return `${col.sql} = ${p(parseBoolean(x.value, x.property))}::boolean`;
    }
    if (col.type === 'date') {
      const d = parseDate(x.value, x.property);
      const op = { GREATER_THAN: '>', LESS_THAN: '<', EXACTLY_MATCHES: '=' }[x.mode as string];
      if (!op)
        throw new CrowdError(
          'ILLEGAL_ARGUMENT',
          `${x.property} takes EXACTLY_MATCHES, GREATER_THAN or LESS_THAN`,
        );
      return `${col.sql} ${op} ${p(d.toISOString())}::timestamptz`;
    }
    // Strings: case-insensitive, as Crowd compares names and e-mail addresses.
    const v = x.value.toLowerCase();
    const lc = col.lower ?? `lower(${col.sql})`;
    switch (x.mode) {
      case 'EXACTLY_MATCHES':
        return `${lc} = ${p(v)}`;
      case 'CONTAINS':
        return `${lc} LIKE ${p(`%${likeEscape(v)}%`)}`;
      case 'STARTS_WITH':
        return `${lc} LIKE ${p(`${likeEscape(v)}%`)}`;
      case 'ENDS_WITH':
        return `${lc} LIKE ${p(`%${likeEscape(v)}`)}`;
      case 'WILDCARD':
        return `${lc} LIKE ${p(v.split('*').map(likeEscape).join('%'))}`;
      case 'GREATER_THAN':
        return `${lc} > ${p(v)}`;
      case 'LESS_THAN':
        return `${lc} < ${p(v)}`;
    }
    throw new CrowdError('ILLEGAL_ARGUMENT', `unknown match mode ${String(x.mode)}`);
  };
  return walk(r, 0);
}
