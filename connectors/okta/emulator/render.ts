/**
 * Renders the IdP-neutral org model as Okta's wire format (User and Group objects of the
 * management API). Derived Okta facts (which active users are LOCKED_OUT, which groups are
 * imported APP_GROUPs) come from a hash of the id, so they are stable and the tests can compute
 * the same truth with the exported helpers.
 */
import type { Org, OrgGroup, OrgUser } from '../../emulator-kit/org.js';

/** The built-in `Everyone` group every Okta org has; it holds every user. */
export const EVERYONE_ID = '00gEveryone0000000000';

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Okta status of a user: org `active` users spread over Okta's sign-in-capable states. */
export function oktaStatus(u: OrgUser): string {
  if (u.status === 'deprovisioned') return 'DEPROVISIONED';
  if (u.status === 'suspended') return 'SUSPENDED';
  const h = hash(u.id) % 50;
  return h === 0
    ? 'LOCKED_OUT'
    : h === 1
      ? 'PASSWORD_EXPIRED'
      : h === 2
        ? 'RECOVERY'
        : h === 3
          ? 'PROVISIONED'
          : 'ACTIVE';
}

/** Okta login: email-shaped, as Okta's default username policy requires. */
export const oktaLogin = (org: Org, u: OrgUser): string =>
  u.login.includes('@') ? u.login : `${u.login}@${org.domain}`;

/** Okta's base profile requires an email; users without a mailbox carry their login. */
export const oktaEmail = (org: Org, u: OrgUser): string => u.email ?? oktaLogin(org, u);

export type OktaGroupType = 'OKTA_GROUP' | 'APP_GROUP' | 'BUILT_IN';

/** About one group in ten is imported from Active Directory (APP_GROUP). */
export function oktaGroupType(g: { id: string }): OktaGroupType {
  if (g.id === EVERYONE_ID) return 'BUILT_IN';
  return hash(g.id) % 10 === 3 ? 'APP_GROUP' : 'OKTA_GROUP';
}

export const AD_APP_ID = '0oaActiveDirectory0001';

/** Per-object timestamps the emulator keeps (the org model has `created` only). */
export interface Stamps {
  lastUpdated: Map<string, string>;
  lastMembershipUpdated: Map<string, string>;
  /** When a user's status last changed (absent: never since it was created). */
  statusChanged?: Map<string, string>;
  /** Test knob: fields merged over a rendered user or group, to serve malformed records. */
  overrides: Map<string, Record<string, unknown>>;
}

function withOverride<T extends object>(stamps: Stamps, id: string, obj: T): T {
  const o = stamps.overrides.get(id);
  return o ? { ...obj, ...o } : obj;
}

export function renderUser(org: Org, u: OrgUser, base: string, stamps: Stamps): Record<string, unknown> {
  const status = oktaStatus(u);
  const updated = stamps.lastUpdated.get(u.id) ?? u.created;
  const staged = status === 'STAGED' || status === 'PROVISIONED';
  return withOverride(stamps, u.id, {
    id: u.id,
    status,
    created: u.created,
    activated: staged ? null : u.created,
    statusChanged: stamps.statusChanged?.get(u.id) ?? (status === 'ACTIVE' ? null : updated),
    lastLogin: null,
    lastUpdated: updated,
    passwordChanged: staged ? null : u.created,
    type: { id: 'otyDefaultUserType0001' },
    profile: {
      firstName: u.givenName,
      lastName: u.familyName,
      displayName: u.displayName,
      mobilePhone: null,
      secondEmail: null,
      login: oktaLogin(org, u),
      email: oktaEmail(org, u),
      department: u.department,
      title: u.title,
      userType: 'Employee',
    },
    credentials: { provider: { type: 'OKTA', name: 'OKTA' } },
    _links: { self: { href: `${base}/api/v1/users/${u.id}` } },
  });
}

export function renderGroup(
  g: Pick<OrgGroup, 'id' | 'name' | 'description' | 'created'>,
  base: string,
  stamps: Stamps,
  domain: string,
) {
  const type = oktaGroupType(g);
  const links: Record<string, unknown> = {
    logo: [
      { name: 'medium', href: `${base}/assets/img/logos/groups/okta-medium.png`, type: 'image/png' },
      { name: 'large', href: `${base}/assets/img/logos/groups/okta-large.png`, type: 'image/png' },
    ],
    users: { href: `${base}/api/v1/groups/${g.id}/users` },
    apps: { href: `${base}/api/v1/groups/${g.id}/apps` },
  };
  let profile: Record<string, unknown> = { name: g.name, description: g.description };
  let objectClass = ['okta:user_group'];
  if (type === 'APP_GROUP') {
    const netbios = domain.split('.')[0]?.toUpperCase() ?? 'CORP';
    objectClass = ['okta:windows_security_principal'];
    profile = {
      name: g.name,
      description: g.description,
      groupType: 'Security',
      samAccountName: g.name,
      dn: `CN=${g.name},OU=Groups,DC=${domain.split('.').join(',DC=')}`,
      windowsDomainQualifiedName: `${netbios}\\${g.name}`,
      externalId: Buffer.from(g.id).toString('base64'),
    };
    links.source = { href: `${base}/api/v1/apps/${AD_APP_ID}` };
  }
  const updated = stamps.lastUpdated.get(g.id) ?? g.created;
  return withOverride(stamps, g.id, {
    id: g.id,
    created: g.created,
    lastUpdated: updated,
    lastMembershipUpdated: stamps.lastMembershipUpdated.get(g.id) ?? g.created,
    objectClass,
    type,
    profile,
    _links: links,
  });
}

export const everyoneGroup = {
  id: EVERYONE_ID,
  name: 'Everyone',
  description: 'All users in your organization',
  created: '2019-12-31T00:00:00.000Z',
};
