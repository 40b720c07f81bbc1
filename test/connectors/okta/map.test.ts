/**
 * The Okta mapping against payloads shaped like Okta's documented User and Group examples.
 */
import { describe, expect, it } from 'vitest';
import { mapGroup, mapMember, mapUser } from '../../../connectors/okta/map.js';
import { wantedStatuses } from '../../../connectors/okta/query.js';
import { USER_STATUSES } from '../../../connectors/okta/config.js';

const user = {
  id: '00ub0oNGTSWTBKOLGLNR',
  status: 'ACTIVE',
  created: '2013-06-24T16:39:18.000Z',
  activated: '2013-06-24T16:39:19.000Z',
  statusChanged: '2013-06-24T16:39:19.000Z',
  lastLogin: '2013-06-24T17:39:19.000Z',
  lastUpdated: '2013-07-02T21:36:25.344Z',
  passwordChanged: '2013-07-02T21:36:25.344Z',
  type: { id: 'otyfnjfba4ye7pgjB0g4' },
  profile: {
    login: 'isaac.brock@example.com',
    firstName: 'Isaac',
    lastName: 'Brock',
    nickName: 'issac',
    displayName: 'Isaac Brock',
    email: 'isaac.brock@example.com',
    secondEmail: 'isaac@example.org',
    mobilePhone: '555-415-1337',
  },
  credentials: { provider: { type: 'OKTA', name: 'OKTA' } },
  _links: { self: { href: 'https://{yourOktaDomain}/api/v1/users/00ub0oNGTSWTBKOLGLNR' } },
};

describe('okta mapUser', () => {
  it('maps the documented example', () => {
    expect(mapUser(user)).toMatchObject({
      status: 'ACTIVE',
      item: { kind: 'user', username: 'isaac.brock@example.com', active: true, displayName: 'Isaac Brock' },
    });
  });

  it('SUSPENDED and DEPROVISIONED are inactive; STAGED and PROVISIONED are active (on their way in)', () => {
    for (const [status, active] of [
      ['SUSPENDED', false],
      ['DEPROVISIONED', false],
      ['STAGED', true],
      ['PROVISIONED', true],
      ['LOCKED_OUT', true],
    ] as const)
      expect(mapUser({ ...user, status }).item).toMatchObject({ kind: 'user', active });
  });

  it('a status Okta added later is a problem that holds the user, never active and never dropped', () => {
    expect(mapUser({ ...user, status: 'PENDING_REVIEW' })).toEqual({
      status: null,
      item: {
        kind: 'problem',
        objectType: 'user',
        externalId: user.id,
        reason: 'status "PENDING_REVIEW" is not one Dirsync knows; the user is held as it is',
        sample: { status: 'PENDING_REVIEW' },
      },
    });
  });

  it('a user without an id, or with null profile fields', () => {
    expect(mapUser({ ...user, id: undefined }).item).toMatchObject({ kind: 'problem', externalId: null });
    expect(
      mapUser({ ...user, profile: { ...user.profile, email: null, displayName: null } }).item,
    ).toMatchObject({
      kind: 'user',
      email: null,
      displayName: 'Isaac Brock',
    });
  });
});

describe('okta activeOnly push-down', () => {
  it('leaves out users who cannot sign in yet (STAGED, PROVISIONED) with the inactive ones', () => {
    expect([...wantedStatuses(USER_STATUSES, true)].sort()).toEqual([
      'ACTIVE',
      'LOCKED_OUT',
      'PASSWORD_EXPIRED',
      'RECOVERY',
    ]);
    expect(wantedStatuses(USER_STATUSES, false).size).toBe(USER_STATUSES.length);
  });
});

describe('okta mapGroup and mapMember', () => {
  const group = {
    id: '00g1emaKYZTWRYYRRTSK',
    created: '2015-02-06T10:11:28.000Z',
    type: 'OKTA_GROUP',
    profile: { name: 'West Coast Users', description: 'All Users West of The Rockies' },
  };
  it('maps the documented example; a group without an id is a group problem', () => {
    expect(mapGroup(group).item).toMatchObject({ kind: 'group', name: 'West Coast Users' });
    expect(mapGroup({ ...group, id: null }).item).toMatchObject({
      kind: 'problem',
      objectType: 'group',
      externalId: null,
    });
    expect(mapGroup({ ...group, profile: { ...group.profile, description: null } }).item).toMatchObject({
      description: null,
    });
  });
  it('a member without an id is a membership problem of its group', () => {
    expect(mapMember(group.id, { ...user, id: undefined }).item).toMatchObject({
      kind: 'problem',
      objectType: 'edge',
      externalId: group.id,
    });
  });
});
