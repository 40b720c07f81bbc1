/**
 * Keycloak: the directory incremental runs keep (admin events through the real admin client)
 * equals the one full runs produce, in Postgres, after randomized rounds of changes made over HTTP
 * through the emulator's admin API (test/connectors/incremental-db.ts). Keycloak groups form a
 * tree (a group has one parent), so nesting changes are moves in it.
 */
import { startEmulator } from '../../../connectors/keycloak/emulator/index.js';
import { keycloakConnector } from '../../../connectors/keycloak/index.js';
import type { Connector } from '../../../connectors/types.js';
import { commonAdminRoutes, describeIncrementalEqualsFull } from '../incremental-db.js';

describeIncrementalEqualsFull({
  idp: 'keycloak',
  changes: 'creates, renames, disables, deletions, re-creations, moves and subgroup moves',
  seed: 4104,
  connector: keycloakConnector as unknown as Connector,
  start: async () => {
    const emu = await startEmulator({ users: 60, groups: 12, membersPerGroup: 8, nestingDepth: 3, seed: 43 });
    for (const [k, v] of Object.entries(emu.env)) process.env[k] = v;
    return emu;
  },
  entry: (emu) => ({
    ...emu.connector,
    name: 'keycloak-equiv',
    pageSize: 20,
    retry: { maxAttempts: 8, baseDelay: '2ms', maxDelay: '20ms' },
  }),
  admin: (call) => ({
    ...commonAdminRoutes(call, 'PUT'),
    moveGroup: (id, parentId) => call('PUT', `groups/${id}/parent`, { parentId }),
  }),
  kinds: ['setParent', 'moveGroup'],
});
