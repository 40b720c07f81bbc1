/**
 * Helpers of the graph end-to-end tests: read the directory back from Postgres and compute what
 * it must hold from the emulator's truth.
 */
import { expect } from 'vitest';
import { parseConnectorConfig } from '../../../config/load.js';
import type { ConnectorConfig } from '../../../config/schema.js';
import type { GraphEmulator } from '../../../connectors/graph/emulator/index.js';
import { graphConnector } from '../../../connectors/graph/index.js';
import type { Connector } from '../../../connectors/types.js';
import type { TestDatabase } from '../../helpers/db.js';
import { directoryState, type DirectoryState } from '../../helpers/truth.js';

export const connector = graphConnector as unknown as Connector;

export type { DirectoryState };

export function directory(db: TestDatabase, name: string): Promise<DirectoryState> {
  return directoryState(db.pool, name, (parent, kind, child) => `${parent}|${kind}|${child}`);
}

/** Group edges that close a nesting cycle: the pipeline holds them. */
export function cycleEdges(nesting: Set<string>): Set<string> {
  const children = new Map<string, string[]>();
  for (const e of nesting) {
    const [p, , c] = e.split('|') as [string, string, string];
    children.set(p, [...(children.get(p) ?? []), c]);
  }
  const reaches = (from: string, to: string) => {
    const seen = new Set<string>();
    const stack = [from];
    while (stack.length > 0) {
      const g = stack.pop() as string;
      if (g === to) return true;
      if (seen.has(g)) continue;
      seen.add(g);
      stack.push(...(children.get(g) ?? []));
    }
    return false;
  };
  return new Set(
    [...nesting].filter((e) => {
      const [p, , c] = e.split('|') as [string, string, string];
      return reaches(c, p);
    }),
  );
}

/**
 * The directory the pipeline must leave: the tenant's truth, except that nesting edges in a cycle
 * are held (an edge the directory already had is kept, a new one is not added).
 */
export function expected(emu: GraphEmulator, before?: DirectoryState): DirectoryState {
  const t = emu.truth();
  const edges = [...t.edges];
  const nesting = new Set(edges.filter((e) => e.includes('|group|')));
  for (const e of cycleEdges(nesting)) if (!before?.nesting.has(e)) nesting.delete(e);
  return {
    users: new Map([...t.users].map(([id, u]) => [id, { username: u.username, active: u.active }])),
    groups: new Map([...t.groups].map(([id, g]) => [id, g.name])),
    memberships: new Set(edges.filter((e) => e.includes('|user|'))),
    nesting,
  };
}

/** Compares part by part, so a failure names what differs. */
export function expectSame(got: DirectoryState, want: DirectoryState): void {
  const diff = (a: Iterable<string>, b: Set<string>) => [...a].filter((x) => !b.has(x)).sort();
  expect({
    missing: diff(want.memberships, got.memberships),
    extra: diff(got.memberships, want.memberships),
  }).toEqual({
    missing: [],
    extra: [],
  });
  expect({ missing: diff(want.nesting, got.nesting), extra: diff(got.nesting, want.nesting) }).toEqual({
    missing: [],
    extra: [],
  });
  expect([...got.users].sort()).toEqual([...want.users].sort());
  expect([...got.groups].sort()).toEqual([...want.groups].sort());
  expect(got).toEqual(want);
}

/** The emulator's connector entry under `name`, with the settings of these tests (not yet parsed). */
export function entryFor(emu: GraphEmulator, name: string): Record<string, unknown> {
  return {
    ...emu.connector,
    name,
    pageSize: 100,
    requestBudget: { requests: 100_000, perSeconds: 1 },
    maxRetries: 4,
    guard: { minRemovals: 1_000_000 },
    deletion: { deleteAfter: '0s' },
  };
}

export function configFor(
  emu: GraphEmulator,
  name: string,
  extra: Record<string, unknown> = {},
): ConnectorConfig {
  return parseConnectorConfig({ ...entryFor(emu, name), ...extra }, connector);
}
