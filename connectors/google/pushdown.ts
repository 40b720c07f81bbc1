/**
 * Filter push-down: turns the configured filters into Directory API search queries, where the
 * API can express them. The pipeline filters again, so a query only has to select a superset.
 *
 * Group search: `name:'Exact'` (exact, case-insensitive), `name:prefix*` (prefix); clauses in one
 * query are ANDed, so each include selector is a query of its own.
 * https://developers.google.com/workspace/admin/directory/v1/guides/search-groups
 * User search: `isSuspended=false`.
 * https://developers.google.com/workspace/admin/directory/v1/guides/search-users
 */
import type { GroupFilterHint } from '../types.js';

/** How to find the included groups: by search queries and by id, or by listing everything. */
export type GroupPlan = { all: true } | { all: false; queries: string[]; ids: string[] };

function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function groupPlan(filter: GroupFilterHint | undefined): GroupPlan {
  if (!filter || filter.include.length === 0) return { all: true };
  const queries: string[] = [];
  const ids: string[] = [];
  for (const sel of filter.include) {
    if ('id' in sel) ids.push(sel.id);
    else if ('name' in sel) queries.push(`name:${quote(sel.name)}`);
    else {
      // Only a trailing `*` on a plain prefix maps to Google's prefix search.
      const m = /^([^*?\s'"\\:]+)\*$/.exec(sel.glob);
      if (!m) return { all: true };
      queries.push(`name:${m[1]}*`);
    }
  }
  return { all: false, queries: [...new Set(queries)], ids: [...new Set(ids)] };
}

/** The users query: suspended users are left out when only active users are synced. */
export function userQuery(activeUsersOnly: boolean | undefined): string | undefined {
  return activeUsersOnly ? 'isSuspended=false' : undefined;
}
