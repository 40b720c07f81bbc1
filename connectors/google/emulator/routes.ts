/**
 * Which Directory API method a path is, the scopes that grant it, and its answer. Beyond the
 * lists the connector uses (api.ts), the read methods a directory reader plausibly calls:
 * `members.get`, `members.hasMember`, `users.aliases.list`, `groups.aliases.list`,
 * `orgunits.list`/`get`, `customers.get`, `domains.list`, `roles.list`, `roleAssignments.list`.
 * Paths, parameters and resources follow the discovery document (`admin:directory_v1`).
 */
import type { OrgUser } from '../../emulator-kit/org.js';
import { ApiError, getGroup, getUser, listGroups, listMembers, listUsers, type ApiOptions } from './api.js';
import type { GoogleDirectory } from './directory.js';

type Obj = Record<string, unknown>;

/** Scopes that grant each endpoint family (any one suffices), from the discovery document. */
export const ENDPOINT_SCOPES = {
  users: [
    'https://www.googleapis.com/auth/admin.directory.user',
    'https://www.googleapis.com/auth/admin.directory.user.readonly',
  ],
  /** users.aliases.list also accepts the alias scopes. */
  userAliases: [
    'https://www.googleapis.com/auth/admin.directory.user',
    'https://www.googleapis.com/auth/admin.directory.user.readonly',
    'https://www.googleapis.com/auth/admin.directory.user.alias',
    'https://www.googleapis.com/auth/admin.directory.user.alias.readonly',
  ],
  groups: [
    'https://www.googleapis.com/auth/admin.directory.group',
    'https://www.googleapis.com/auth/admin.directory.group.readonly',
  ],
  members: [
    'https://www.googleapis.com/auth/admin.directory.group',
    'https://www.googleapis.com/auth/admin.directory.group.readonly',
    'https://www.googleapis.com/auth/admin.directory.group.member',
    'https://www.googleapis.com/auth/admin.directory.group.member.readonly',
  ],
  orgunits: [
    'https://www.googleapis.com/auth/admin.directory.orgunit',
    'https://www.googleapis.com/auth/admin.directory.orgunit.readonly',
  ],
  customers: [
    'https://www.googleapis.com/auth/admin.directory.customer',
    'https://www.googleapis.com/auth/admin.directory.customer.readonly',
  ],
  domains: [
    'https://www.googleapis.com/auth/admin.directory.domain',
    'https://www.googleapis.com/auth/admin.directory.domain.readonly',
  ],
  roles: [
    'https://www.googleapis.com/auth/admin.directory.rolemanagement',
    'https://www.googleapis.com/auth/admin.directory.rolemanagement.readonly',
  ],
  /** activities.list (the Reports discovery document names only this scope for it). */
  reports: ['https://www.googleapis.com/auth/admin.reports.audit.readonly'],
} as const;

export type Family = keyof typeof ENDPOINT_SCOPES;

export interface Route {
  family: Family;
  answer(): Obj;
}

const notFound = (what: string) => new ApiError(404, 'notFound', `Resource Not Found: ${what}`);

/** The Super Admin role: the emulator's one admin holds it. */
const SUPER_ADMIN_ROLE_ID = '91447453409034241';

function checkCustomer(dir: GoogleDirectory, customer: string): void {
  if (customer !== 'my_customer' && customer !== dir.customerId) {
    throw new ApiError(400, 'badRequest', 'Bad Request');
  }
}

function etagOf(s: string): string {
  return `"${Buffer.from(s).toString('base64url').slice(0, 27)}"`;
}

function rootOrgUnit(dir: GoogleDirectory): Obj {
  return {
    kind: 'admin#directory#orgUnit',
    etag: etagOf(`ou:${dir.customerId}`),
    name: dir.org.domain,
    description: '',
    orgUnitPath: '/',
    orgUnitId: `id:${dir.customerId.toLowerCase()}`,
    blockInheritance: false,
  };
}

