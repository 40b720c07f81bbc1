import { afterEach, describe, expect, it } from 'vitest';
import type { GraphEmulator } from '../../../connectors/graph/emulator/index.js';
import { addUsers, configFor, emulator, readAll, sorted } from './helpers.js';

describe('graph connector: paging edges', () => {
  let emu: GraphEmulator | undefined;
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  async function readsTruth(users: number, groups: number, pageSize: number) {
    emu = await emulator({ users, groups, membersPerGroup: 5, nestingDepth: 1 });
    const got = await readAll(configFor(emu, { pageSize, batchSize: 3 }));
    const truth = emu.truth();
    expect(sorted(got.users.keys())).toEqual(sorted(truth.users.keys()));
    expect(sorted(got.groups.keys())).toEqual(sorted(truth.groups.keys()));
    expect(sorted(got.edges)).toEqual(sorted(truth.edges));
    return got;
  }

  it('reads an empty tenant as an empty snapshot', async () => {
    const got = await readsTruth(0, 0, 10);
    expect(got.items).toEqual([]);
    // One (empty) page of users and one of groups; no member lists.
    expect(got.stats.pages).toBe(2);
  });

  it('reads exact multiples of the page size without an extra empty page', async () => {
    emu = await emulator({ users: 0, groups: 0, membersPerGroup: 0, nestingDepth: 0 });
    addUsers(emu, 30);
    const got = await readAll(configFor(emu, { pageSize: 10 }));
    expect(sorted(got.users.keys())).toEqual(sorted(emu.truth().users.keys()));
    expect(got.users.size).toBe(30);
    // Three pages of users and one (empty) page of groups.
    expect(got.stats.pages).toBe(3 + 1);
  });

  it('reads page size + 1 as two pages', async () => {
    emu = await emulator({ users: 0, groups: 0, membersPerGroup: 0, nestingDepth: 0 });
    addUsers(emu, 11);
    const got = await readAll(configFor(emu, { pageSize: 10 }));
    expect(sorted(got.users.keys())).toEqual(sorted(emu.truth().users.keys()));
    expect(got.users.size).toBe(11);
    expect(got.stats.pages).toBe(2 + 1);
  });

  it('follows member nextLinks inside $batch for groups larger than a page, at any batch size', async () => {
    const got = await readsTruth(300, 12, 7);
    expect(got.edges.size).toBeGreaterThan(100);
  });

  it('reads the same snapshot with batches of 1 and of 20', async () => {
    emu = await emulator({ users: 80, groups: 30, membersPerGroup: 9, nestingDepth: 3 });
    const a = await readAll(configFor(emu, { batchSize: 1, concurrency: 1, pageSize: 5 }));
    const b = await readAll(configFor(emu, { batchSize: 20, concurrency: 8 }));
    expect(sorted(a.edges)).toEqual(sorted(b.edges));
    expect(sorted(b.edges)).toEqual(sorted(emu.truth().edges));
  });
});
