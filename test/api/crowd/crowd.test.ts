/**
 * The Crowd REST API against real Postgres and the real pipeline (file connector), driven by an
 * independent Crowd client from npm (atlassian-crowd-client, JSON) and by raw XML requests shaped
 * as the Atlassian applications' RestCrowdClient sends them.
 */
import CrowdClient from 'atlassian-crowd-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StartedServer } from '../../../src/api/server.js';
import { useTestDatabase } from '../../helpers/db.js';
import { fileSource, sync, type Snap } from '../../helpers/snapshot.js';
import { applyEvents, basic, crowdServer, fullSync, parse, PASSWORD, sorted, xml } from './helpers.js';

const db = useTestDatabase('dirsync_crowd');

const hr: Snap = {
  users: [
    {
      id: 'h1',
      username: 'alice',
      email: 'alice@hr.test',
      displayName: 'Alice A',
      givenName: 'Alice',
      familyName: 'A',
      active: true,
      attributes: { dept: 'eng' },
    },
    { id: 'h2', username: 'bob', email: 'bob@hr.test', displayName: 'Bob B', active: true },
    { id: 'h3', username: 'carol', email: 'carol@hr.test', displayName: 'Carol C', active: false },
    { id: 'h4', username: 'dave', email: 'dave@elsewhere.test', displayName: 'Dave D', active: true },
  ],
  groups: [
    { id: 'g1', name: 'eng', description: 'Engineering', members: ['h1', 'h2'], groups: ['g2'] },
    { id: 'g2', name: 'sre', members: ['h3'], groups: ['g3'] },
    { id: 'g3', name: 'oncall', members: ['h4'] },
  ],
};
const it2: Snap = {
  users: [
    { id: 'i1', username: 'alice', email: 'alice@it.test', displayName: 'Alice (IT)', active: true },
    { id: 'i2', username: 'erin', email: 'erin@it.test', displayName: 'Erin E', active: true },
  ],
  groups: [
    { id: 'x1', name: 'eng', members: ['i1', 'i2'] },
    { id: 'x2', name: 'helpdesk', members: ['i2'] },
  ],
};

let server: StartedServer;
let url: string;
const hrSrc = fileSource({ guard: { minRemovals: 1000 } }, 'hr');
const itSrc = fileSource({ guard: { minRemovals: 1000 } }, 'it');

beforeAll(async () => {
  hrSrc.write(hr);
  itSrc.write(it2);
  expect((await sync(db().pool, hrSrc.config)).status).toBe('succeeded');
  expect((await sync(db().pool, itSrc.config)).status).toBe('succeeded');
  server = await crowdServer(
    db().pool,
    [hrSrc.config, itSrc.config],
    [
      { name: 'jira', directories: ['hr', 'it'] },
      { name: 'far', directories: ['hr'], allowedAddresses: ['10.0.0.0/8'] },
      { name: 'wiki', directories: ['it'], allowedAddresses: ['127.0.0.0/8', '::1'] },
    ],
  );
  url = server.url;
});
afterAll(async () => {
  await server?.close();
});

function client(password = PASSWORD, name = 'jira') {
  return new CrowdClient({
    baseUrl: `${url}/`,
    application: { name, password },
    attributesParser: (v: string) => v,
  });
}

