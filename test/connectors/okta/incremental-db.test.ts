/**
 * Okta: the directory incremental runs keep (System Log and `lastUpdated` searches through the
 * official SDK) equals the one full runs produce, in Postgres, after randomized rounds of changes
 * made over HTTP through the emulator's admin API (test/connectors/incremental-db.ts). Okta has no
 * nested groups, so the rounds' tree moves change nothing either side may show.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectorConfig } from '../../../config/load.js';
import type { OktaEmulator } from '../../../connectors/okta/emulator/index.js';
import { oktaConnector } from '../../../connectors/okta/index.js';
import type { Connector } from '../../../connectors/types.js';
import {
  COMMON_KINDS,
  equivalenceSeed,
  expectMeaningfulRounds,
  incrementalEqualsFullOverRounds,
  type EmulatorAdmin,
  type RoundsOptions,
} from '../incremental-db.js';
import { emulator } from './helpers.js';

const connector = oktaConnector as unknown as Connector;
/** The System Log's ingestion delay the emulator models: events are readable this long after the change. */
const LOG_DELAY_MS = 250;

describe('okta: incremental runs equal full runs in the database', () => {
  let emu: OktaEmulator;

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
    // Per-minute limits out of the way: dozens of runs read the org; pacing has its own tests.
    const lifted = { users: 1e6, user: 1e6, groups: 1e6, group: 1e6, logs: 1e6, token: 1e6 };
    emu = await emulator({ users: 60, groups: 12, membersPerGroup: 8, seed: 29, rateLimits: lifted });
    await call('PUT', 'log-delay', { ms: LOG_DELAY_MS });
  });

  afterAll(async () => {
    await emu?.close();
  });

  it('after 20 rounds of creates, renames, suspensions, deprovisionings, deletions, re-creations and moves', async () => {
    const admin: EmulatorAdmin = {
      mutate: (plan) => call('POST', 'mutate', plan),
      addUser: (user) => call('POST', 'users', user),
      updateUser: (id, patch) => call('PATCH', `users/${id}`, patch),
      removeUser: (id) => call('DELETE', `users/${id}`),
      addMember: (groupId, userId) => call('PUT', `groups/${groupId}/members/${userId}`),
      removeMember: (groupId, userId) => call('DELETE', `groups/${groupId}/members/${userId}`),
      addGroup: (group) => call('POST', 'groups', group),
      removeGroup: (id) => call('DELETE', `groups/${id}`),
      // A run scheduled after the changes finds their events ingested (the feed's overlap re-reads
      // the window before its cursor; it cannot see events Okta has not ingested yet).
      settle: () => sleep(LOG_DELAY_MS + 50),
    };
    const o: RoundsOptions = {
      seed: equivalenceSeed(4102),
      rounds: 20,
      connector,
      config: (extra) =>
        parseConnectorConfig(
          {
            ...emu.connector,
            name: 'okta-equiv',
            pageSize: { users: 25, groups: 5, members: 10 },
            retry: { maxRetries: 4, baseDelayMs: 5, maxDelayMs: 3000 },
            ...extra,
          },
          connector,
        ),
      org: () => emu.org,
      admin,
    };
    const r = await incrementalEqualsFullOverRounds(o);
    expectMeaningfulRounds(r, o, [...COMMON_KINDS, 'setParent']);
  }, 300_000);
});
