import { describe, expect, it } from 'vitest';
import { generateOrg } from '../../../connectors/emulator-kit/org.js';
import { planMutations } from '../../../connectors/emulator-kit/plan.js';

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
