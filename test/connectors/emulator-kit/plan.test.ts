import { describe, expect, it } from 'vitest';
import * as mutate from '../../../connectors/emulator-kit/mutate.js';
import { generateOrg, type Org } from '../../../connectors/emulator-kit/org.js';
import { planMutations, type Mutation } from '../../../connectors/emulator-kit/plan.js';

/** One operation through the shared mutation functions, which refuse what the org cannot take. */
function applyMutation(org: Org, m: Mutation): void {
  switch (m.op) {
    case 'addUser':
      return void mutate.addUser(org, { ...m.user });
    case 'updateUser':
      return void mutate.updateUser(org, m.id, m.patch);
    case 'removeUser':
      return mutate.removeUser(org, m.id);
    case 'addGroup':
      return void mutate.addGroup(org, { ...m.group });
    case 'updateGroup':
      return void mutate.updateGroup(org, m.id, m.patch);
    case 'removeGroup':
      return mutate.removeGroup(org, m.id);
    case 'setParent':
      return mutate.moveGroup(org, m.id, m.parentId);
    case 'addMember':
      return mutate.addMember(org, m.groupId, m.userId);
    case 'removeMember':
      return mutate.removeMember(org, m.groupId, m.userId);
  }
}

describe('planMutations', () => {
  const org = generateOrg({ users: 2000, groups: 200, membersPerGroup: 20, nestingDepth: 4, seed: 3 });

  it('is reproducible from its seed and leaves the org untouched', () => {
    const before = JSON.stringify(org.users);
    const a = planMutations(org, { seed: 7, users: 0.01, memberships: 0.01, groups: 5 });
    const b = planMutations(org, { seed: 7, users: 0.01, memberships: 0.01, groups: 5 });
    expect(a).toEqual(b);
    expect(JSON.stringify(org.users)).toBe(before);
    expect(planMutations(org, { seed: 8, users: 0.01 })).not.toEqual(
      planMutations(org, { seed: 7, users: 0.01 }),
    );
  });

  it('moves about the requested share of memberships as remove/add pairs', () => {
    const plan = planMutations(org, { seed: 1, memberships: 0.01 });
    let total = 0;
    for (const s of org.members.values()) total += s.size;
    const removes = plan.filter((m) => m.op === 'removeMember').length;
    const adds = plan.filter((m) => m.op === 'addMember').length;
    expect(removes).toBe(adds);
    expect(removes).toBeGreaterThan(total * 0.005);
    expect(removes).toBeLessThanOrEqual(Math.round(total * 0.01));
  });

  it('never moves a group below itself', () => {
    const plan = planMutations(org, { seed: 5, groups: 50 });
    for (const m of plan) if (m.op === 'setParent') expect(m.parentId).not.toBe(m.id);
    expect(plan.some((m) => m.op === 'setParent')).toBe(true);
  });
});

describe('planMutations, applied in order', () => {
  it('never asks for a move that an earlier move of the same plan turned into a cycle', () => {
    // Small trees and many group changes per plan: moves often land in a subtree an earlier move
    // of the same plan just changed. Every operation must apply (mutate.ts refuses a cycle).
    let moves = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const org = generateOrg({ users: 30, groups: 8, membersPerGroup: 4, nestingDepth: 3, seed });
      const plan = planMutations(org, { seed, users: 0.1, memberships: 0.1, groups: 12 });
      for (const m of plan) {
        const apply = () => applyMutation(org, m);
        expect(apply, `seed ${seed}: ${JSON.stringify(m)}`).not.toThrow();
        if (m.op === 'setParent') moves++;
      }
    }
    expect(moves).toBeGreaterThan(500);
  });
});
