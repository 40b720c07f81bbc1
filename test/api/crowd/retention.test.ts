/**
 * The change log's retention as the Crowd API and the history see it: after runs are pruned, an
 * event token that needs a pruned run gets Crowd's "incremental synchronisation is not available"
 * (EVENT_TOKEN_EXPIRED), a token from after the prune keeps working, and run pages and object
 * history say the detail was pruned instead of listing nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StartedServer } from '../../../src/api/server.js';
import { historyText } from '../../../src/cli/format.js';
import { objectHistory } from '../../../src/store/history.js';
import { pruneChangeLog } from '../../../src/store/retention.js';
import { useTestDatabase } from '../../helpers/db.js';
import { fileSource, sync, users, type Snap } from '../../helpers/snapshot.js';
import { crowdServer, xml } from './helpers.js';

const db = useTestDatabase('dirsync_crowd_retention');
const HOUR = 3_600_000;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let server: StartedServer;
let url: string;
const hr = fileSource({ guard: { minRemovals: 1000 } }, 'hr');

const initial: Snap = {
  users: users(3),
  groups: [{ id: 'g-eng', name: 'eng', members: ['u0', 'u1'] }],
};

async function syncRun(snap: Snap): Promise<{ id: string; finishedAt: Date }> {
  hr.write(snap);
  const run = await sync(db().pool, hr.config);
  expect(run.status).toBe('succeeded');
  const { rows } = await db().pool.query<{ finished_at: Date }>(
    'SELECT finished_at FROM dirsync.runs WHERE id = $1',
    [run.runId],
  );
  return { id: String(run.runId), finishedAt: rows[0]!.finished_at };
}

/** Prunes as if the present were just after `run` finished plus an hour's retention. */
const pruneThrough = (run: { finishedAt: Date }) =>
  pruneChangeLog(db().pool, HOUR, { now: new Date(run.finishedAt.getTime() + HOUR + 1) });

const token = async () => (await xml(url, '/event')).doc.events['@newEventToken'] as string;
const userEvents = (doc: Json) =>
  (doc.events.userEvent ?? []).map((e: Json) => `${e.operation} ${e.user[0]['@name']}`).sort();
const api = async (path: string) => (await (await fetch(`${url}${path}`)).json()) as Json;

beforeAll(async () => {
  server = await crowdServer(db().pool, [hr.config], [{ name: 'jira', directories: ['hr'] }]);
  url = server.url;
});
afterAll(async () => {
  await server?.close();
});

describe('event tokens across a prune of the change log', () => {
  it('answer while the runs after them are kept, expire once one is pruned; fresh tokens work', async () => {
    const run1 = await syncRun(initial);
    const t0 = await token();
    const withUser3 = { ...initial, users: users(4) };
    const run2 = await syncRun(withUser3);
    const t1 = await token();
    expect(t1).not.toBe(t0);
    expect(userEvents((await xml(url, `/event/${t0}`)).doc)).toEqual(['UPDATED user3']);

    // Run 1 (the token's own run) pruned: the events since t0 are run 2's, still in the log.
    expect(await pruneThrough(run1)).toMatchObject({ runs: 1, more: false });
    const counts = await db().pool.query<{ run_id: string; n: number }>(
      'SELECT run_id, count(*)::int AS n FROM dirsync.run_changes GROUP BY run_id',
    );
    expect(counts.rows.map((r) => r.run_id)).toEqual([run2.id]);
    const still = await xml(url, `/event/${t0}`);
    expect(still.status, still.text).toBe(200);
    expect(userEvents(still.doc)).toEqual(['UPDATED user3']);

    // Run 2 pruned too: t0's events are gone, in both formats; t1 is the current position.
    expect(await pruneThrough(run2)).toMatchObject({ runs: 1 });
    expect(await pruneThrough(run2)).toMatchObject({ runs: 0, changes: 0 });
    const stale = await xml(url, `/event/${t0}`);
    expect([stale.status, stale.doc.error.reason]).toEqual([400, 'EVENT_TOKEN_EXPIRED']);
    expect(stale.doc.error.message).toContain('Incremental synchronisation is not available');
    expect(stale.doc.error.message).toContain('changeLog.retention');
    const staleJson = await xml(url, `/event/${t0}`, { accept: 'application/json' });
    expect([staleJson.status, staleJson.doc.reason]).toEqual([400, 'EVENT_TOKEN_EXPIRED']);
    const fresh = await xml(url, `/event/${t1}`);
    expect(fresh.status, fresh.text).toBe(200);
    expect(fresh.doc.events['@newEventToken']).toBe(t1);
    expect(fresh.doc.events.userEvent).toBeUndefined();

    // A run after the prune: the fresh token gets its events, the stale one stays expired.
    const run3 = await syncRun({
      ...withUser3,
      users: withUser3.users.map((u) => (u.id === 'u0' ? { ...u, email: 'new0@acme.test' } : u)),
    });
    const next = await xml(url, `/event/${t1}`);
    expect(next.status, next.text).toBe(200);
    expect(userEvents(next.doc)).toEqual(['UPDATED user0']);
    expect(next.doc.events['@newEventToken']).not.toBe(t1);
    expect((await xml(url, `/event/${t0}`)).status).toBe(400);

    // The run pages: a pruned run says so instead of listing no changes; a kept one lists them.
    const pruned = await api(`/api/runs/${run1.id}/changes`);
    expect(pruned.items).toEqual([]);
    expect(pruned.total).toBe(0);
    expect(Date.parse(pruned.prunedAt)).not.toBeNaN();
    expect((await api(`/api/runs/${run1.id}`)).changesPrunedAt).toBe(pruned.prunedAt);
    const kept = await api(`/api/runs/${run3.id}/changes`);
    expect(kept.prunedAt).toBeNull();
    expect(kept.items.map((c: Json) => `${c.object} ${c.operation} ${c.externalId}`)).toEqual([
      'user update u0',
    ]);
    expect((await api(`/api/runs/${run3.id}`)).changesPrunedAt).toBeNull();

    // Object history: what is left, and from when on it is complete.
    const u0 = await api('/api/connectors/hr/users/u0/history');
    expect(u0.prunedBefore).toBe(run2.finishedAt.toISOString());
    expect(u0.entries.map((e: Json) => [e.runId, e.operation])).toEqual([[Number(run3.id), 'update']]);
    const u1 = await objectHistory(db().pool, 'hr', 'u1', { deleteAfterMs: -1 });
    expect(u1?.entries).toEqual([]);
    expect(u1?.prunedBefore).toBe(run2.finishedAt.toISOString());
    expect(historyText(u1!)).toContain('are no longer kept (changeLog.retention)');
    expect(historyText(u1!)).toContain('no recorded changes since');
  });
});
