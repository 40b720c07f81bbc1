/**
 * Group-filter push-down: turns `filters.groups.include` into Graph `$filter`s, so a tenant with
 * 50,000 groups need not be listed to sync ten. Push-down only has to return a superset (the
 * pipeline filters again): Graph compares `displayName` case-insensitively, and subgroups of
 * included groups are fetched by the reader as it meets them. Excludes are not pushed down:
 * a subgroup of an excluded group can still be reached through another parent.
 * https://learn.microsoft.com/graph/filter-query-parameter
 */
import type { GroupFilterHint } from '../types.js';

/** The directory accepts at most 15 values in an `in` list; keep clause counts modest too. */
const MAX_CLAUSES = 10;

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** `$filter` values to list the included groups, or null when every group must be listed. */
export function groupFilters(hint: GroupFilterHint | undefined): string[] | null {
  if (!hint || hint.include.length === 0) return null;
  const clauses: string[] = [];
  const ids: string[] = [];
  for (const sel of hint.include) {
    if ('id' in sel) ids.push(sel.id);
    else if ('name' in sel) clauses.push(`displayName eq ${quote(sel.name)}`);
    else {
      const prefix = /^[^*?]*/.exec(sel.glob)?.[0] ?? '';
      // A glob that starts with a wildcard has no prefix to push down: list everything.
      if (prefix === '') return null;
      clauses.push(
        prefix === sel.glob ? `displayName eq ${quote(prefix)}` : `startswith(displayName,${quote(prefix)})`,
      );
    }
  }
  for (let i = 0; i < ids.length; i += 15)
    clauses.push(
      `id in (${ids
        .slice(i, i + 15)
        .map(quote)
        .join(',')})`,
    );
  const filters: string[] = [];
  for (let i = 0; i < clauses.length; i += MAX_CLAUSES)
    filters.push(clauses.slice(i, i + MAX_CLAUSES).join(' or '));
  return filters;
}
