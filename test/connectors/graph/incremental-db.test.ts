/**
 * Entra ID: the directory incremental runs keep (delta queries through the real Graph SDK) equals
 * the one full runs produce, in Postgres, after randomized rounds of changes made over HTTPS
 * through the emulator's admin API (test/connectors/incremental-db.ts).
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphEmulator } from '../../../connectors/graph/emulator/index.js';
import {
  COMMON_KINDS,
  equivalenceSeed,
  expectMeaningfulRounds,
  incrementalEqualsFullOverRounds,
  type EmulatorAdmin,
  type RoundsOptions,
} from '../incremental-db.js';
import { configFor, connector } from './directory.js';
import { emulator } from './helpers.js';

describe('graph: incremental runs equal full runs in the database', () => {
  let emu: GraphEmulator;
  let dispatcher: Agent;

  async function call(method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<void> {
    const res = await request(`${emu.url}/__emulator/${path}`, {
      dispatcher,
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.body.text();
    expect(res.statusCode, `${method} ${path}: ${text}`).toBeLessThan(300);
  }

  beforeAll(async () => {
    emu = await emulator({ users: 60, groups: 12, membersPerGroup: 8, nestingDepth: 3, seed: 23 });
    dispatcher = new Agent({ connect: { ca: readFileSync(emu.caFile, 'utf8') } });
  });

  afterAll(async () => {
    await dispatcher?.close();
    await emu?.close();
  });

  it('after 20 rounds of creates, renames, disables, deletions, re-creations, moves and nesting changes', async () => {
    const admin: EmulatorAdmin = {
      mutate: (plan) => call('POST', 'mutate', plan),
      addUser: (user) => call('POST', 'users', user),
      updateUser: (id, patch) => call('PATCH', `users/${id}`, patch),
      removeUser: (id) => call('DELETE', `users/${id}`),
      addMember: (groupId, userId) => call('POST', `groups/${groupId}/members`, { userId }),
      removeMember: (groupId, userId) => call('DELETE', `groups/${groupId}/members/${userId}`),
      addGroup: (group) => call('POST', 'groups', group),
      removeGroup: (id) => call('DELETE', `groups/${id}`),
      moveGroup: (id, parentId) => call('POST', `groups/${id}/move`, { parentId }),
      // Entra ID lets a group sit in several groups, cycles included.
      nest: (parentId, groupId) => call('POST', `groups/${parentId}/members`, { groupId }),
      unnest: (parentId, childId) => call('DELETE', `groups/${parentId}/members/${childId}`),
      extraNesting: () => {
        const live = new Set(emu.org.groups.map((g) => g.id));
        return [...emu.store.extraNesting].flatMap(([p, kids]) =>
          live.has(p) ? [...kids].filter((c) => live.has(c)).map((c): [string, string] => [p, c]) : [],
        );
      },
    };
    const o: RoundsOptions = {
      seed: equivalenceSeed(4101),
      rounds: 20,
      connector,
      config: (extra) => configFor(emu, 'graph-equiv', extra),
      org: () => emu.org,
      admin,
    };
    const r = await incrementalEqualsFullOverRounds(o);
    expectMeaningfulRounds(r, o, [...COMMON_KINDS, 'setParent', 'moveGroup', 'nest', 'unnest']);
  }, 300_000);
});
