/**
 * Filters. User predicates run in the stream (they need one record); group filters need the whole
 * membership graph, so they run as SQL over the staged snapshot (see `selectIncluded` in check.ts).
 */
import type { SourceUser, GroupSelector } from '../../connectors/types.js';
import type { CommonConnectorConfig, UserPredicate } from '../../config/schema.js';

function fieldValue(u: SourceUser, field: string): unknown {
  if (field.startsWith('attributes.')) {
    let v: unknown = u.attributes;
    for (const p of field.slice('attributes.'.length).split('.')) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Record<string, unknown>)[p];
    }
    return v;
  }
  return (u as unknown as Record<string, unknown>)[field];
}

function compilePredicate(p: UserPredicate): (u: SourceUser) => boolean {
  const re = p.matches !== undefined ? new RegExp(p.matches, 'u') : null;
  const test = (v: unknown): boolean => {
    if (p.exists !== undefined) return (v !== undefined && v !== null && v !== '') === p.exists;
    if (v === undefined || v === null) return false;
    if (p.equals !== undefined) return v === p.equals || String(v) === String(p.equals);
    if (p.in !== undefined) return p.in.some((x) => x === v || String(x) === String(v));
    if (re) return re.test(typeof v === 'string' ? v : JSON.stringify(v));
    return false;
  };
  return (u) => test(fieldValue(u, p.field)) !== p.not;
}

/** Compiles the user filter once per run; returns null when it keeps everyone. */
export function compileUserFilter(
  f: CommonConnectorConfig['filters']['users'],
): ((u: SourceUser) => boolean) | null {
  const preds = f.where.map(compilePredicate);
  if (!f.activeOnly && preds.length === 0) return null;
  // An unknown state (null) is not "inactive": leaving such a user out would deactivate it.
  return (u) => (!f.activeOnly || u.active !== false) && preds.every((p) => p(u));
}

/** Turns a glob (`eng-*`, `team-?`) into an anchored, case-insensitive POSIX regular expression. */
export function globToRegex(glob: string): string {
  return `^${glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')}$`;
}

/** Splits selectors into the three parameter arrays the SQL filter takes. */
export function selectorParams(selectors: GroupSelector[]): {
  ids: string[];
  names: string[];
  patterns: string[];
} {
  const out = { ids: [] as string[], names: [] as string[], patterns: [] as string[] };
  for (const s of selectors) {
    if ('id' in s) out.ids.push(s.id);
    else if ('name' in s) out.names.push(s.name.toLowerCase());
    else out.patterns.push(globToRegex(s.glob));
  }
  return out;
}
