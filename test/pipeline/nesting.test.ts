import { describe, expect, it } from 'vitest';
import { MAX_NESTING_DEPTH, nestingToHold } from '../../src/pipeline/nesting.js';
import { useTestDatabase } from '../helpers/db.js';
import { directory, fileSource, problems, sync, users } from '../helpers/snapshot.js';

const chain = (depth: number) =>
  Array.from({ length: depth }, (_, i) => ({ parent: `g${i}`, child: `g${i + 1}` }));

describe('nestingToHold', () => {
  it('cuts a 10,000-deep chain every 65 levels, and nothing else', () => {
    const held = nestingToHold(chain(10_000));
    expect(held.every((h) => h.why === 'depth')).toBe(true);
    // Levels 0..64 are kept; the edge below level 64 is held, and the next segment starts over.
    expect(held[0]).toEqual({ parent: 'g64', child: 'g65', why: 'depth' });
    expect(held[1]).toEqual({ parent: 'g129', child: 'g130', why: 'depth' });
    expect(held).toHaveLength(Math.floor(10_000 / (MAX_NESTING_DEPTH + 1)));
  });

  it('holds every edge of a cycle and keeps what hangs below it', () => {
    const held = nestingToHold([
      { parent: 'a', child: 'b' },
      { parent: 'b', child: 'c' },
      { parent: 'c', child: 'a' },
      { parent: 'c', child: 'd' },
      { parent: 'e', child: 'e' },
    ]);
    expect(held.map((h) => `${h.parent}>${h.child} ${h.why}`).sort()).toEqual([
      'a>b cycle',
      'b>c cycle',
      'c>a cycle',
      'e>e cycle',
    ]);
  });

  it('a group reached by a short and a long path is at the depth of the long one', () => {
    const edges = [...chain(MAX_NESTING_DEPTH), { parent: 'top', child: `g${MAX_NESTING_DEPTH}` }];
    edges.push({ parent: `g${MAX_NESTING_DEPTH}`, child: 'leaf' }); // level 65 through the chain
    expect(nestingToHold(edges)).toEqual([{ parent: `g${MAX_NESTING_DEPTH}`, child: 'leaf', why: 'depth' }]);
  });
});

describe('nesting deeper than the limit in a sync', () => {
  const db = useTestDatabase();

  it('the include filter, the closure and effective membership agree, and the cut is reported', async () => {
    const depth = 200;
    const groups = Array.from({ length: depth + 1 }, (_, i) => ({
      id: `g${i}`,
      name: `g${i}`,
      groups: i < depth ? [`g${i + 1}`] : [],
      members: i === depth ? ['u0'] : i === 10 ? ['u1'] : [],
    }));
    const src = fileSource({ filters: { groups: { include: [{ name: 'g0' }] } } }, 'deep');
    src.write({ users: users(2), groups });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('succeeded');
    const state = await directory(db().pool, 'deep');
    // Only the first 65 levels are reachable from g0 within the limit: u0, 200 levels down, is not
    // synced as a member of an included group; u1 at level 10 is.
    expect(state.users).toEqual(['u1:user1:true']);
    expect(state.groups).toHaveLength(MAX_NESTING_DEPTH + 1);
    const { rows } = await db().pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM dirsync.effective_group_members e JOIN dirsync.groups g ON g.id = e.group_id
        WHERE e.connector = 'deep' AND g.external_id = 'g0'`,
    );
    expect(rows[0]?.n).toBe(1); // u1, through 10 levels
    const p = await problems(db().pool, s.runId);
    // The cut is reported, which is why u0 is left out.
    expect(p.map((x) => `${x.external_id} ${x.action} ${x.reason}`)).toEqual([
      'g64 held group g65 in group g64 would nest groups deeper than 64 levels; the edge is held',
    ]);
  });

  it('without an include list the chain is cut into segments, with a held edge reported per cut', async () => {
    const depth = 150;
    const groups = Array.from({ length: depth + 1 }, (_, i) => ({
      id: `g${i}`,
      name: `g${i}`,
      groups: i < depth ? [`g${i + 1}`] : [],
      members: i === depth ? ['u0'] : [],
    }));
    const src = fileSource({}, 'cut');
    src.write({ users: users(1), groups });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('succeeded');
    const p = await problems(db().pool, s.runId);
    expect(p.map((x) => `${x.external_id} ${x.action} ${x.reason}`)).toEqual([
      'g129 held group g130 in group g129 would nest groups deeper than 64 levels; the edge is held',
      'g64 held group g65 in group g64 would nest groups deeper than 64 levels; the edge is held',
    ]);
    const state = await directory(db().pool, 'cut');
    expect(state.nesting).toHaveLength(depth - 2);
    // Effective membership of u0 reaches exactly the groups of its own segment (g130..g150).
    const { rows } = await db().pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM dirsync.effective_group_members WHERE connector = 'cut'`,
    );
    expect(rows[0]?.n).toBe(depth - 130 + 1);
  });
});