/** The member resource of `memberKey` in `group`'s direct member list, or undefined. */
function directMember(dir: GoogleDirectory, groupKey: string, memberKey: string): Obj | undefined {
  const g = dir.findGroup(groupKey);
  if (!g) throw notFound('groupKey');
  const user = dir.findUser(memberKey);
  const sub = dir.findGroup(memberKey);
  const id = user?.id ?? sub?.id ?? memberKey;
  const key = memberKey.toLowerCase();
  return dir.members(g).find((m) => m.id === id || (typeof m.email === 'string' && m.email === key));
}

/** hasMember: direct or nested membership of a user (cycle-safe). */
function hasMember(dir: GoogleDirectory, groupKey: string, memberKey: string): boolean {
  const g = dir.findGroup(groupKey);
  if (!g) throw notFound('groupKey');
  const user: OrgUser | undefined = dir.findUser(memberKey);
  const sub = dir.findGroup(memberKey);
  if (!user && !sub) throw notFound('memberKey');
  const seen = new Set<string>();
  const stack = [g.id];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    if (user && dir.org.members.get(id)?.has(user.id)) return true;
    for (const c of dir.childGroups(id)) {
      if (sub && c === sub.id) return true;
      stack.push(c);
    }
  }
  return false;
}

/**
 * The route for a Directory API path (`rest`: the segments after `/admin/directory/v1/`), or null
 * when the emulator does not serve it (the caller answers 404).
 */
