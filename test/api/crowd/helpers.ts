/**
 * A Dirsync server with the Crowd API over directories filled by the file connector, and an
 * "application" that keeps a cache the way an Atlassian application's Crowd directory does: a full
 * synchronisation (search + group/membership, in XML) and then event polls applied in order.
 */
import { XMLParser } from 'fast-xml-parser';
import type pg from 'pg';
import type { ConnectorConfig, DirsyncConfig } from '../../../config/schema.js';
import { startServer, type StartedServer } from '../../../src/api/server.js';

export const PASSWORD = 'jira-app-password-1234';

export async function crowdServer(
  pool: pg.Pool,
  connectors: ConnectorConfig[],
  apps: { name: string; directories: string[]; allowedAddresses?: string[] }[],
): Promise<StartedServer> {
  const config: DirsyncConfig = {
    log: { level: 'silent' },
    queue: { prefix: 'unused', concurrency: 1 },
    server: { host: '127.0.0.1', port: 0 },
    crowd: {
      applications: apps.map((a) => ({ ...a, password: { env: 'CROWD_TEST_PASSWORD' } })),
    },
    connectors,
  };
  return startServer({
    config,
    pool,
    auth: { token: null },
    port: 0,
    env: { CROWD_TEST_PASSWORD: PASSWORD },
  });
}

export function basic(name: string, password = PASSWORD): string {
  return `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;
}

/** A request as RestCrowdClient sends it: XML, Basic auth. */
export async function xml(
  url: string,
  path: string,
  o: { app?: string; password?: string; method?: string; body?: string; accept?: string } = {},
) {
  const res = await fetch(`${url}/rest/usermanagement/1${path}`, {
    method: o.method ?? 'GET',
    headers: {
      authorization: basic(o.app ?? 'jira', o.password),
      accept: o.accept ?? 'application/xml',
      ...(o.body !== undefined ? { 'content-type': 'application/xml' } : {}),
    },
    ...(o.body !== undefined ? { body: o.body } : {}),
  });
  const text = await res.text();
  return { status: res.status, text, type: res.headers.get('content-type') ?? '', doc: parse(text) };
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  isArray: (name) =>
    [
      'user',
      'group',
      'membership',
      'attribute',
      'value',
      'userEvent',
      'groupEvent',
      'userMembershipEvent',
      'groupMembershipEvent',
    ].includes(name),
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function parse(text: string): any {
  return text.startsWith('<') ? parser.parse(text) : text ? JSON.parse(text) : null;
}

/** The application's cached view: users (name → email/active), groups, direct memberships. */
export interface View {
  users: Map<string, { email: string; active: boolean; displayName: string }>;
  groups: Set<string>;
  /** `group>user` */
  userMemberships: Set<string>;
  /** `parent>child` */
  groupMemberships: Set<string>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const arr = (v: any): any[] => (v === undefined || v === '' ? [] : Array.isArray(v) ? v : [v]);

/** A full synchronisation: paged searches and the membership document. */
export async function fullSync(url: string, pageSize = 2): Promise<View> {
  const view: View = {
    users: new Map(),
    groups: new Set(),
    userMemberships: new Set(),
    groupMemberships: new Set(),
  };
  for (let start = 0; ; start += pageSize) {
    const r = await xml(
      url,
      `/search?entity-type=user&expand=user&start-index=${start}&max-results=${pageSize}`,
    );
    const users = arr(r.doc.users.user);
    for (const u of users) {
      view.users.set(u['@name'], {
        email: u.email ?? '',
        active: u.active === 'true',
        displayName: u['display-name'],
      });
    }
    if (users.length < pageSize) break;
  }
  for (let start = 0; ; start += pageSize) {
    const r = await xml(url, `/search?entity-type=group&start-index=${start}&max-results=${pageSize}`);
    const groups = arr(r.doc.groups.group);
    for (const g of groups) view.groups.add(g['@name']);
    if (groups.length < pageSize) break;
  }
  const m = await xml(url, '/group/membership');
  for (const g of arr(m.doc.memberships.membership)) {
    for (const u of arr(g.users?.user)) view.userMemberships.add(`${g['@group']}>${u['@name']}`);
    for (const c of arr(g.groups?.group)) view.groupMemberships.add(`${g['@group']}>${c['@name']}`);
  }
  return view;
}

/** Applies one event document to a view, as Crowd's cache refresher does. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function applyEvents(view: View, doc: any): void {
  const events = doc.events;
  for (const e of arr(events.groupEvent)) {
    const name = e.group[0]['@name'];
    if (e.operation === 'DELETED') {
      view.groups.delete(name);
      for (const k of [...view.userMemberships]) if (k.startsWith(`${name}>`)) view.userMemberships.delete(k);
      for (const k of [...view.groupMemberships]) {
        if (k.startsWith(`${name}>`) || k.endsWith(`>${name}`)) view.groupMemberships.delete(k);
      }
    } else view.groups.add(name);
  }
  for (const e of arr(events.userEvent)) {
    const u = e.user[0];
    if (e.operation === 'DELETED') {
      view.users.delete(u['@name']);
      for (const k of [...view.userMemberships])
        if (k.endsWith(`>${u['@name']}`)) view.userMemberships.delete(k);
    } else {
      view.users.set(u['@name'], {
        email: u.email ?? '',
        active: u.active === 'true',
        displayName: u['display-name'],
      });
    }
  }
  for (const e of arr(events.userMembershipEvent)) {
    const user = e.childUser['@name'];
    const groups = arr(e.parentGroups?.group).map((g) => g['@name']);
    if (e['@absolute'] === 'true') {
      for (const k of [...view.userMemberships]) if (k.endsWith(`>${user}`)) view.userMemberships.delete(k);
    }
    for (const g of groups) {
      if (e.operation === 'DELETED') view.userMemberships.delete(`${g}>${user}`);
      else view.userMemberships.add(`${g}>${user}`);
    }
  }
  for (const e of arr(events.groupMembershipEvent)) {
    const child = e.group[0]['@name'];
    for (const p of arr(e.parentGroups?.group).map((g) => g['@name'])) {
      if (e.operation === 'DELETED') view.groupMemberships.delete(`${p}>${child}`);
      else view.groupMemberships.add(`${p}>${child}`);
    }
  }
}

export function sorted(view: View) {
  return {
    users: [...view.users.entries()].map(([k, v]) => `${k}|${v.email}|${v.active}|${v.displayName}`).sort(),
    groups: [...view.groups].sort(),
    userMemberships: [...view.userMemberships].sort(),
    groupMemberships: [...view.groupMemberships].sort(),
  };
}
