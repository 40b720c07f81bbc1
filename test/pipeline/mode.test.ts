import { describe, expect, it } from 'vitest';
import { parseConnectorConfig } from '../../config/load.js';
import type { Connector } from '../../connectors/types.js';
import { FeedDelta } from '../../src/pipeline/feed-delta.js';
import { readFingerprint, reconcileDue } from '../../src/pipeline/mode.js';
import { applyItem, comparable, emptyRecordSet } from '../helpers/feed.js';
import { memoryConnector } from '../helpers/memory-idp.js';

const connector = memoryConnector as unknown as Connector;
const cfg = (extra: Record<string, unknown> = {}) =>
  parseConnectorConfig({ name: 'm', kind: 'memory', org: 'o', ...extra }, connector);

describe('read fingerprint', () => {
  it('changes with the IdP settings and pushed-down filters, not with transforms or credentials', () => {
    const base = readFingerprint(cfg());
    expect(readFingerprint(cfg({ org: 'other' }))).not.toBe(base);
    expect(readFingerprint(cfg({ filters: { groups: { include: [{ name: 'eng' }] } } }))).not.toBe(base);
    expect(readFingerprint(cfg({ filters: { users: { activeOnly: true } } }))).not.toBe(base);
    expect(readFingerprint(cfg({ transform: { displayName: '{{ displayName | upper }}' } }))).toBe(base);
    expect(readFingerprint(cfg({ localGroups: ['everyone'] }))).toBe(base);
  });
});

describe('reconcile schedule', () => {
  const at = (iso: string) => new Date(iso);
  it('is due after the interval, or once the cron fired since the last full read', () => {
    expect(reconcileDue({ every: 86_400_000 }, null, at('2026-01-02T00:00:00Z'))).toBe(true);
    expect(reconcileDue({ every: 86_400_000 }, at('2026-01-01T01:00:00Z'), at('2026-01-02T00:00:00Z'))).toBe(
      false,
    );
    expect(reconcileDue({ every: 86_400_000 }, at('2026-01-01T00:00:00Z'), at('2026-01-02T00:00:00Z'))).toBe(
      true,
    );
    const cron = { cron: '0 3 * * *', tz: 'UTC' };
    expect(reconcileDue(cron, at('2026-01-01T04:00:00Z'), at('2026-01-02T02:59:00Z'))).toBe(false);
    expect(reconcileDue(cron, at('2026-01-01T04:00:00Z'), at('2026-01-02T03:00:00Z'))).toBe(true);
  });
});

describe('feed delta', () => {
  it('folds items in order exactly like applying them one by one (feed invariant helper)', () => {
    const u = (id: string, name = id) => ({
      kind: 'user' as const,
      externalId: id,
      username: name,
      email: null,
      displayName: null,
      givenName: null,
      familyName: null,
      active: true,
      attributes: {},
    });
    const e = (g: string, m: string, t: 'user' | 'group' = 'user') => ({
      kind: 'edge' as const,
      groupId: g,
      memberType: t,
      memberId: m,
    });
    const initial = [u('a'), u('b'), u('c'), e('g', 'a'), e('g', 'b'), e('h', 'c'), e('h', 'g', 'group')];
    const feed = [
      e('g', 'c'),
      { kind: 'removed' as const, objectType: 'user' as const, externalId: 'c' },
      u('c', 'c-again'),
      e('h', 'c'),
      { kind: 'members-reset' as const, groupId: 'g' },
      e('g', 'b'),
      { kind: 'edge-removed' as const, groupId: 'h', memberType: 'group' as const, memberId: 'g' },
      e('h', 'g', 'group'),
      { kind: 'edge-removed' as const, groupId: 'h', memberType: 'group' as const, memberId: 'g' },
    ];
    const expected = emptyRecordSet();
    for (const x of [...initial, ...feed]) applyItem(expected, x);

    // The same through FeedDelta's patch, applied the way the store does (set-based).
    const d = new FeedDelta();
    for (const x of feed) d.apply(x);
    const p = d.patch();
    const got = emptyRecordSet();
    for (const x of initial) applyItem(got, x);
    for (const o of p.objects) {
      const map = o.objectType === 'user' ? got.users : got.groups;
      map.delete(o.externalId);
      if (o.item) applyItem(got, o.item);
    }
    const key = (g: string, t: string, m: string) => `${g}>${t === 'user' ? 'u' : 'g'}:${m}`;
    for (const k of [...got.edges]) {
      const [g, rest] = k.split('>') as [string, string];
      const [t, m] = [rest[0] === 'u' ? 'user' : 'group', rest.slice(2)];
      const purged = p.purge.some(
        (x) =>
          (x.isGroup && (x.id === g || (t === 'group' && x.id === m))) ||
          (!x.isGroup && t === 'user' && x.id === m),
      );
      const removed = p.edgeRemovals.some((r) => key(r.groupId, r.memberType, r.memberId) === k);
      if (p.resets.includes(g) || purged || removed) got.edges.delete(k);
    }
    for (const a of p.edgeAdditions) got.edges.add(key(a.groupId, a.memberType, a.memberId));
    expect(comparable(got)).toEqual(comparable(expected));
    expect(comparable(got).edges).toEqual(['g>u:b', 'h>u:c']);
  });
});