export function directoryRoute(
  dir: GoogleDirectory,
  rest: string[],
  q: URLSearchParams,
  opts: ApiOptions,
): Route | null {
  const [a, b, c, d] = rest;
  const n = rest.length;
  if (a === 'users') {
    if (n === 1) return { family: 'users', answer: () => listUsers(dir, q, opts) };
    if (n === 2) return { family: 'users', answer: () => getUser(dir, b as string, q) };
    if (n === 3 && c === 'aliases') {
      return {
        family: 'userAliases',
        answer: () => {
          const u = dir.findUser(b as string);
          if (!u) throw notFound('userKey');
          const aliases = [...dir.aliases].filter(([, id]) => id === u.id).map(([alias]) => alias);
          const body: Obj = {
            kind: 'admin#directory#aliases',
            etag: etagOf(`aliases:${u.id}:${aliases.length}`),
          };
          if (aliases.length > 0) {
            body.aliases = aliases.map((alias) => ({
              kind: 'admin#directory#alias',
              id: u.id,
              etag: etagOf(`alias:${alias}`),
              primaryEmail: dir.primaryEmail(u),
              alias,
            }));
          }
          return body;
        },
      };
    }
    return null;
  }
  if (a === 'groups') {
    if (n === 1) return { family: 'groups', answer: () => listGroups(dir, q, opts) };
    if (n === 2) return { family: 'groups', answer: () => getGroup(dir, b as string, q) };
    if (n === 3 && c === 'members')
      return { family: 'members', answer: () => listMembers(dir, b as string, q, opts) };
    if (n === 4 && c === 'members') {
      return {
        family: 'members',
        answer: () => {
          const m = directMember(dir, b as string, d as string);
          if (!m) throw notFound('memberKey');
          return m;
        },
      };
    }
    if (n === 4 && c === 'hasMember') {
      return { family: 'members', answer: () => ({ isMember: hasMember(dir, b as string, d as string) }) };
    }
    if (n === 3 && c === 'aliases') {
      return {
        family: 'groups',
        answer: () => {
          const g = dir.findGroup(b as string);
          if (!g) throw notFound('groupKey');
          // Groups made here have no aliases besides the non-editable test-domain one (not listed).
          return { kind: 'admin#directory#aliases', etag: etagOf(`galiases:${g.id}`) };
        },
      };
    }
    return null;
  }
  if (a === 'customers' && n === 2) {
    return {
      family: 'customers',
      answer: () => {
        checkCustomer(dir, b as string);
        return {
          kind: 'admin#directory#customer',
          id: dir.customerId,
          etag: etagOf(`customer:${dir.customerId}`),
          customerDomain: dir.org.domain,
          alternateEmail: `it@${dir.org.domain}`,
          customerCreationTime: '2015-01-01T00:00:00.000Z',
          language: 'en',
        };
      },
    };
  }
  if (a === 'customer' && b !== undefined && n >= 3) {
    const customer = b;
    if (c === 'orgunits' && n === 3) {
      return {
        family: 'orgunits',
        answer: () => {
          checkCustomer(dir, customer);
          const type = q.get('type') ?? 'children';
          if (!['all', 'children', 'allIncludingParent'].includes(type)) {
            throw new ApiError(400, 'invalidParameter', `Invalid value '${type}' for type`, {
              location: 'type',
            });
          }
          // Everyone sits in the root ("/"), which has no children here.
          const body: Obj = { kind: 'admin#directory#orgUnits', etag: etagOf(`ous:${type}`) };
          if (type === 'allIncludingParent') body.organizationUnits = [rootOrgUnit(dir)];
          return body;
        },
      };
    }
    if (c === 'orgunits' && n >= 4) {
      return {
        family: 'orgunits',
        answer: () => {
          checkCustomer(dir, customer);
          const path = rest.slice(3).join('/');
          const root = rootOrgUnit(dir);
          if (path === '' || path === '/' || path === root.orgUnitId) return root;
          throw new ApiError(404, 'notFound', 'Org unit not found');
        },
      };
    }
    if (c === 'domains' && n === 3) {
      return {
        family: 'domains',
        answer: () => {
          checkCustomer(dir, customer);
          return {
            kind: 'admin#directory#domains',
            etag: etagOf(`domains:${dir.org.domain}`),
            domains: [
              {
                kind: 'admin#directory#domain',
                etag: etagOf(`domain:${dir.org.domain}`),
                domainName: dir.org.domain,
                isPrimary: true,
                verified: true,
                creationTime: '1420070400000',
              },
            ],
          };
        },
      };
    }
    if (c === 'roles' && n === 3) {
      return {
        family: 'roles',
        answer: () => {
          checkCustomer(dir, customer);
          return {
            kind: 'admin#directory#roles',
            etag: etagOf('roles'),
            items: [
              {
                kind: 'admin#directory#role',
                etag: etagOf(`role:${SUPER_ADMIN_ROLE_ID}`),
                roleId: SUPER_ADMIN_ROLE_ID,
                roleName: '_SEED_ADMIN_ROLE',
                roleDescription: 'Super Admin',
                isSystemRole: true,
                isSuperAdminRole: true,
                rolePrivileges: [{ privilegeName: 'SUPER_ADMIN', serviceId: '01ci93xb3tmzyin' }],
              },
            ],
          };
        },
      };
    }
    if (c === 'roleassignments' && n === 3) {
      return {
        family: 'roles',
        answer: () => {
          checkCustomer(dir, customer);
          const userKey = q.get('userKey');
          const roleId = q.get('roleId');
          if (userKey && roleId) {
            throw new ApiError(400, 'invalid', 'Invalid Input: only one of userKey and roleId may be set');
          }
          // Only the emulator's admin (not a listed user) holds a role: the Super Admin role.
          const adminId = '100000000000000000001';
          const keep =
            (!userKey ||
              userKey === adminId ||
              userKey.toLowerCase() === `admin@${dir.org.domain}`.toLowerCase()) &&
            (!roleId || roleId === SUPER_ADMIN_ROLE_ID);
          if (userKey && !keep && !dir.findUser(userKey)) throw notFound('userKey');
          const body: Obj = {
            kind: 'admin#directory#roleAssignments',
            etag: etagOf(`ras:${userKey}:${roleId}`),
          };
          if (keep) {
            body.items = [
              {
                kind: 'admin#directory#roleAssignment',
                etag: etagOf('ra:1'),
                roleAssignmentId: '1',
                roleId: SUPER_ADMIN_ROLE_ID,
                assignedTo: adminId,
                assigneeType: 'user',
                scopeType: 'CUSTOMER',
              },
            ];
          }
          return body;
        },
      };
    }
  }
  return null;
}
