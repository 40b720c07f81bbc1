/**
 * Keycloak: the directory incremental runs keep (admin events through the real admin client)
 * equals the one full runs produce, in Postgres, after randomized rounds of changes made over HTTP
 * through the emulator's admin API (test/connectors/incremental-db.ts). Keycloak groups form a
 * tree (a group has one parent), so nesting changes are moves in it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectorConfig } from '../../../config/load.js';
import { startEmulator, type KeycloakEmulator } from '../../../connectors/keycloak/emulator/index.js';
import { keycloakConnector } from '../../../connectors/keycloak/index.js';
import type { Connector } from '../../../connectors/types.js';
import {
  COMMON_KINDS,
  equivalenceSeed,
  expectMeaningfulRounds,
  incrementalEqualsFullOverRounds,
  type EmulatorAdmin,
  type RoundsOptions,
} from '../incremental-db.js';

const connector = keycloakConnector as unknown as Connector;

describe('keycloak: incremental runs equal full runs in the database', () => {
  let emu: KeycloakEmulator;

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
    emu = await startEmulator({ users: 60, groups: 12, membersPerGroup: 8, nestingDepth: 3, seed: 43 });
    for (const [k, v] of Object.entries(emu.env)) process.env[k] = v;
  });

  afterAll(async () => {
    await emu?.close();
  });

  it('after 20 rounds of creates, renames, disables, deletions, re-creations, moves and subgroup moves', async () => {
    const admin: EmulatorAdmin = {
      mutate: (plan) => call('POST', 'mutate', plan),
      addUser: (user) => call('POST', 'users', user),
      updateUser: (id, patch) => call('PATCH', `users/${id}`, patch),
      removeUser: (id) => call('DELETE', `users/${id}`),
      addMember: (groupId, userId) => call('PUT', `groups/${groupId}/members/${userId}`),
      removeMember: (groupId, userId) => call('DELETE', `groups/${groupId}/members/${userId}`),
      addGroup: (group) => call('POST', 'groups', group),
      removeGroup: (id) => call('DELETE', `groups/${id}`),
      moveGroup: (id, parentId) => call('PUT', `groups/${id}/parent`, { parentId }),
    };
    const o: RoundsOptions = {
      seed: equivalenceSeed(4104),
      rounds: 20,
      connector,
      config: (extra) =>
        parseConnectorConfig(
          {
            ...emu.connector,
            name: 'keycloak-equiv',
            pageSize: 20,
            retry: { maxAttempts: 8, baseDelay: '2ms', maxDelay: '20ms' },
            ...extra,
          },
          connector,
        ),
      org: () => emu.org,
      admin,
    };
    const r = await incrementalEqualsFullOverRounds(o);
    expectMeaningfulRounds(r, o, [...COMMON_KINDS, 'setParent', 'moveGroup']);
  }, 300_000);
});
