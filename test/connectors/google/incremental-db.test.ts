/**
 * Google Workspace: the directory incremental runs keep (the Reports API admin audit log and
 * targeted re-reads, through the googleapis SDK) equals the one full runs produce, in Postgres,
 * after randomized rounds of changes made over HTTP through the emulator's admin API
 * (test/connectors/incremental-db.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { googleConnector } from '../../../connectors/google/index.js';
import type { Connector } from '../../../connectors/types.js';
import { commonAdminRoutes, describeIncrementalEqualsFull, liveNesting } from '../incremental-db.js';
import { startGoogle } from './helpers.js';

/** The Reports API's ingestion lag the emulator models: an admin event is served this long after it happened. */
const REPORTS_LAG_MS = 250;

describeIncrementalEqualsFull({
  idp: 'google',
  changes: 'creates, renames, suspensions, deletions, re-creations, moves and nesting changes',
  seed: 4103,
  connector: googleConnector as unknown as Connector,
  start: () => startGoogle({ users: 60, groups: 12, membersPerGroup: 8, nestingDepth: 3, seed: 37 }),
  prepare: (call) => call('PUT', 'reports/lag', { ms: REPORTS_LAG_MS }),
  entry: (emu) => ({
    ...emu.connector,
    name: 'google-equiv',
    requestsPerMinute: 0,
    maxBackoff: '50ms',
    pageSize: { users: 25, groups: 5, members: 10 },
  }),
  admin: (call, emu) => ({
    ...commonAdminRoutes(call, 'POST'),
    moveGroup: (id, parentId) => call('PUT', `groups/${id}/parent`, { parentId }),
    // Google has no tree: a group may be a member of several groups, cycles included.
    nest: (parentId, groupId) => call('POST', `groups/${parentId}/subgroups`, { groupId }),
    unnest: (parentId, childId) => call('DELETE', `groups/${parentId}/subgroups/${childId}`),
    extraNesting: () => liveNesting(emu.org, emu.directory.extraSubgroups),
    // A run scheduled after the changes finds their events served (the feed's overlap re-reads
    // the window before its cursor; it cannot see events Google has not made visible yet).
    settle: () => sleep(REPORTS_LAG_MS + 50),
  }),
  kinds: ['setParent', 'moveGroup', 'nest', 'unnest'],
});
