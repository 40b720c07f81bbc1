/**
 * Filter push-down: Okta `filter`/`search` expressions so that nothing is downloaded only to be
 * thrown away. Push-down only needs to return a superset; the pipeline filters again.
 * Expression syntax: https://developer.okta.com/docs/api/#filter
 */
import type { GroupFilterHint, GroupSelector } from '../types.js';
import { INACTIVE_STATUSES, USER_STATUSES, type GroupType, type UserStatus } from './config.js';

/** A string literal in an Okta expression (double quotes; `"` and `\` escaped with a backslash). */
export const literal = (s: string): string => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/**
 * Users who cannot sign in yet: STAGED (created, not activated) and PROVISIONED (activation
 * pending). Synced as active users (they are on their way in), but `filters.users.activeOnly`
 * leaves them out with the inactive ones.
 */
export const NOT_YET_ACTIVE_STATUSES: ReadonlySet<string> = new Set(['STAGED', 'PROVISIONED']);

/**
 * Statuses to read: the configured ones, minus inactive and not-yet-active ones when only active
 * users are wanted. The pipeline's own activeOnly filter sees `active`, which is true for STAGED and
 * PROVISIONED users: leaving them out here is what excludes them, not an optimisation.
 */
export function wantedStatuses(configured: readonly UserStatus[], activeUsersOnly: boolean): Set<string> {
  return new Set(
    configured.filter(
      (s) => !activeUsersOnly || (!INACTIVE_STATUSES.has(s) && !NOT_YET_ACTIVE_STATUSES.has(s)),
    ),
  );
}

/**
 * The list-users calls that return exactly the wanted statuses. A plain `GET /api/v1/users` returns
 * every status except DEPROVISIONED (those only come back with a filter or search), so the common
 * case "everything" is one plain listing plus `filter=status eq "DEPROVISIONED"`; anything narrower
 * is one `filter` of `or`ed statuses. `filter` rather than `search`: filter reads the primary store,
 * search an eventually consistent index.
 */
export function userQueries(wanted: Set<string>): { filter?: string }[] {
  const listed = USER_STATUSES.filter((s) => s !== 'DEPROVISIONED');
  if (listed.every((s) => wanted.has(s))) {
    return wanted.has('DEPROVISIONED') ? [{}, { filter: 'status eq "DEPROVISIONED"' }] : [{}];
  }
  return [{ filter: [...wanted].map((s) => `status eq ${literal(s)}`).join(' or ') }];
}

/** A selector as a search clause, or null when it cannot narrow the search (a glob starting with a wildcard). */
function selectorClause(s: GroupSelector): string | null {
  if ('id' in s) return `id eq ${literal(s.id)}`;
  if ('name' in s) return `profile.name eq ${literal(s.name)}`;
  const prefix = /^[^*?]*/.exec(s.glob)?.[0] ?? '';
  return prefix === '' ? null : `profile.name sw ${literal(prefix)}`;
}

/**
 * Query of the group listing: group types as a `filter` (consistent), or, when the configured
 * includes can all be expressed, one `search` of types AND (name eq / name sw / id eq ...).
 * Okta string comparisons in search are case-insensitive, which only widens the result.
 */
export function groupQuery(
  types: readonly GroupType[],
  hint: GroupFilterHint | undefined,
  namePushDown: boolean,
) {
  const all = types.length === 3;
  const typeExpr = types.map((t) => `type eq ${literal(t)}`).join(' or ');
  const clauses = namePushDown && hint && hint.include.length > 0 ? hint.include.map(selectorClause) : [];
  if (clauses.length > 0 && clauses.every((c) => c !== null)) {
    const names = clauses.join(' or ');
    return { search: all ? names : `(${typeExpr}) and (${names})` };
  }
  return all ? {} : { filter: typeExpr };
}

/** Glob (`*`, `?`) to an anchored, case-sensitive RegExp. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

/**
 * Whether a group is certainly excluded by the configured excludes. Case-sensitive, so it excludes
 * no more than the pipeline will (whatever its case rules): its members are then not fetched.
 */
export function excludedBy(hint: GroupFilterHint | undefined): (id: string, name: string) => boolean {
  const ex = hint?.exclude ?? [];
  if (ex.length === 0) return () => false;
  const ids = new Set(ex.flatMap((s) => ('id' in s ? [s.id] : [])));
  const names = new Set(ex.flatMap((s) => ('name' in s ? [s.name] : [])));
  const globs = ex.flatMap((s) => ('glob' in s ? [globToRegExp(s.glob)] : []));
  return (id, name) => ids.has(id) || names.has(name) || globs.some((g) => g.test(name));
}

/**
 * Whether a group is one a full read with this configuration yields: its type is synced, no
 * exclude drops it, and, when the includes are pushed down as a `search`, it matches them (search
 * compares strings case-insensitively). The change feed uses it to decide on groups it reads alone.
 */
export function groupSelector(
  types: readonly GroupType[],
  hint: GroupFilterHint | undefined,
  namePushDown: boolean,
): { wanted(id: string, name: string, type: string): boolean; byName: boolean } {
  const typeSet = new Set<string>(types);
  const excluded = excludedBy(hint);
  const query = groupQuery(types, hint, namePushDown);
  const include = 'search' in query ? (hint?.include ?? []) : [];
  const lower = (s: string) => s.toLowerCase();
  const matches = (id: string, name: string) =>
    include.length === 0 ||
    include.some((s) =>
      'id' in s
        ? lower(s.id) === lower(id)
        : 'name' in s
          ? lower(s.name) === lower(name)
          : lower(name).startsWith(lower(/^[^*?]*/.exec(s.glob)?.[0] ?? '')),
    );
  return {
    wanted: (id, name, type) => typeSet.has(type) && !excluded(id, name) && matches(id, name),
    // A rename can move a group into or out of the selection only when names select.
    byName: include.length > 0 || (hint?.exclude ?? []).some((s) => !('id' in s)),
  };
}
