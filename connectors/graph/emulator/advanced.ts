/**
 * The directory's advanced query options: `$search` (tokenized prefix match on named properties)
 * and `$orderby`, with the rules for when they need `ConsistencyLevel: eventual`.
 * https://learn.microsoft.com/graph/search-query-parameter#using-search-on-directory-object-collections
 * https://learn.microsoft.com/graph/aad-advanced-queries
 */
import { GraphHttpError } from './http.js';

type Obj = Record<string, unknown>;

const SEARCHABLE: Record<string, ReadonlySet<string>> = {
  user: new Set([
    'displayName',
    'givenName',
    'surname',
    'mail',
    'userPrincipalName',
    'mailNickname',
    'jobTitle',
  ]),
  group: new Set(['displayName', 'description', 'mail', 'mailNickname']),
  directoryObject: new Set(['displayName', 'mail', 'userPrincipalName', 'mailNickname', 'description']),
};
/** Sortable without advanced queries (and only when nothing else makes the query advanced). */
const SORT_BASIC: Record<string, ReadonlySet<string>> = {
  user: new Set(['displayName', 'userPrincipalName']),
  group: new Set(['displayName']),
  directoryObject: new Set(),
};
const SORT_ADVANCED: Record<string, ReadonlySet<string>> = {
  user: new Set(['displayName', 'userPrincipalName', 'mail', 'givenName', 'surname', 'createdDateTime']),
  group: new Set(['displayName', 'mail', 'createdDateTime']),
  directoryObject: new Set(['displayName']),
};

const eventual = (h: Record<string, string | undefined>) => h.consistencylevel?.toLowerCase() === 'eventual';

/** Properties a search or sort needs rendered. */
export function advancedProps(entity: string): string[] {
  return [...new Set([...(SEARCHABLE[entity] ?? []), ...(SORT_ADVANCED[entity] ?? [])])];
}

/** `$search="prop:term" AND|OR "prop:term"`, or null without `$search`. */
export function compileSearch(
  raw: string | null,
  entity: string,
  headers: Record<string, string | undefined>,
): ((o: Obj) => boolean) | null {
  if (raw === null) return null;
  if (!eventual(headers)) {
    throw new GraphHttpError(
      400,
      'Request_UnsupportedQuery',
      "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
    );
  }
  const parts = raw.trim().split(/\s+(AND|OR)\s+(?=")/);
  const clauses: { prop: string; term: string }[] = [];
  const ops: string[] = [];
  parts.forEach((p, i) => {
    if (i % 2 === 1) return void ops.push(p);
    const m = /^"([A-Za-z]+):(.*)"$/.exec(p.trim());
    if (!m) {
      throw new GraphHttpError(
        400,
        'Request_UnsupportedQuery',
        `Syntax error: '${p}' is not a valid $search clause.`,
      );
    }
    const prop = m[1] as string;
    if (!SEARCHABLE[entity]?.has(prop)) {
      throw new GraphHttpError(
        400,
        'Request_UnsupportedQuery',
        `Search on property '${prop}' is not supported.`,
      );
    }
    clauses.push({ prop, term: (m[2] as string).toLowerCase() });
  });
  const hit = (o: Obj, c: { prop: string; term: string }) => {
    const v = o[c.prop];
    if (typeof v !== 'string') return false;
    const s = v.toLowerCase();
    return s.startsWith(c.term) || s.split(/[^\p{L}\p{N}]+/u).some((w) => w.startsWith(c.term));
  };
  return (o) => {
    let acc = hit(o, clauses[0]!);
    for (let i = 1; i < clauses.length; i++) {
      acc = ops[i - 1] === 'AND' ? acc && hit(o, clauses[i]!) : acc || hit(o, clauses[i]!);
    }
    return acc;
  };
}

/** A comparator for `$orderby=prop [asc|desc]`, or null without `$orderby`. */
export function compileOrderBy(
  raw: string | null,
  entity: string,
  headers: Record<string, string | undefined>,
  otherwiseAdvanced: boolean,
): ((a: Obj, b: Obj) => number) | null {
  if (raw === null) return null;
  const m = /^\s*([A-Za-z]+)(?:\s+(asc|desc))?\s*$/i.exec(raw);
  if (!m)
    throw new GraphHttpError(400, 'Request_UnsupportedQuery', 'Sorting not supported for current query.');
  const prop = m[1] as string;
  const desc = m[2]?.toLowerCase() === 'desc';
  const advanced = eventual(headers);
  const allowed = advanced
    ? SORT_ADVANCED[entity]
    : otherwiseAdvanced
      ? new Set<string>()
      : SORT_BASIC[entity];
  if (!allowed?.has(prop)) {
    throw new GraphHttpError(400, 'Request_UnsupportedQuery', 'Sorting not supported for current query.');
  }
  return (a, b) => {
    const x = String(a[prop] ?? '').toLowerCase();
    const y = String(b[prop] ?? '').toLowerCase();
    const c = x < y ? -1 : x > y ? 1 : 0;
    return desc ? -c : c;
  };
}
