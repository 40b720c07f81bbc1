import { describe, expect, it } from 'vitest';
import { changedFields, showValue } from '../../src/util/change-fields.js';

describe('changedFields', () => {
  it('a deactivation of a user who left the IdP shows active and missing, not every field as null', () => {
    const before = {
      username: 'anna',
      email: 'anna@example.com',
      displayName: 'Anna',
      active: true,
      missing: false,
      attributes: { title: 'Engineer' },
    };
    const fields = changedFields('deactivate', before, { active: false, missing: true });
    expect(fields).toEqual([
      { field: 'active', before: true, after: false },
      { field: 'missing', before: false, after: true },
    ]);
  });

  it('an already inactive user who left shows only that it is missing now', () => {
    const fields = changedFields(
      'deactivate',
      { username: 'bo', active: false, missing: false },
      { active: false, missing: true },
    );
    expect(fields).toEqual([{ field: 'missing', before: false, after: true }]);
  });

  it('an attribute update lists the changed keys only, by dotted path', () => {
    const fields = changedFields(
      'update',
      { attributes: { title: 'Engineer', dept: 'Eng', manager: { id: 'm1', name: 'M' } } },
      { attributes: { title: 'Manager', dept: 'Eng', manager: { id: 'm2', name: 'M' }, phone: '1' } },
    );
    expect(fields).toEqual([
      { field: 'attributes.title', before: 'Engineer', after: 'Manager' },
      { field: 'attributes.manager.id', before: 'm1', after: 'm2' },
      { field: 'attributes.phone', before: undefined, after: '1' },
    ]);
  });

  it('an attribute removed by an update is shown as removed', () => {
    expect(changedFields('update', { attributes: { a: 1, b: 2 } }, { attributes: { a: 1 } })).toEqual([
      { field: 'attributes.b', before: 2, after: undefined },
    ]);
  });

  it('creates and deletes carry no field list', () => {
    expect(changedFields('create', null, { username: 'x' })).toEqual([]);
    expect(changedFields('delete', { username: 'x' }, null)).toEqual([]);
  });

  it('shows values on one short line', () => {
    expect(showValue(undefined)).toBe('(none)');
    expect(showValue('a')).toBe('"a"');
    expect(showValue('x'.repeat(100), 10)).toHaveLength(10);
  });
});
