/**
 * Google Workspace: the directory incremental runs keep (the Reports API admin audit log and
 * targeted re-reads, through the googleapis SDK) equals the one full runs produce, in Postgres,
 * after randomized rounds of changes made over HTTP through the emulator's admin API
 * (test/connectors/incremental-db.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectorConfig } from '../../../config/load.js';
import type { GoogleEmulator } from '../../../connectors/google/emulator/index.js';
import { googleConnector } from '../../../connectors/google/index.js';
import type { Connector } from '../../../connectors/types.js';
import {
  COMMON_KINDS,
  equivalenceSeed,
  expectMeaningfulRounds,
  incrementalEqualsFullOverRounds,
  type EmulatorAdmin,
  type RoundsOptions,
} from '../incremental-db.js';
import { startGoogle } from './helpers.js';

const connector = googleConnector as unknown as Connector;
/** The Reports API's ingestion lag the emulator models: an admin event is served this long after it happened. */
const REPORTS_LAG_MS = 250;

describe('google: incremental runs equal full runs in the database', () => {
  let emu: GoogleEmulator;

  async function call(method: 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown) {
    const res = await fetch(`${emu.url}/__emulator/${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    expect(res.status, `${method} ${path}: ${text}`).toBeLessThan(300);
  }

  beforeAll(async () => {
    emu = await startGoogle({ users: 60, groups: 12, membersPerGroup: 8, nestingDepth: 3, seed: 37 });
    await call('PUT', 'reports/lag', { ms: REPORTS_LAG_MS });
  });

  afterAll(async () => {
    await emu?.close();
  });

  it('after 20 rounds of creates, renames, suspensions, deletions, re-creations, moves and nesting changes', async () => {
    const admin: EmulatorAdmin = {
      mutate: (plan) => call('POST', 'mutate', plan),
      addUser: (user) => call('POST', 'users', user),
      updateUser: (id, patch) => call('PATCH', `users/${id}`, patch),
      removeUser: (id) => call('DELETE', `users/${id}`),
      addMember: (groupId, userId) => call('POST', `groups/${groupId}/members`, { userId }),
      removeMember: (groupId, userId) => call('DELETE', `groups/${groupId}/members/${userId}`),
      addGroup: (group) => call('POST', 'groups', group),
      removeGroup: (id) => call('DELETE', `groups/${id}`),
      moveGroup: (id, parentId) => call('PUT', `groups/${id}/parent`, { parentId }),
      // Google has no tree: a group may be a member of several groups, cycles included.
      nest: (parentId, groupId) => call('POST', `groups/${parentId}/subgroups`, { groupId }),
      unnest: (parentId, childId) => call('DELETE', `groups/${parentId}/subgroups/${childId}`),
      extraNesting: () => {
        const live = new Set(emu.org.groups.map((g) => g.id));
        return [...emu.directory.extraSubgroups].flatMap(([p, kids]) =>
          live.has(p) ? [...kids].filter((c) => live.has(c)).map((c): [string, string] => [p, c]) : [],
        );
      },
      // A run scheduled after the changes finds their events served (the feed's overlap re-reads
      // the window before its cursor; it cannot see events Google has not made visible yet).
      settle: () => sleep(REPORTS_LAG_MS + 50),
    };
    const o: RoundsOptions = {
      seed: equivalenceSeed(4103),
      rounds: 20,
      connector,
      config: (extra) =>
        parseConnectorConfig(
          {
            ...emu.connector,
            name: 'google-equiv',
            requestsPerMinute: 0,
            maxBackoff: '50ms',
            pageSize: { users: 25, groups: 5, members: 10 },
            ...extra,
          },
          connector,
        ),
      org: () => emu.org,
      admin,
    };
    const r = await incrementalEqualsFullOverRounds(o);
    expectMeaningfulRounds(r, o, [...COMMON_KINDS, 'setParent', 'moveGroup', 'nest', 'unnest']);
  }, 300_000);
});
