/** The emulator's control API under `/__emulator/`, driven over HTTP as another process would. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type KeycloakEmulator } from '../../../connectors/keycloak/emulator/index.js';
import { expectRefusedOpsSkipped, postMutate } from '../emulator-mutate.js';
import { configFor, readAll, snapshotSets, truthSets } from './helpers.js';

describe('keycloak emulator control API', () => {
  let emu: KeycloakEmulator;
  beforeAll(async () => {
    emu = await startEmulator({ users: 30, groups: 6, membersPerGroup: 5, nestingDepth: 2, seed: 5 });
  });
  afterAll(async () => {
    await emu?.close();
  });

  it('mutate skips and reports the operations Keycloak refuses, applies the rest, and records only what it applied', async () => {
    await expectRefusedOpsSkipped({
      org: () => emu.org,
      mutate: postMutate(emu.url),
      createdUsers: () =>
        emu.adminEvents.query({ resourceTypes: ['USER'], operationTypes: ['CREATE'], max: -1 }).length,
    });
    const { items } = await readAll(configFor(emu));
    const { problems: _p, ...read } = snapshotSets(items);
    expect(read).toEqual(truthSets(emu.org));
  });
});