describe('with an npm Crowd client (JSON)', () => {
  it('looks up users with directory precedence, deactivated users and attributes', async () => {
    const c = client();
    const alice = await c.user.get('alice', true);
    expect(alice.email).toBe('alice@hr.test'); // hr is listed first
    expect(alice.displayname).toBe('Alice A');
    expect(alice.firstname).toBe('Alice');
    expect(alice.attributes.dept).toBe('eng');
    expect((await c.user.get('carol')).active).toBe(false);
    expect((await c.user.get('ERIN')).email).toBe('erin@it.test');
    await expect(c.user.get('nobody')).rejects.toMatchObject({ type: 'USER_NOT_FOUND' });
    await expect(c.group.get('nothing')).rejects.toMatchObject({ type: 'GROUP_NOT_FOUND' });
  });

  it('answers direct and nested memberships and nesting', async () => {
    const c = client();
    expect(await c.user.groups.list('dave')).toEqual(['oncall']);
    expect(await c.user.groups.list('dave', true)).toEqual(['eng', 'oncall', 'sre']);
    expect(await c.group.users.list('eng')).toEqual(['alice', 'bob']); // hr's eng wins over it's
    expect(await c.group.users.list('eng', true)).toEqual(['alice', 'bob', 'carol', 'dave']);
    expect(await c.group.children.list('eng', true)).toEqual(['oncall', 'sre']);
    expect(await c.group.parents.list('oncall', true)).toEqual(['eng', 'sre']);
    expect(await c.group.parents.list('oncall')).toEqual(['sre']);
    expect((await c.group.get('eng')).description).toBe('Engineering');
    // erin is in it's eng, which hr's eng shadows: only helpdesk is seen.
    expect(await c.user.groups.list('erin')).toEqual(['helpdesk']);
  });

  it('serves an application of one directory only that directory', async () => {
    const c = client(PASSWORD, 'wiki');
    expect((await c.user.get('alice')).email).toBe('alice@it.test');
    await expect(c.user.get('bob')).rejects.toMatchObject({ type: 'USER_NOT_FOUND' });
    expect(await c.user.groups.list('erin')).toEqual(['eng', 'helpdesk']);
    expect(await c.group.users.list('eng', true)).toEqual(['alice', 'erin']);
    expect(await c.search.user('name="*"')).toEqual(['alice', 'erin']);
  });

  it('searches with CQL restrictions and pages', async () => {
    const c = client();
    expect(await c.search.user('active=true')).toEqual(['alice', 'bob', 'dave', 'erin']);
    expect(await c.search.user('email="*@hr.test" and active=true')).toEqual(['alice', 'bob']);
    expect(
      await c.search
        .user('name="b*" or (email = "*it.test" and name != "x")')
        .catch((e: { type: string }) => e.type),
    ).toBe('ILLEGAL_ARGUMENT');
    expect(await c.search.user('name="b*" or (displayName = "*d*" and active = true)')).toEqual([
      'bob',
      'dave',
    ]);
    expect(await c.search.user('createdDate > 2000-01-01 and createdDate < 2999-01-01')).toHaveLength(5);
    expect(await c.search.group('name="*e*"')).toEqual(['eng', 'helpdesk', 'sre']);
    expect(await c.search.user('active=true', false, 1, 2)).toEqual(['bob', 'dave']);
  });

  it('refuses wrong credentials, passwords and writes with Crowd errors', async () => {
    await expect(client('wrong').user.get('alice')).rejects.toMatchObject({
      type: 'APPLICATION_ACCESS_DENIED',
    });
    await expect(client(PASSWORD, 'confluence').user.get('alice')).rejects.toMatchObject({
      type: 'APPLICATION_ACCESS_DENIED',
    });
    await expect(client(PASSWORD, 'far').user.get('alice')).rejects.toMatchObject({
      type: 'APPLICATION_PERMISSION_DENIED',
    });
    await expect(client().authentication.authenticate('alice', 'pw')).rejects.toMatchObject({
      type: 'INVALID_USER_AUTHENTICATION',
    });
    await expect(client().user.remove('alice')).rejects.toMatchObject({
      type: 'APPLICATION_PERMISSION_DENIED',
    });
    expect(await client().config.cookie()).toMatchObject({ name: 'crowd.token_key' });
  });
});

