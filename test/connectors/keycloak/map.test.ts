/**
 * The Keycloak mapping against payloads shaped like the documented UserRepresentation and
 * GroupRepresentation (as `GET /admin/realms/{realm}/users` returns them).
 */
import { describe, expect, it } from 'vitest';
import { mapGroup, mapMember, mapUser } from '../../../connectors/keycloak/map.js';

const user = {
  id: 'a3b4c5d6-0000-4000-8000-000000000001',
  username: 'jdoe',
  firstName: 'John',
  lastName: 'Doe',
  email: 'jdoe@example.com',
  emailVerified: true,
  createdTimestamp: 1700000000000,
  enabled: true,
  totp: false,
  attributes: { department: ['Sales'] },
  disableableCredentialTypes: [],
  requiredActions: [],
  notBefore: 0,
  access: { manage: true },
};

describe('keycloak mapUser', () => {
  it('maps the documented shape', () => {
    expect(mapUser(user)).toMatchObject({
      kind: 'user',
      username: 'jdoe',
      active: true,
      displayName: 'John Doe',
      attributes: { department: 'Sales', emailVerified: true },
    });
    expect(mapUser({ ...user, enabled: false })).toMatchObject({ active: false });
  });
  it('enabled missing or null is unknown, never a guess', () => {
    expect(mapUser({ ...user, enabled: null })).toMatchObject({ kind: 'user', active: null });
    const { enabled: _, ...trimmed } = user;
    expect(mapUser(trimmed)).toMatchObject({ kind: 'user', active: null });
    expect(mapUser({ ...user, enabled: 'true' })).toMatchObject({ kind: 'problem', externalId: user.id });
  });
  it('null names and a user without an id', () => {
    expect(mapUser({ ...user, firstName: null, lastName: null, email: null })).toMatchObject({
      kind: 'user',
      displayName: null,
      email: null,
    });
    expect(mapUser({ ...user, id: undefined })).toMatchObject({
      kind: 'problem',
      objectType: 'user',
      externalId: null,
    });
  });
});

describe('keycloak mapGroup and mapMember', () => {
  const group = {
    id: 'g-1',
    name: 'sales',
    path: '/sales',
    subGroupCount: 0,
    attributes: {},
    realmRoles: [],
  };
  it('maps the documented shape; without an id it is a group problem', () => {
    expect(mapGroup(group)).toMatchObject({ kind: 'group', name: 'sales', attributes: { path: '/sales' } });
    expect(mapGroup({ ...group, id: '' })).toMatchObject({
      kind: 'problem',
      objectType: 'group',
      externalId: null,
    });
  });
  it('a member without an id is a membership problem of its group', () => {
    expect(mapMember('g-1', { username: 'x' })).toMatchObject({
      kind: 'problem',
      objectType: 'edge',
      externalId: 'g-1',
    });
  });
});
