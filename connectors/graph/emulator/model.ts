/**
 * How org objects look on the wire in Microsoft Graph v1.0: property getters per entity type and
 * the default property set Graph returns when a request has no `$select`.
 *
 * Quirk reproduced on purpose: `accountEnabled` is NOT in the default set of `user`, so a client
 * that forgets `$select` sees every user as "no accountEnabled" and may treat it as enabled.
 * https://learn.microsoft.com/graph/api/user-list#optional-query-parameters
 */
import type { OrgGroup, OrgUser } from '../../emulator-kit/org.js';
import { graphId } from './ids.js';

export type EntityType = 'user' | 'group' | 'device' | 'servicePrincipal' | 'orgContact';

/** A non-user, non-group directory object that is a member of some group. */
export interface OtherObject {
  type: 'device' | 'servicePrincipal' | 'orgContact';
  /** Org-style id (used to derive the Graph id). */
  orgId: string;
  displayName: string;
}

/** A direct member of a group, with its entity type. */
export type MemberRef =
  | { type: 'user'; obj: OrgUser }
  | { type: 'group'; obj: OrgGroup }
  | { type: OtherObject['type']; obj: OtherObject };

type Getter<T> = (o: T, domain: string) => unknown;

const nul = () => null;
const empty = () => [];

export const USER_PROPS: Record<string, Getter<OrgUser>> = {
  id: (u) => graphId(u.id),
  deletedDateTime: nul,
  accountEnabled: (u) => u.status === 'active',
  businessPhones: empty,
  city: nul,
  companyName: nul,
  country: nul,
  createdDateTime: (u) => u.created,
  department: (u) => u.department,
  displayName: (u) => u.displayName,
  employeeId: nul,
  givenName: (u) => u.givenName,
  jobTitle: (u) => u.title,
  mail: (u) => u.email,
  mailNickname: (u) => u.login,
  mobilePhone: nul,
  officeLocation: nul,
  onPremisesImmutableId: nul,
  onPremisesSyncEnabled: nul,
  otherMails: empty,
  preferredLanguage: nul,
  state: nul,
  surname: (u) => u.familyName,
  usageLocation: nul,
  userPrincipalName: (u, domain) => `${u.login}@${domain}`,
  userType: () => 'Member',
};

/** https://learn.microsoft.com/graph/api/resources/user#properties ("Returned by default"). */
export const USER_DEFAULT = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
];

const slug = (s: string) => s.replace(/[^A-Za-z0-9-]/g, '').slice(0, 60) || 'group';

export const GROUP_PROPS: Record<string, Getter<OrgGroup>> = {
  id: (g) => graphId(g.id),
  deletedDateTime: nul,
  classification: nul,
  createdDateTime: (g) => g.created,
  // Graph has no empty descriptions: an unset description is null.
  description: (g) => (g.description === '' ? null : g.description),
  displayName: (g) => g.name,
  expirationDateTime: nul,
  groupTypes: empty,
  isAssignableToRole: nul,
  mail: nul,
  mailEnabled: () => false,
  mailNickname: (g) => slug(g.name),
  membershipRule: nul,
  membershipRuleProcessingState: nul,
  onPremisesDomainName: nul,
  onPremisesLastSyncDateTime: nul,
  onPremisesNetBiosName: nul,
  onPremisesSamAccountName: nul,
  onPremisesSecurityIdentifier: nul,
  onPremisesSyncEnabled: nul,
  preferredDataLocation: nul,
  preferredLanguage: nul,
  proxyAddresses: empty,
  renewedDateTime: (g) => g.created,
  resourceBehaviorOptions: empty,
  resourceProvisioningOptions: empty,
  securityEnabled: () => true,
  securityIdentifier: (g) => `S-1-12-1-${parseInt(graphId(g.id).slice(0, 8), 16)}`,
  theme: nul,
  visibility: nul,
  onPremisesProvisioningErrors: empty,
  serviceProvisioningErrors: empty,
};

/** Groups return (almost) every property by default. */
export const GROUP_DEFAULT = Object.keys(GROUP_PROPS);

export const OTHER_PROPS: Record<OtherObject['type'], Record<string, Getter<OtherObject>>> = {
  device: {
    id: (o) => graphId(o.orgId),
    deletedDateTime: nul,
    accountEnabled: () => true,
    deviceId: (o) => graphId(`${o.orgId}:device`),
    displayName: (o) => o.displayName,
    operatingSystem: () => 'Windows',
    operatingSystemVersion: () => '10.0.22631',
  },
  servicePrincipal: {
    id: (o) => graphId(o.orgId),
    deletedDateTime: nul,
    accountEnabled: () => true,
    appId: (o) => graphId(`${o.orgId}:app`),
    appDisplayName: (o) => o.displayName,
    displayName: (o) => o.displayName,
    servicePrincipalType: () => 'Application',
  },
  orgContact: {
    id: (o) => graphId(o.orgId),
    deletedDateTime: nul,
    displayName: (o) => o.displayName,
    givenName: (o) => o.displayName.split(' ')[0] ?? null,
    surname: nul,
    mail: (o, domain) => `${o.orgId}@partner.${domain}`,
    companyName: () => 'Partner Ltd',
  },
};

/** Every property name known on any member type: what `$select` on a members list may name. */
export const MEMBER_SELECTABLE = new Set([
  ...Object.keys(USER_PROPS),
  ...Object.keys(GROUP_PROPS),
  ...Object.values(OTHER_PROPS).flatMap((p) => Object.keys(p)),
]);

export function render<T>(
  props: Record<string, Getter<T>>,
  obj: T,
  domain: string,
  select: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of select) {
    const get = props[name];
    if (get) out[name] = get(obj, domain);
  }
  // Graph always returns the id, even when $select leaves it out.
  if (!('id' in out) && props.id) out.id = props.id(obj, domain);
  return out;
}