describe('as the Atlassian applications ask (XML)', () => {
  it('returns Crowd entity shapes', async () => {
    const r = await xml(url, '/user?username=alice&expand=attributes');
    expect(r.status).toBe(200);
    expect(r.type).toContain('application/xml');
    const u = r.doc.user[0];
    expect(u['@name']).toBe('alice');
    expect(u.link['@href']).toBe(`${url}/rest/usermanagement/1/user?username=alice`);
    expect(u.active).toBe('true');
    expect(u.key).toBe('hr:h1');
    expect(u['created-date']).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(
      u.attributes.attribute.find((a: { '@name': string }) => a['@name'] === 'dept').values.value,
    ).toEqual(['eng']);
    const g = (await xml(url, '/group?groupname=sre')).doc.group[0];
    expect(g).toMatchObject({ '@name': 'sre', type: 'GROUP', active: 'true' });
    const latest = await fetch(`${url}/rest/usermanagement/latest/group?groupname=sre`, {
      headers: { authorization: basic('jira'), accept: 'application/json' },
    });
    expect(await latest.json()).toMatchObject({ name: 'sre', type: 'GROUP', active: true });
  });

  it('searches with POSTed restriction bodies and checks memberships', async () => {
    const body = `<?xml version="1.0" encoding="UTF-8"?>
      <boolean-search-restriction boolean-logic="or"><restrictions>
        <property-search-restriction><property><name>email</name><type>STRING</type></property>
          <match-mode>CONTAINS</match-mode><value>@IT.</value></property-search-restriction>
        <boolean-search-restriction boolean-logic="and"><restrictions>
          <property-search-restriction><property><name>active</name><type>BOOLEAN</type></property>
            <match-mode>EXACTLY_MATCHES</match-mode><value>false</value></property-search-restriction>
          <property-search-restriction><property><name>name</name><type>STRING</type></property>
            <match-mode>STARTS_WITH</match-mode><value>c</value></property-search-restriction>
        </restrictions></boolean-search-restriction>
      </restrictions></boolean-search-restriction>`;
    const r = await xml(url, '/search?entity-type=user', { method: 'POST', body });
    expect(r.status).toBe(200);
    expect(r.doc.users.user.map((u: { '@name': string }) => u['@name'])).toEqual(['carol', 'erin']);
    const nul = await xml(url, '/search?entity-type=group&max-results=-1', {
      method: 'POST',
      body: '<null-search-restriction/>',
    });
    expect(nul.doc.groups.group.map((g: { '@name': string }) => g['@name'])).toEqual([
      'eng',
      'helpdesk',
      'oncall',
      'sre',
    ]);
    expect((await xml(url, '/user/group/nested?username=dave&groupname=eng')).status).toBe(200);
    const miss = await xml(url, '/user/group/direct?username=dave&groupname=eng');
    expect(miss.status).toBe(404);
    expect(miss.doc.error.reason).toBe('MEMBERSHIP_NOT_FOUND');
  });

  it('answers bad input with Crowd error bodies', async () => {
    const cases: [
      string,
      { method?: string; body?: string; password?: string; app?: string },
      number,
      string,
    ][] = [
      ['/user?username=alice', { password: 'nope' }, 401, 'APPLICATION_ACCESS_DENIED'],
      ['/search?entity-type=user&restriction=name%3D', {}, 400, 'ILLEGAL_ARGUMENT'],
      ['/search?entity-type=user&restriction=shoe%3D1', {}, 400, 'ILLEGAL_ARGUMENT'],
      ['/search?entity-type=user&restriction=(name%3Dx', {}, 400, 'ILLEGAL_ARGUMENT'],
      ['/search?entity-type=user&restriction=createdDate%3Eyesterday', {}, 400, 'ILLEGAL_ARGUMENT'],
      ['/search?entity-type=user&max-results=1000000', {}, 400, 'ILLEGAL_ARGUMENT'],
      ['/search?entity-type=user&start-index=-3', {}, 400, 'ILLEGAL_ARGUMENT'],
      ['/search?entity-type=thing', {}, 400, 'ILLEGAL_ARGUMENT'],
      [
        '/search?entity-type=user',
        { method: 'POST', body: '<property-search-restriction><property><name>email' },
        400,
        'ILLEGAL_ARGUMENT',
      ],
      [
        '/search?entity-type=user',
        {
          method: 'POST',
          body: '<property-search-restriction><property><name>email</name></property><match-mode>SOUNDS_LIKE</match-mode><value>x</value></property-search-restriction>',
        },
        400,
        'ILLEGAL_ARGUMENT',
      ],
      [
        '/search?entity-type=user',
        { method: 'POST', body: '<!DOCTYPE x [<!ENTITY a "b">]><null-search-restriction/>' },
        400,
        'ILLEGAL_ARGUMENT',
      ],
      ['/group/user/direct?groupname=ghosts', {}, 404, 'GROUP_NOT_FOUND'],
      ['/user/group/nested?username=ghost', {}, 404, 'USER_NOT_FOUND'],
      ['/event/0123456789ab:1-1', {}, 400, 'EVENT_TOKEN_EXPIRED'],
      ['/event/garbage', {}, 400, 'EVENT_TOKEN_EXPIRED'],
      [
        '/authentication?username=alice',
        { method: 'POST', body: '<password><value>x</value></password>' },
        400,
        'INVALID_USER_AUTHENTICATION',
      ],
      [
        '/group/user/direct?groupname=eng',
        { method: 'POST', body: '<user name="x"/>' },
        403,
        'APPLICATION_PERMISSION_DENIED',
      ],
    ];
    for (const [path, o, status, reason] of cases) {
      const r = await xml(url, path, o);
      expect({ path, status: r.status, reason: r.doc?.error?.reason }).toEqual({ path, status, reason });
      expect(r.doc.error.message).not.toContain(PASSWORD);
    }
  });

  it('streams the membership document (and JSON on request)', async () => {
    const r = await xml(url, '/group/membership');
    const m = Object.fromEntries(
      r.doc.memberships.membership.map(
        (x: {
          '@group': string;
          users?: { user: { '@name': string }[] };
          groups?: { group: { '@name': string }[] };
        }) => [
          x['@group'],
          [(x.users?.user ?? []).map((u) => u['@name']), (x.groups?.group ?? []).map((g) => g['@name'])],
        ],
      ),
    );
    expect(m).toEqual({
      eng: [['alice', 'bob'], ['sre']],
      helpdesk: [['erin'], []],
      oncall: [['dave'], []],
      sre: [['carol'], ['oncall']],
    });
    const j = await xml(url, '/group/membership', { accept: 'application/json' });
    expect(j.doc.memberships).toHaveLength(4);
    expect(j.doc.memberships[0]).toEqual({
      group: 'eng',
      users: [{ name: 'alice' }, { name: 'bob' }],
      groups: [{ name: 'sre' }],
    });
  });
});

