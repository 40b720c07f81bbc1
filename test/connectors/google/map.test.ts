/**
 * The Google mapping against payloads shaped like the documented Directory API User, Group and
 * Member resources.
 */
import { describe, expect, it } from 'vitest';
import { mapGroup, mapMember, mapUser } from '../../../connectors/google/map.js';

const user = {
  kind: 'admin#directory#user',
  id: '108028372857162534720',
  etag: '"abc"',
  primaryEmail: 'liz@example.com',
  name: { givenName: 'Elizabeth', familyName: 'Smith', fullName: 'Elizabeth Smith' },
  isAdmin: false,
  isDelegatedAdmin: false,
  lastLoginTime: '2024-01-01T00:00:00.000Z',
  creationTime: '2020-01-01T00:00:00.000Z',
  agreedToTerms: true,
  suspended: false,
  archived: false,
  changePasswordAtNextLogin: false,
  ipWhitelisted: false,
  emails: [{ address: 'liz@example.com', primary: true }],
  customerId: 'C03az79cb',
  orgUnitPath: '/',
  isMailboxSetup: true,
  includeInGlobalAddressList: true,
};

describe('google mapUser', () => {
  it('maps the documented example', () => {
    expect(mapUser(user)).toMatchObject({
      kind: 'user',
      username: 'liz@example.com',
      active: true,
      displayName: 'Elizabeth Smith',
      attributes: { status: 'active' },
    });
    expect(mapUser({ ...user, suspended: true })).toMatchObject({ active: false });
    expect(mapUser({ ...user, archived: true })).toMatchObject({ active: false });
  });
  it('suspended missing (a fields mask) or null is unknown: never read as active', () => {
    const { suspended: _, ...trimmed } = user;
    expect(mapUser(trimmed)).toMatchObject({ kind: 'user', active: null, attributes: { status: 'unknown' } });
    expect(mapUser({ ...user, suspended: null })).toMatchObject({ kind: 'user', active: null });
    // An archived user is inactive whatever `suspended` says.
    expect(mapUser({ ...trimmed, archived: true })).toMatchObject({ active: false });
  });
  it('a user without an id is a user problem', () => {
    expect(mapUser({ ...user, id: undefined })).toMatchObject({
      kind: 'problem',
      objectType: 'user',
      externalId: null,
    });
  });
});

describe('google mapGroup and mapMember', () => {
  const group = {
    kind: 'admin#directory#group',
    id: '00meukdy0k',
    email: 'sales@example.com',
    name: 'Sales',
    directMembersCount: '12',
    description: '',
    adminCreated: true,
  };
  it('maps the documented example; without an id it is a group problem', () => {
    expect(mapGroup(group)).toMatchObject({ kind: 'group', name: 'Sales', description: null });
    expect(mapGroup({ ...group, id: null })).toMatchObject({
      kind: 'problem',
      objectType: 'group',
      externalId: null,
    });
  });
  it('members: typed edges; a member without a type or id is a membership problem', () => {
    const m = {
      kind: 'admin#directory#member',
      id: '108028372857162534720',
      email: 'liz@example.com',
      role: 'MEMBER',
      type: 'USER',
      status: 'ACTIVE',
    };
    expect(mapMember(group.id, m)).toMatchObject({ kind: 'edge', memberType: 'user', memberId: m.id });
    expect(mapMember(group.id, { ...m, type: undefined })).toMatchObject({
      kind: 'problem',
      objectType: 'edge',
    });
    expect(mapMember(group.id, { ...m, type: 'GROUP', id: undefined })).toMatchObject({
      kind: 'problem',
      objectType: 'edge',
    });
  });
});
