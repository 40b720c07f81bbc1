/**
 * Entra ID: the directory incremental runs keep (delta queries through the real Graph SDK) equals
 * the one full runs produce, in Postgres, after randomized rounds of changes made over HTTPS
 * through the emulator's admin API (test/connectors/incremental-db.ts).
 */
import { commonAdminRoutes, describeIncrementalEqualsFull, liveNesting } from '../incremental-db.js';
import { connector, entryFor } from './directory.js';
import { emulator } from './helpers.js';

describeIncrementalEqualsFull({
  idp: 'graph',
  changes: 'creates, renames, disables, deletions, re-creations, moves and nesting changes',
  seed: 4101,
  connector,
  start: () => emulator({ users: 60, groups: 12, membersPerGroup: 8, nestingDepth: 3, seed: 23 }),
  caFile: (emu) => emu.caFile,
  entry: (emu) => entryFor(emu, 'graph-equiv'),
  admin: (call, emu) => ({
    ...commonAdminRoutes(call, 'POST'),
    moveGroup: (id, parentId) => call('POST', `groups/${id}/move`, { parentId }),
    // Entra ID lets a group sit in several groups, cycles included.
    nest: (parentId, groupId) => call('POST', `groups/${parentId}/members`, { groupId }),
    unnest: (parentId, childId) => call('DELETE', `groups/${parentId}/members/${childId}`),
    extraNesting: () => liveNesting(emu.org, emu.store.extraNesting),
  }),
  kinds: ['setParent', 'moveGroup', 'nest', 'unnest'],
});
