import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyncMetrics } from '../../jobs/metrics.js';
import { describeConfig } from '../../src/api/context.js';
import { buildServer } from '../../src/api/server.js';
import { fileSource, sync, users } from '../helpers/snapshot.js';
import { harness, waitFor, type Harness } from './helpers.js';

/** Answers are checked field by field; their shape is the API's contract, not a TS type here. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const org = () => ({
  users: users(6),
  groups: [
    { id: 'g-eng', name: 'eng', description: 'Engineering', members: ['u0', 'u1'], groups: ['g-sre'] },
    { id: 'g-sre', name: 'sre', members: ['u2'] },
    { id: 'g-sales', name: 'sales', members: ['u3', 'u4', 'u5'] },
  ],
});

let h: Harness;
let hr: ReturnType<typeof fileSource>;
let held: ReturnType<typeof fileSource>;
let url: string;
let csrf: string;

beforeAll(async () => {
  hr = fileSource({ title: 'HR export', schedule: { every: '1h' } }, 'hr');
  hr.write(org());
  held = fileSource(
    { guard: { users: { maxCount: 1, maxPercent: 100 } }, schedule: { manual: true } },
    'held',
  );
  held.write(org());
  // A secret reference in a connector's config: the API must describe it, never resolve it.
  process.env.DIRSYNC_TEST_API_SECRET = 'hunter2-must-never-show';
  const withSecret = { ...hr.config, clientSecret: { env: 'DIRSYNC_TEST_API_SECRET' } };
  h = await harness([withSecret, held.config]);
  url = h.server.url;
  csrf = ((await (await fetch(`${url}/api/session`)).json()) as Json).csrfToken;
});
afterAll(async () => {
  await h?.close();
});

const get = async (path: string) => {
  const res = await fetch(`${url}${path}`);
  return { status: res.status, body: (await res.json()) as Json };
};
const post = async (path: string, body: unknown = {}, headers: Record<string, string> = {}) => {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, origin: url, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
};

describe('API', () => {
  it('lists connectors before any run, with the next run from the job scheduler', async () => {
    // As jobs/schedule.ts makes them: keyed by connector name. A daily cron, so no job is due now.
    await h.queue.upsertJobScheduler(
      'hr',
      { pattern: '0 3 * * *' },
      { name: 'sync', data: { connector: 'hr', trigger: 'schedule' } },
    );
    const { status, body } = await get('/api/connectors');
    expect(status).toBe(200);
    expect(body.items.map((c: { name: string; status: string }) => [c.name, c.status])).toEqual([
      ['hr', 'never_run'],
      ['held', 'never_run'],
    ]);
    const next = Date.parse(body.items[0].nextRunAt);
    expect(next).toBeGreaterThan(Date.now());
    expect(body.items[0]).toMatchObject({ title: 'HR export', kind: 'file', schedule: 'every 1h', users: 0 });
    expect(body.items[1].nextRunAt).toBeNull();
    await h.queue.removeJobScheduler('hr');
  });

  it('shows the setup problems a worker reported for a connector (issue 9, item 8)', async () => {
    const problem = { path: 'connectors[1].auth.token', reason: 'environment variable X is not set' };
    await h.db.pool.query(
      `INSERT INTO dirsync.connector_problems (connector, problems, reported_by) VALUES ('held', $1, 'w1')`,
      [JSON.stringify([problem])],
    );
    try {
      const { body } = await get('/api/connectors');
      const reported = { problems: [problem], reportedAt: expect.any(String) };
      expect(body.items.map((c: { configProblems: unknown }) => c.configProblems)).toEqual([null, reported]);
      expect((await get('/api/connectors/held')).body.configProblems).toEqual(reported);
    } finally {
      await h.db.pool.query(`DELETE FROM dirsync.connector_problems`);
    }
  });

  it('sync now enqueues a job; the worker runs it; the run shows up with counts and changes', async () => {
    const r = await post('/api/connectors/hr/sync', { fullResync: false });
    expect(r.status).toBe(202);
    expect(r.body.state).toBe('queued');
    // Pressed again before a worker picks it up: joined, not a second run.
    const again = await post('/api/connectors/hr/sync');
    expect(again.body).toEqual({ jobId: r.body.jobId, state: 'joined' });
    h.startWorker();
    const run = await waitFor(async () => {
      const runs = (await get('/api/runs?connector=hr&status=succeeded')).body;
      return runs.items[0];
    }, 'the sync-now run');
    expect(run).toMatchObject({
      connector: 'hr',
      trigger: 'manual',
      status: 'succeeded',
      jobId: r.body.jobId,
    });
    const one = (await get(`/api/runs/${run.id}`)).body;
    expect(one.counts.users.create).toBe(6);
    // How the run read the IdP, and why: the file connector has no change feed.
    expect(one).toMatchObject({ mode: 'full', modeReason: 'the connector has no change feed' });
    expect(Object.keys(one.phaseMs)).toEqual(expect.arrayContaining(['fetch', 'check', 'diff', 'apply']));
    expect(one.problems.total).toBe(0);
    const changes = (await get(`/api/runs/${run.id}/changes?object=user&operation=create&limit=4`)).body;
    expect(changes.total).toBe(6);
    expect(changes.items).toHaveLength(4);
    expect(changes.items[0]).toMatchObject({
      object: 'user',
      operation: 'create',
      externalId: 'u0',
      label: 'user0',
    });
    const page2 = (await get(`/api/runs/${run.id}/changes?object=user&operation=create&limit=4&offset=4`))
      .body;
    expect(page2.items.map((c: { externalId: string }) => c.externalId)).toEqual(['u4', 'u5']);
    expect(changes.summary).toEqual(
      expect.arrayContaining([expect.objectContaining({ object: 'membership', operation: 'add', count: 7 })]),
    );
    const list = (await get('/api/connectors')).body.items[0];
    expect(list).toMatchObject({ status: 'healthy', users: 6, activeUsers: 6, groups: 3 });
  });

  it('shows updates with before and after', async () => {
    const o = org();
    (o.users[1] as { displayName: string }).displayName = 'Renamed One';
    hr.write(o);
    // The previous test's worker may still hold hr's run lock for a moment after its run row says
    // succeeded (cleanup happens after the commit): retry until the connector is free.
    const s = await waitFor(() => sync(h.db.pool, h.config.connectors[0]!), 'hr to be free');
    const c = (await get(`/api/runs/${s.runId}/changes?operation=update`)).body;
    expect(c.items).toEqual([
      expect.objectContaining({
        object: 'user',
        externalId: 'u1',
        before: { displayName: 'User 1' },
        after: { displayName: 'Renamed One' },
      }),
    ]);
  });

  it('browses the directory: search, a user with direct and effective groups, a group with members and subgroups', async () => {
    const found = (await get('/api/connectors/hr/users?q=user2')).body;
    expect(found.items.map((u: { username: string }) => u.username)).toEqual(['user2']);
    const u2 = (await get('/api/connectors/hr/users/u2')).body;
    expect(u2.groups.direct.map((g: { name: string }) => g.name)).toEqual(['sre']);
    expect(u2.groups.effective.map((g: { name: string }) => g.name)).toEqual(['eng', 'sre']);
    const eng = (await get('/api/connectors/hr/groups/g-eng')).body;
    expect(eng.subgroups).toEqual([{ externalId: 'g-sre', name: 'sre' }]);
    expect(eng.members.items.map((u: { username: string }) => u.username)).toEqual(['user0', 'user1']);
    expect(eng.effectiveUsers).toBe(3);
    const effective = (await get('/api/connectors/hr/groups/g-eng?effective=true')).body;
    expect(effective.members.total).toBe(3);
    const sre = (await get('/api/connectors/hr/groups/g-sre')).body;
    expect(sre.parents).toEqual([{ externalId: 'g-eng', name: 'eng' }]);
    const groups = (await get('/api/connectors/hr/groups?q=s&limit=1')).body;
    expect(groups).toMatchObject({ total: 2, limit: 1 });
    // % and _ are literal in a search
    expect((await get('/api/connectors/hr/users?q=%25')).body.total).toBe(0);
  });

  it('approves and rejects held runs', async () => {
    await sync(h.db.pool, held.config);
    held.write({ users: users(2), groups: [] });
    const s1 = await sync(h.db.pool, held.config);
    expect(s1.status).toBe('needs_approval');
    const c = (await get('/api/connectors')).body.items[1];
    expect(c).toMatchObject({ status: 'needs_approval', heldRuns: [s1.runId] });
    const pending = (await get(`/api/runs/${s1.runId}/changes?object=user&operation=deactivate`)).body;
    expect(pending.items.map((x: { externalId: string }) => x.externalId)).toEqual(['u2', 'u3', 'u4', 'u5']);

    const rejected = await post(`/api/runs/${s1.runId}/reject`);
    expect(rejected).toEqual({ status: 200, body: { id: s1.runId, status: 'rejected' } });
    const twice = await post(`/api/runs/${s1.runId}/reject`);
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('DIRSYNC_E_RUN_NOT_HELD');

    const s2 = await sync(h.db.pool, held.config);
    const approved = await post(`/api/runs/${s2.runId}/approve`);
    expect(approved).toEqual({ status: 200, body: { id: s2.runId, status: 'approved' } });
    const after = (await get('/api/connectors/held/users?active=true')).body;
    expect(after.total).toBe(2);
    expect((await get('/api/runs/' + s2.runId)).body.resolvedBy).toBe('api:loopback');
  });

  it('answers bad parameters with clear 4xx errors', async () => {
    const cases: [string, number, string][] = [
      ['/api/runs?limit=0', 400, 'BAD_REQUEST'],
      ['/api/runs?status=bogus', 400, 'BAD_REQUEST'],
      ['/api/runs?connector=nope', 404, 'DIRSYNC_E_CONNECTOR_UNKNOWN'],
      ['/api/runs/abc', 400, 'BAD_REQUEST'],
      ['/api/runs/999999', 404, 'DIRSYNC_E_RUN_NOT_FOUND'],
      // Past bigint: a bad parameter, not a database error (issue 9, item 12).
      ['/api/runs/99999999999999999999999', 400, 'BAD_REQUEST'],
      ['/api/runs/1/changes?object=planet', 400, 'BAD_REQUEST'],
      ['/api/connectors/hr/users/nobody', 404, 'NOT_FOUND'],
      ['/api/connectors/Bad%20Name/users', 400, 'BAD_REQUEST'],
      ['/api/nothing-here', 404, 'NOT_FOUND'],
    ];
    for (const [path, status, code] of cases) {
      const r = await get(path);
      expect({ path, status: r.status, code: r.body.error?.code }).toEqual({ path, status, code });
      expect(typeof r.body.error.message).toBe('string');
    }
    const bad = await post('/api/connectors/hr/sync', { fullResync: 'yes please' });
    expect(bad.status).toBe(400);
  });

  it('refuses state changes without the CSRF token or from another origin', async () => {
    const noToken = await post('/api/connectors/hr/sync', {}, { 'x-csrf-token': '' });
    expect(noToken.status).toBe(403);
    const crossOrigin = await post('/api/connectors/hr/sync', {}, { origin: 'https://evil.example' });
    expect(crossOrigin.status).toBe(403);
    expect(crossOrigin.body.error.code).toBe('FORBIDDEN');
    // DNS rebinding: a foreign Host name is not served when no token protects the server.
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(url);
      request(
        { host: u.hostname, port: u.port, path: '/api/connectors', headers: { host: 'evil.example' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      )
        .on('error', reject)
        .end();
    });
    expect(status).toBe(421);
  });

  it('describes secret references wherever they are in a config', () => {
    expect(
      describeConfig({
        path: '/data/hr.json',
        auth: { clientSecret: { env: 'GRAPH_SECRET' }, keys: [{ file: '/run/secrets/key' }] },
        tenant: 'acme',
      }),
    ).toEqual({
      path: '/data/hr.json',
      auth: { clientSecret: { secret: 'env:GRAPH_SECRET' }, keys: [{ secret: 'file:/run/secrets/key' }] },
      tenant: 'acme',
    });
  });

  it('never shows a secret: connector config describes secret references', async () => {
    const res = await fetch(`${url}/api/connectors/hr`);
    const text = await res.text();
    expect(text).not.toContain('hunter2');
    const body = JSON.parse(text);
    expect(body.config.clientSecret).toEqual({ secret: 'env:DIRSYNC_TEST_API_SECRET' });
    expect(body.trend.length).toBeGreaterThan(0);
  });

  it('serves health, metrics, OpenAPI, docs, bull-board and the live event stream', async () => {
    const health = await get('/healthz');
    expect(health).toEqual({
      status: 200,
      body: { status: 'ok', postgres: { ok: true }, redis: { ok: true } },
    });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('dirsync_test_marker_total 1');
    expect(metrics).toContain('process_cpu_user_seconds_total');
    const spec = (await get('/openapi.json')).body;
    expect(spec.openapi).toBe('3.0.3');
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/api/connectors',
        '/api/runs/{id}/changes',
        '/api/connectors/{name}/sync',
        '/healthz',
      ]),
    );
    expect(Object.keys(spec.paths).some((p) => p.startsWith('/admin'))).toBe(false);
    expect((await fetch(`${url}/docs/`)).status).toBe(200);
    const board = await fetch(`${url}/admin/queues`);
    expect(board.status).toBe(200);
    // bull-board's page would fetch Google Fonts; the admin page stays on this host.
    expect(board.headers.get('content-security-policy')).toContain("font-src 'self' data:");
    expect(await board.text()).toContain('<html');
    const page = await fetch(`${url}/`);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");

    const ctrl = new AbortController();
    const es = await fetch(`${url}/api/events`, { signal: ctrl.signal });
    expect(es.headers.get('content-type')).toContain('text/event-stream');
    const reader = es.body!.getReader();
    const text = await readUntil(reader, 'event: runs');
    ctrl.abort();
    expect(text).toContain('"runs":[');
  });

  it('does not add process metrics twice when the registry passed in has them', async () => {
    const m = createSyncMetrics({ defaultMetrics: true });
    const app = await buildServer({
      config: h.config,
      pool: h.db.pool,
      metricsRegistry: m.registry,
      auth: { token: null },
    });
    try {
      const res = await app.inject({ url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('dirsync_process_process_cpu_user_seconds_total');
      expect(res.body).toContain('dirsync_runs_total');
      expect(res.body).not.toMatch(/^process_cpu_user_seconds_total/m);
    } finally {
      await app.close();
    }
  });

  it('pushes queue events and run changes to the live stream while a sync runs', async () => {
    const ctrl = new AbortController();
    const es = await fetch(`${url}/api/events`, { signal: ctrl.signal });
    const reader = es.body!.getReader();
    let text = await readUntil(reader, 'event: runs');
    const r = await post('/api/connectors/hr/sync');
    expect(r.status).toBe(202);
    while (!text.includes('"event":"completed"'))
      text += new TextDecoder().decode((await reader.read()).value);
    ctrl.abort();
    expect(text).toContain(`"jobId":"${r.body.jobId}"`);
    // Progress from the worker came through QueueEvents, parsed.
    expect(text).toMatch(/"event":"progress","jobId":"[^"]+","data":\{"runId":\d+,"phase":"\w+"/);
  });
});

/** Reads an event stream until `needle` appears; fails if the stream ends first. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, needle: string): Promise<string> {
  let text = '';
  const decoder = new TextDecoder();
  while (!text.includes(needle)) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the event stream ended before ${needle}; got ${text}`);
    text += decoder.decode(value);
  }
  return text;
}
