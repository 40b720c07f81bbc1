/**
 * The Graph mapping against payloads shaped like Microsoft's documented examples (user, group,
 * directoryObject members): nothing missing, null or new may turn into "absent" or a guessed value.
 */
import { describe, expect, it } from 'vitest';
import { mapGroup, mapMember, mapUser } from '../../../connectors/graph/map.js';

// As in "Get user" (v1.0) with $select of the properties Dirsync reads.
const user = {
  '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users/$entity',
  id: '87d349ed-44d7-43e1-9a83-5f2406dee5bd',
  userPrincipalName: 'AdeleV@contoso.com',
  displayName: 'Adele Vance',
  givenName: 'Adele',
  surname: 'Vance',
  mail: 'AdeleV@contoso.com',
  accountEnabled: true,
  jobTitle: 'Retail Manager',
  department: 'Retail',
  officeLocation: '18/2111',
};

describe('graph mapUser', () => {
  it('maps the documented example', () => {
    expect(mapUser(user)).toMatchObject({
      kind: 'user',
      externalId: user.id,
      username: 'AdeleV@contoso.com',
      active: true,
      attributes: { department: 'Retail', jobTitle: 'Retail Manager' },
    });
  });

  it('accountEnabled null or not selected is unknown, never false', () => {
    expect(mapUser({ ...user, accountEnabled: null })).toMatchObject({ kind: 'user', active: null });
    const { accountEnabled: _, ...trimmed } = user;
    expect(mapUser(trimmed)).toMatchObject({ kind: 'user', active: null });
    expect(mapUser({ ...user, accountEnabled: 'false' })).toMatchObject({
      kind: 'problem',
      externalId: user.id,
      reason: 'accountEnabled must be true, false or null, got string',
    });
  });

  it('a trimmed payload without userPrincipalName holds the user (a problem with its id)', () => {
    const { userPrincipalName: _, ...trimmed } = user;
    expect(mapUser(trimmed)).toMatchObject({
      kind: 'problem',
      objectType: 'user',
      externalId: user.id,
      reason: 'userPrincipalName is missing',
    });
  });

  it('a user without an id is a user problem without an id', () => {
    const { id: _, ...noId } = user;
    expect(mapUser(noId)).toMatchObject({ kind: 'problem', objectType: 'user', externalId: null });
    expect(mapUser({ ...user, id: 42 })).toMatchObject({
      kind: 'problem',
      objectType: 'user',
      externalId: null,
    });
  });
});

describe('graph mapGroup', () => {
  const group = {
    id: '02bd9fd6-8f93-4758-87c3-1fb73740a315',
    displayName: 'HR Taskforce',
    description: null,
    mailNickname: 'HRTaskforce',
    securityEnabled: false,
    mailEnabled: true,
    groupTypes: ['Unified'],
  };
  it('maps the documented example; a null description is none', () => {
    expect(mapGroup(group)).toMatchObject({ kind: 'group', name: 'HR Taskforce', description: null });
  });
  it('a group without an id or a name is a group problem', () => {
    expect(mapGroup({ ...group, id: null })).toMatchObject({
      kind: 'problem',
      objectType: 'group',
      externalId: null,
    });
    expect(mapGroup({ ...group, displayName: null })).toMatchObject({
      kind: 'problem',
      objectType: 'group',
      externalId: group.id,
    });
  });
});

describe('graph mapMember', () => {
  it('users and groups become edges; other directory objects are skipped', () => {
    expect(mapMember('g', { '@odata.type': '#microsoft.graph.user', id: 'u' })).toMatchObject({
      kind: 'edge',
      memberType: 'user',
      memberId: 'u',
    });
    expect(mapMember('g', { '@odata.type': '#microsoft.graph.device', id: 'd' })).toBeNull();
  });
  it('a member without @odata.type is a reported membership problem, not silently skipped', () => {
    expect(mapMember('g', { id: 'u' })).toMatchObject({
      kind: 'problem',
      objectType: 'edge',
      externalId: 'g',
    });
  });
  it('a user member without an id is a membership problem', () => {
    expect(mapMember('g', { '@odata.type': '#microsoft.graph.user', id: null })).toMatchObject({
      kind: 'problem',
      objectType: 'edge',
    });
  });
});
