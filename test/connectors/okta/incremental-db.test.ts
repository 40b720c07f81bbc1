/**
 * Okta: the directory incremental runs keep (System Log and `lastUpdated` searches through the
 * official SDK) equals the one full runs produce, in Postgres, after randomized rounds of changes
 * made over HTTP through the emulator's admin API (test/connectors/incremental-db.ts). Okta has no
 * nested groups, so the rounds' tree moves change nothing either side may show.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { oktaConnector } from '../../../connectors/okta/index.js';
import type { Connector } from '../../../connectors/types.js';
import { commonAdminRoutes, describeIncrementalEqualsFull } from '../incremental-db.js';
import { emulator } from './helpers.js';

/** The System Log's ingestion delay the emulator models: events are readable this long after the change. */
const LOG_DELAY_MS = 250;
/** Per-minute limits out of the way: dozens of runs read the org; pacing has its own tests. */
const LIFTED = { users: 1e6, user: 1e6, groups: 1e6, group: 1e6, logs: 1e6, token: 1e6 };

describeIncrementalEqualsFull({
  idp: 'okta',
  changes: 'creates, renames, suspensions, deprovisionings, deletions, re-creations and moves',
  seed: 4102,
  connector: oktaConnector as unknown as Connector,
  start: () => emulator({ users: 60, groups: 12, membersPerGroup: 8, seed: 29, rateLimits: LIFTED }),
  prepare: (call) => call('PUT', 'log-delay', { ms: LOG_DELAY_MS }),
  entry: (emu) => ({
    ...emu.connector,
    name: 'okta-equiv',
    pageSize: { users: 25, groups: 5, members: 10 },
    retry: { maxRetries: 4, baseDelayMs: 5, maxDelayMs: 3000 },
  }),
  admin: (call) => ({
    ...commonAdminRoutes(call, 'PUT'),
    // A run scheduled after the changes finds their events ingested (the feed's overlap re-reads
    // the window before its cursor; it cannot see events Okta has not ingested yet).
    settle: () => sleep(LOG_DELAY_MS + 50),
  }),
  kinds: ['setParent'],
});
