import { describe, expect, it } from 'vitest';
import { groupFilters } from '../../../connectors/graph/filter.js';

describe('graph group filter push-down', () => {
  it('lists everything without include selectors', () => {
    expect(groupFilters(undefined)).toBeNull();
    expect(groupFilters({ include: [], exclude: [{ name: 'x' }] })).toBeNull();
  });

  it('turns names, prefix globs and ids into OData clauses, quoting apostrophes', () => {
    expect(
      groupFilters({
        include: [{ name: "O'Brien team" }, { glob: 'eng-*' }, { glob: 'exact' }, { id: 'a' }, { id: 'b' }],
        exclude: [],
      }),
    ).toEqual([
      "displayName eq 'O''Brien team' or startswith(displayName,'eng-') or displayName eq 'exact' or id in ('a','b')",
    ]);
  });

  it('gives up on a glob without a literal prefix (superset: list everything)', () => {
    expect(groupFilters({ include: [{ name: 'a' }, { glob: '*-admins' }], exclude: [] })).toBeNull();
  });

  it('splits long selector lists into several filters', () => {
    const include = Array.from({ length: 25 }, (_, i) => ({ name: `g${i}` }));
    const filters = groupFilters({ include, exclude: [] }) ?? [];
    expect(filters).toHaveLength(3);
    expect(filters.join(' or ').split(' or ')).toHaveLength(25);
  });
});