describe('incremental synchronisation over the run change log', () => {
  it('keeps an application cache equal to the directory across sync runs', async () => {
    const first = await xml(url, '/event');
    expect(first.doc.events['@incrementalSynchronisationAvailable']).toBe('true');
    let token: string = first.doc.events['@newEventToken'];
    const view = await fullSync(url);
    expect(sorted(view)).toEqual(sorted(await fullSync(url, 100)));

    const nothing = await xml(url, `/event/${token}`);
    expect(nothing.doc.events.userEvent).toBeUndefined();
    expect(nothing.doc.events['@newEventToken']).toBe(token);

    const steps: ((s: Snap) => void)[] = [
      // create a user and put them in a group; deactivate bob
      (s) => {
        s.users.push({
          id: 'h5',
          username: 'frank',
          email: 'frank@hr.test',
          displayName: 'Frank F',
          active: true,
        });
        s.groups![2]!.members = ['h4', 'h5'];
        s.users[1]!.active = false;
      },
      // rename alice, move dave from oncall to eng, rename a group
      (s) => {
        s.users[0]!.username = 'alice.a';
        s.groups![0]!.members = ['h1', 'h2', 'h4'];
        s.groups![2]!.members = ['h5'];
        s.groups![1]!.name = 'site-reliability';
      },
      // delete a user, un-nest oncall and nest it under eng
      (s) => {
        s.users.splice(1, 1);
        s.groups![0]!.members = ['h1', 'h4'];
        s.groups![0]!.groups = ['g2', 'g3'];
        s.groups![1]!.groups = [];
      },
    ];
    const snap: Snap = structuredClone(hr);
    for (const step of steps) {
      step(snap);
      hrSrc.write(snap);
      const run = await sync(db().pool, {
        ...hrSrc.config,
        deletion: { ...hrSrc.config.deletion, deleteAfter: 0 },
      });
      expect(run.status).toBe('succeeded');
      const ev = await xml(url, `/event/${token}`);
      expect(ev.status, ev.text).toBe(200);
      applyEvents(view, ev.doc);
      token = ev.doc.events['@newEventToken'];
      expect(sorted(view)).toEqual(sorted(await fullSync(url, 3)));
    }
    // Once the log no longer holds the first token's run (pruned history), that token expires.
    const firstToken: string = first.doc.events['@newEventToken'];
    const hrRun = firstToken.split(':')[1]!.split('-')[0]!;
    expect((await xml(url, `/event/${firstToken}`)).status).toBe(200);
    await db().pool.query('DELETE FROM dirsync.runs WHERE id = $1', [hrRun]);
    const stale = await xml(url, `/event/${firstToken}`);
    expect([stale.status, stale.doc.error.reason]).toEqual([400, 'EVENT_TOKEN_EXPIRED']);
    expect((await xml(url, `/event/${token}`)).status).toBe(200);

    expect(view.users.has('alice.a')).toBe(true);
    expect(view.users.has('alice')).toBe(true); // it's alice shows once hr's is renamed
    expect(view.users.get('alice')!.email).toBe('alice@it.test');
  });
});

// Keep `parse` imported for ad-hoc debugging of bodies in failures.
void parse;

describe('dashboard and OpenAPI', () => {
  it('lists the applications with their directories and last access, never a password', async () => {
    const res = await fetch(`${url}/api/crowd/applications`);
    const text = await res.text();
    expect(text).not.toContain(PASSWORD);
    const apps = JSON.parse(text) as { name: string; directories: string[]; lastAccessAt: string | null }[];
    expect(apps.map((a) => [a.name, a.directories])).toEqual([
      ['jira', ['hr', 'it']],
      ['far', ['hr']],
      ['wiki', ['it']],
    ]);
    expect(apps[0]!.lastAccessAt).not.toBeNull();
    expect(apps[1]!.lastAccessAt).toBeNull(); // only refused (address not allowed): never used
  });

  it('documents the Crowd resources', async () => {
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    for (const p of [
      'user',
      'user/group/nested',
      'group',
      'group/user/direct',
      'group/child-group/nested',
      'group/parent-group/direct',
      'group/membership',
      'search',
      'event',
      'event/{token}',
      'config/cookie',
      'authentication',
    ]) {
      expect(Object.keys(doc.paths), p).toContain(`/rest/usermanagement/1/${p}`);
    }
  });
});
