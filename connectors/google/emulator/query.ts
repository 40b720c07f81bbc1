/**
 * The subset of Google's search syntax the emulator understands. Clauses are separated by
 * whitespace and ANDed; values may be quoted with single quotes (`\'` escapes); `:` with a
 * trailing `*` is a prefix match, `:`/`=` otherwise an exact, case-insensitive match.
 * Unknown fields are a 400, as in Google.
 * https://developers.google.com/workspace/admin/directory/v1/guides/search-users
 * https://developers.google.com/workspace/admin/directory/v1/guides/search-groups
 */
import type { OrgGroup, OrgUser } from '../../emulator-kit/org.js';
import type { GoogleDirectory } from './directory.js';

export class QueryError extends Error {}

interface Clause {
  field: string;
  op: ':' | '=';
  value: string;
  prefix: boolean;
}

export function parseQuery(q: string): Clause[] {
  const clauses: Clause[] = [];
  let i = 0;
  const s = q.trim();
  while (i < s.length) {
    while (s[i] === ' ') i++;
    if (i >= s.length) break;
    const m = /^([A-Za-z.]+)\s*([:=])/.exec(s.slice(i));
    if (!m) throw new QueryError(`Invalid Input: ${q}`);
    i += m[0].length;
    let value = '';
    let quoted = false;
    if (s[i] === "'") {
      quoted = true;
      i++;
      while (i < s.length && s[i] !== "'") {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        value += s[i];
        i++;
      }
      if (s[i] !== "'") throw new QueryError(`Invalid Input: ${q}`);
      i++;
    }
    while (i < s.length && s[i] !== ' ') value += s[i++];
    const prefix = value.endsWith('*') && (!quoted || value.length > 0);
    clauses.push({
      field: m[1] as string,
      op: m[2] as ':' | '=',
      value: prefix ? value.slice(0, -1) : value,
      prefix,
    });
  }
  return clauses;
}

const textMatch = (actual: string, c: Clause) => {
  const a = actual.toLowerCase();
  const v = c.value.toLowerCase();
  return c.prefix ? a.startsWith(v) : a === v;
};

function boolClause(c: Clause): boolean {
  if (c.value !== 'true' && c.value !== 'false')
    throw new QueryError(`Invalid Input: ${c.field}${c.op}${c.value}`);
  return c.value === 'true';
}

export function userPredicate(q: string | null, dir: GoogleDirectory): (u: OrgUser) => boolean {
  if (!q) return () => true;
  const tests = parseQuery(q).map((c): ((u: OrgUser) => boolean) => {
    switch (c.field) {
      case 'isSuspended': {
        const want = boolClause(c);
        return (u) => (u.status === 'suspended') === want;
      }
      case 'isArchived': {
        const want = boolClause(c);
        return (u) => (u.status === 'deprovisioned') === want;
      }
      case 'isAdmin': {
        const want = boolClause(c);
        return () => want === false;
      }
      case 'email':
        return (u) => textMatch(dir.primaryEmail(u), c);
      case 'givenName':
        return (u) => textMatch(u.givenName, c);
      case 'familyName':
        return (u) => textMatch(u.familyName, c);
      case 'name':
        return (u) => textMatch(u.displayName, c);
      case 'orgTitle':
        return (u) => textMatch(u.title, c);
      case 'orgDepartment':
        return (u) => textMatch(u.department, c);
      case 'orgUnitPath':
        return () => c.value === '/';
      default:
        throw new QueryError(`Invalid Input: unknown field ${c.field}`);
    }
  });
  return (u) => tests.every((t) => t(u));
}

export function groupPredicate(q: string | null, dir: GoogleDirectory): (g: OrgGroup) => boolean {
  if (!q) return () => true;
  const tests = parseQuery(q).map((c): ((g: OrgGroup) => boolean) => {
    switch (c.field) {
      case 'name':
        return (g) => textMatch(g.name, c);
      case 'email':
        return (g) => textMatch(dir.groupEmail(g), c);
      case 'memberKey': {
        const u = dir.findUser(c.value);
        const sub = dir.findGroup(c.value);
        return (g) =>
          (u !== undefined && (dir.org.members.get(g.id)?.has(u.id) ?? false)) ||
          (sub !== undefined && dir.childGroups(g.id).includes(sub.id));
      }
      default:
        throw new QueryError(`Invalid Input: unknown field ${c.field}`);
    }
  });
  return (g) => tests.every((t) => t(g));
}
