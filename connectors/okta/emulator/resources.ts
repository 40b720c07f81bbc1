/**
 * The single-object read endpoints a directory reader calls besides the lists: a user by id, login
 * or login short name (`GET /api/v1/users/{id}`, `expand=blocks`), a user's groups
 * (`GET /api/v1/users/{id}/groups`, unpaged), a group (`GET /api/v1/groups/{groupId}`,
 * `expand=stats|app`), and the org's general settings (`GET /api/v1/org`). Unknown objects answer
 * Okta's 404 E0000007.
 * https://developer.okta.com/docs/api/openapi/okta-management/management/tag/User/#tag/User/operation/getUser
 */
import type { OrgUser } from '../../emulator-kit/org.js';
import type { ListResult } from './api.js';
import { AD_APP_ID, everyoneGroup, EVERYONE_ID, oktaLogin, renderGroup, renderUser } from './render.js';
import type { OktaStore } from './store.js';

const notFound = (id: string, kind: string): ListResult => ({
  status: 404,
  body: null,
  headers: {},
  error: { code: 'E0000007', summary: `Not found: Resource not found: ${id} (${kind})` },
});

/** A user by id, by login (case-insensitive) or by the login's short name (the part before `@`). */
export function findUser(store: OktaStore, idOrLogin: string): OrgUser | undefined {
  store.index.refresh();
  const byId = store.index.byId.get(idOrLogin);
  if (byId) return byId;
  const wanted = idOrLogin.toLowerCase();
  const full = store.org.users.find((u) => oktaLogin(store.org, u).toLowerCase() === wanted);
  if (full) return full;
  if (wanted.includes('@')) return undefined;
  const short = store.org.users.filter((u) => oktaLogin(store.org, u).toLowerCase().split('@')[0] === wanted);
  // An ambiguous short name finds nobody, as on Okta.
  return short.length === 1 ? short[0] : undefined;
}

export function getUser(store: OktaStore, base: string, idOrLogin: string, q: URLSearchParams): ListResult {
  const u = findUser(store, idOrLogin);
  if (!u) return notFound(idOrLogin, 'User');
  const body: Record<string, unknown> = renderUser(store.org, u, base, store.stamps);
  const expand = (q.get('expand') ?? '').split(',');
  if (expand.includes('blocks')) body._embedded = { blocks: [] };
  return { status: 200, body, headers: { ETag: `W/"${Date.parse(String(body.lastUpdated))}"` } };
}

function groupWithExpand(store: OktaStore, base: string, g: typeof everyoneGroup, q: URLSearchParams) {
  const body: Record<string, unknown> = renderGroup(g, base, store.stamps, store.org.domain);
  const expand = (q.get('expand') ?? '').split(',');
  const embedded: Record<string, unknown> = {};
  if (expand.includes('stats')) {
    const usersCount =
      g.id === EVERYONE_ID ? store.org.users.length : (store.org.members.get(g.id)?.size ?? 0);
    embedded.stats = { usersCount, appsCount: 0, groupPushMappingsCount: 0, hasAdminPrivlege: false };
  }
  if (expand.includes('app') && body.type === 'APP_GROUP') {
    embedded.app = { id: AD_APP_ID, name: 'active_directory', label: `${store.org.domain} Active Directory` };
  }
  if (Object.keys(embedded).length > 0) body._embedded = embedded;
  return body;
}

export function getGroup(store: OktaStore, base: string, id: string, q: URLSearchParams): ListResult {
  const g = id === EVERYONE_ID ? everyoneGroup : store.org.groups.find((x) => x.id === id);
  if (!g) return notFound(id, 'UserGroup');
  return { status: 200, body: groupWithExpand(store, base, g, q), headers: {} };
}

/** Every group of the user, `Everyone` included; Okta does not page this list. */
export function listUserGroups(store: OktaStore, base: string, idOrLogin: string): ListResult {
  const u = findUser(store, idOrLogin);
  if (!u) return notFound(idOrLogin, 'User');
  const groups = [everyoneGroup, ...store.org.groups.filter((g) => store.org.members.get(g.id)?.has(u.id))];
  groups.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    status: 200,
    body: groups.map((g) => renderGroup(g, base, store.stamps, store.org.domain)),
    headers: {},
  };
}

/** Okta org general settings (`okta.orgs.read`). */
export function getOrg(store: OktaStore, base: string): ListResult {
  const sub = store.org.domain.split('.')[0] ?? 'example';
  return {
    status: 200,
    body: {
      id: '00oDirsyncEmulatorOrg',
      companyName: `${sub.charAt(0).toUpperCase()}${sub.slice(1)} Inc.`,
      subdomain: sub,
      status: 'ACTIVE',
      website: `https://www.${store.org.domain}`,
      phoneNumber: '+1-555-0100',
      address1: '1 Main Street',
      city: 'San Francisco',
      state: 'California',
      country: 'United States',
      postalCode: '94105',
      supportPhoneNumber: '+1-555-0199',
      endUserSupportHelpURL: `https://support.${store.org.domain}`,
      created: '2019-12-31T00:00:00.000Z',
      lastUpdated: '2019-12-31T00:00:00.000Z',
      _links: {
        contacts: { href: `${base}/api/v1/org/contacts` },
        logo: { href: `${base}/api/v1/org/logo` },
        oktaCommunication: { href: `${base}/api/v1/org/privacy/oktaCommunication` },
        oktaSupport: { href: `${base}/api/v1/org/privacy/oktaSupport` },
        preferences: { href: `${base}/api/v1/org/preferences` },
        uploadLogo: { href: `${base}/api/v1/org/logo`, hints: { allow: ['POST'] } },
      },
    },
    headers: {},
  };
}
