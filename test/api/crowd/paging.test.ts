/**
 * Paged searches (`start-index`, `max-results`) as an application's full synchronisation reads
 * them: page after page, resumed after the previous page's last row while the directories are
 * unchanged (src/api/crowd/pages.ts), answered by OFFSET otherwise. Both must give the same pages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StartedServer } from '../../../src/api/server.js';
import { useTestDatabase } from '../../helpers/db.js';
import { fileSource, sync, users, type Snap } from '../../helpers/snapshot.js';
import { crowdServer, xml } from './helpers.js';

const db = useTestDatabase('dirsync_crowd_paging');

let server: StartedServer;
let url: string;
const hr = fileSource({ guard: { minRemovals: 1000 } }, 'hr');
const it2 = fileSource({ guard: { minRemovals: 1000 } }, 'it');

// Names that sort differently by case and by code point, a name in both directories, and groups
// whose names differ only in case (one directory: the lower id resolves).
const hrSnap: Snap = {
  users: [
    ...users(23),
    { id: 'x1', username: 'Zoë', email: 'z@hr.test', displayName: 'Z', active: true },
    { id: 'x2', username: 'adam', email: 'a@hr.test', displayName: 'A', active: true },
    { id: 'x3', username: 'ADAMS', email: 'as@hr.test', displayName: 'AS', active: false },
  ],
  groups: [
    ...Array.from({ length: 9 }, (_, i) => ({ id: `g${i}`, name: `team-${i}`, members: ['u1'] })),
    { id: 'c1', name: 'Eng', members: ['u2'] },
    { id: 'c2', name: 'eng', members: ['u3'] },
    { id: 'c3', name: 'Ω-club', members: [] },
  ],
};
const itSnap: Snap = {
  users: [
    { id: 'i1', username: 'user5', email: 'u5@it.test', displayName: 'IT five', active: true },
    { id: 'i2', username: 'it-only', email: 'io@it.test', displayName: 'IO', active: true },
  ],
  groups: [
    { id: 'ig1', name: 'team-3', members: ['i1'] },
    { id: 'ig2', name: 'helpdesk', members: ['i2'] },
  ],
};

const names = (doc: unknown, entity: 'user' | 'group'): string[] => {
  const list = (doc as Record<string, Record<string, { '@name': string }[] | undefined>>)[`${entity}s`];
  return (list?.[entity] ?? []).map((e) => e['@name']);
};

async function page(entity: 'user' | 'group', start: number, max: number): Promise<string[]> {
  const r = await xml(url, `/search?entity-type=${entity}&start-index=${start}&max-results=${max}`);
  expect(r.status, r.text).toBe(200);
  return names(r.doc, entity);
}

async function all(entity: 'user' | 'group'): Promise<string[]> {
  return page(entity, 0, -1);
}

beforeAll(async () => {
  hr.write(hrSnap);
  it2.write(itSnap);
  expect((await sync(db().pool, hr.config)).status).toBe('succeeded');
  expect((await sync(db().pool, it2.config)).status).toBe('succeeded');
  server = await crowdServer(
    db().pool,
    [hr.config, it2.config],
    [
      { name: 'jira', directories: ['hr', 'it'] },
      { name: 'wiki', directories: ['hr'] },
    ],
  );
  url = server.url;
});
afterAll(async () => {
  await server?.close();
});

describe('paged searches', () => {
  it('read page after page give every entity once, in order, whatever the page size', async () => {
    for (const entity of ['user', 'group'] as const) {
      const everything = await all(entity);
      expect(everything.length).toBeGreaterThan(10);
      for (const size of [1, 4, 7]) {
        const read: string[] = [];
        for (let start = 0; ; start += size) {
          const p = await page(entity, start, size);
          read.push(...p);
          if (p.length < size) break;
        }
        expect(read, `${entity} pages of ${size}`).toEqual(everything);
      }
      // A page asked for out of sequence (no previous page to resume after) is the same slice.
      expect(await page(entity, 5, 4)).toEqual(everything.slice(5, 9));
    }
    expect(await all('group')).toContain('Eng');
    expect(await all('group')).not.toContain('eng');
  });

  it('resume after the previous page while nothing was applied, and start over after a run', async () => {
    for (const entity of ['user', 'group'] as const) {
      const before = await all(entity);
      expect(await page(entity, 0, 5)).toEqual(before.slice(0, 5));
      // The first row leaves the table without an apply (so without a new directory version):
      // page 2 is still "after the fifth row" (resumed), where OFFSET 5 would skip a row.
      const table = entity === 'user' ? 'users' : 'groups';
      const column = entity === 'user' ? 'username' : 'name';
      const { rowCount } = await db().pool.query(
        `DELETE FROM dirsync.${table} WHERE connector = 'hr' AND ${column} = $1`,
        [before[0]],
      );
      expect(rowCount).toBe(1);
      expect(await page(entity, 5, 5)).toEqual(before.slice(5, 10));
    }

    // A run that applies (and bumps the version) between two pages: the next page is OFFSET's
    // answer over the new directory, not a resume after a key read from the old one.
    expect(await page('user', 0, 5)).toHaveLength(5);
    // (Without adam too, whom the run would otherwise bring back, shifting the rows back.)
    hr.write({ ...hrSnap, users: hrSnap.users.filter((u) => u.id !== 'x2' && u.id !== 'x3') });
    expect(
      (
        await sync(db().pool, hr.config, {
          config: { ...hr.config, deletion: { ...hr.config.deletion, deleteAfter: 0 } },
        })
      ).status,
    ).toBe('succeeded');
    const now = await all('user');
    expect(now).not.toContain('ADAMS');
    expect(await page('user', 5, 5)).toEqual(now.slice(5, 10));
  });

  it('keep the marks of each application and entity apart', async () => {
    const jiraGroups = await all('group');
    const wikiUsers = names(
      (await xml(url, '/search?entity-type=user&max-results=-1', { app: 'wiki' })).doc,
      'user',
    );
    expect(await page('group', 0, 3)).toEqual(jiraGroups.slice(0, 3));
    const wiki = await xml(url, '/search?entity-type=user&start-index=3&max-results=3', { app: 'wiki' });
    expect(names(wiki.doc, 'user')).toEqual(wikiUsers.slice(3, 6));
    expect(await page('user', 3, 3)).toEqual((await all('user')).slice(3, 6));
    expect(await page('group', 3, 3)).toEqual(jiraGroups.slice(3, 6));
  });
});
