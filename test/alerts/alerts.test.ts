/**
 * Alerts end to end: real runs in a real database, a local webhook receiver and a local SMTP server.
 * Each condition fires once per transition, recoveries are sent, deliveries are retried and given
 * up, JSON bodies are signed, and no secret is ever sent.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AlertsConfig } from '../../config/schema.js';
import { evaluateAlerts } from '../../src/alerts/conditions.js';
import { signBody } from '../../src/alerts/deliver.js';
import { drainOutbox } from '../../src/alerts/monitor.js';
import { silentLogger } from '../../src/logger.js';
import { rejectRun } from '../../src/pipeline/approve.js';
import { useTestDatabase } from '../helpers/db.js';
import { fileSource, sync, users } from '../helpers/snapshot.js';

const getDb = useTestDatabase();

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}
let hook: Server;
let hookUrl: string;
let received: Received[] = [];
/** Statuses the receiver answers with, in order; 200 once used up. */
let answers: number[] = [];
let smtp: SMTPServer;
let smtpPort: number;
let mails: { from: string; to: string[]; data: string; user: string | undefined }[] = [];

const HMAC_SECRET = 'hmac-s3cret-value';
const SMTP_PASSWORD = 'smtp-pa55word';

beforeAll(async () => {
  process.env.TEST_ALERT_HMAC = HMAC_SECRET;
  process.env.TEST_SMTP_PASSWORD = SMTP_PASSWORD;
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.statusCode = answers.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hooks/T0KEN-in-path`;
  smtp = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    onAuth(auth, _session, cb) {
      if (auth.username === 'alerts' && auth.password === SMTP_PASSWORD) cb(null, { user: auth.username });
      else cb(new Error('bad credentials'));
    },
    onData(stream, session, cb) {
      let data = '';
      stream.on('data', (c: Buffer) => (data += c.toString()));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data,
          user: session.user as string | undefined,
        });
        cb();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  smtpPort = (smtp.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => hook.close(r));
  await new Promise((r) => smtp.close(() => r(undefined)));
});
beforeEach(async () => {
  // Each test reads only what it queued.
  await getDb().pool.query('DELETE FROM dirsync.alert_outbox');
  received = [];
  answers = [];
  mails = [];
});

function alertsConfig(over: Partial<AlertsConfig> = {}): AlertsConfig {
  return {
    webhooks: [
      { url: hookUrl, format: 'json', secret: { env: 'TEST_ALERT_HMAC' } },
      { url: hookUrl, format: 'slack' },
    ],
    email: {
      host: '127.0.0.1',
      port: smtpPort,
      secure: false,
      user: 'alerts',
      password: { env: 'TEST_SMTP_PASSWORD' },
      from: 'dirsync@acme.test',
      to: ['ops@acme.test'],
    },
    failuresInARow: 2,
    staleAfter: 3_600_000,
    checkEvery: 30_000,
    maxAttempts: 3,
    dashboardUrl: 'https://dirsync.acme.test',
    ...over,
  };
}

const json = (r: Received) => JSON.parse(r.body) as Record<string, unknown>;
const dirsyncBodies = () => received.filter((r) => r.headers['x-dirsync-event']).map(json);

describe('alerts', () => {
  it('a connector failing N runs in a row alerts once on every receiver, and its recovery once', async () => {
    const db = getDb().pool;
    const cfg = alertsConfig();
    const src = fileSource({}, 'fail1');
    src.writeRaw('{ not json');
    await expect(sync(db, src.config)).rejects.toThrow();
    expect(await evaluateAlerts(db, ['fail1'], cfg)).toEqual([]);
    await expect(sync(db, src.config)).rejects.toThrow();
    const queued = await evaluateAlerts(db, ['fail1'], cfg);
    expect(queued.map((e) => e.type)).toEqual(['connector.failing']);
    // A second evaluation (another worker) queues nothing more.
    expect(await evaluateAlerts(db, ['fail1'], cfg)).toEqual([]);
    expect(await drainOutbox(db, cfg, silentLogger)).toEqual({ sent: 3, failed: 0 });

    const [failing] = dirsyncBodies();
    expect(failing).toMatchObject({ type: 'connector.failing', connector: 'fail1' });
    expect(String(failing?.summary)).toContain('the last 2 runs failed');
    const slack = received.find((r) => !r.headers['x-dirsync-event']);
    expect(json(slack as Received).text).toContain('fail1: the last 2 runs failed');
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ to: ['ops@acme.test'], user: 'alerts' });
    expect(mails[0]?.data).toMatch(/Subject: \[Dirsync\] fail1: the last 2 runs failed/);

    src.write({ users: users(2) });
    await sync(db, src.config);
    const rec = await evaluateAlerts(db, ['fail1'], cfg);
    expect(rec.map((e) => [e.type, e.condition])).toEqual([['connector.recovered', 'failing']]);
    await drainOutbox(db, cfg, silentLogger);
    expect(dirsyncBodies().map((b) => b.type)).toEqual(['connector.failing', 'connector.recovered']);
  });

  it('JSON bodies are signed over timestamp and body; no secret is ever sent', async () => {
    const db = getDb().pool;
    const cfg = alertsConfig();
    const src = fileSource({}, 'sign1');
    src.writeRaw('nope');
    await expect(sync(db, src.config)).rejects.toThrow();
    await expect(sync(db, src.config)).rejects.toThrow();
    await evaluateAlerts(db, ['sign1'], cfg);
    await drainOutbox(db, cfg, silentLogger);
    const signed = received.find((r) => r.headers['x-dirsync-event']) as Received;
    const ts = signed.headers['x-dirsync-timestamp'] as string;
    expect(signed.headers['x-dirsync-signature']).toBe(signBody(HMAC_SECRET, ts, signed.body));
    expect(signed.headers['x-dirsync-signature']).not.toBe(signBody('wrong', ts, signed.body));
    for (const r of received) {
      expect(r.body).not.toContain(HMAC_SECRET);
      expect(r.body).not.toContain(SMTP_PASSWORD);
    }
    for (const m of mails) expect(m.data).not.toContain(SMTP_PASSWORD);
  });

  it('a held run alerts once with its guard and how to approve; a later held run alerts again', async () => {
    const db = getDb().pool;
    const cfg = alertsConfig({ email: undefined, webhooks: [{ url: hookUrl, format: 'json' }] });
    const src = fileSource({ guard: { minRemovals: 1 } }, 'held1');
    src.write({ users: users(20) });
    await sync(db, src.config);
    src.write({ users: users(2) });
    const held = await sync(db, src.config);
    expect(held.status).toBe('needs_approval');
    expect((await evaluateAlerts(db, ['held1'], cfg)).map((e) => e.type)).toEqual(['run.held']);
    expect(await evaluateAlerts(db, ['held1'], cfg)).toEqual([]);
    await drainOutbox(db, cfg, silentLogger);
    const body = dirsyncBodies()[0] as {
      runId: number;
      url: string;
      details: { approve: string; guard: unknown };
    };
    expect(body.runId).toBe(held.runId);
    expect(body.url).toBe(`https://dirsync.acme.test/#/runs/${held.runId}`);
    expect(body.details.approve).toBe(`dirsync approve ${held.runId}`);
    expect(body.details.guard).toBeTruthy();

    await rejectRun(db, held.runId, 'tester');
    expect(await evaluateAlerts(db, ['held1'], cfg)).toEqual([]);
    const again = await sync(db, src.config);
    expect(again.status).toBe('needs_approval');
    const next = await evaluateAlerts(db, ['held1'], cfg);
    expect(next.map((e) => [e.type, e.runId])).toEqual([['run.held', again.runId]]);
  });

  it('a connector with no success for longer than staleAfter is stale, and recovers', async () => {
    const db = getDb().pool;
    const cfg = alertsConfig({ email: undefined, webhooks: [{ url: hookUrl, format: 'json' }] });
    const src = fileSource({}, 'stale1');
    src.write({ users: users(2) });
    await sync(db, src.config);
    expect(await evaluateAlerts(db, ['stale1'], cfg)).toEqual([]);
    const later = new Date(Date.now() + 2 * 3_600_000);
    const stale = await evaluateAlerts(db, ['stale1'], cfg, later);
    expect(stale.map((e) => e.type)).toEqual(['connector.stale']);
    expect(stale[0]?.summary).toMatch(/no successful sync for 2 h/);
    const back = await evaluateAlerts(db, ['stale1'], cfg);
    expect(back.map((e) => [e.type, e.condition])).toEqual([['connector.recovered', 'stale']]);
  });

  it('a failed delivery is retried with backoff, a permanent refusal is given up at once', async () => {
    const db = getDb().pool;
    const cfg = alertsConfig({
      email: undefined,
      webhooks: [{ url: hookUrl, format: 'json' }],
      maxAttempts: 3,
    });
    const src = fileSource({}, 'retry1');
    src.writeRaw('x');
    await expect(sync(db, src.config)).rejects.toThrow();
    await expect(sync(db, src.config)).rejects.toThrow();
    await evaluateAlerts(db, ['retry1'], cfg);
    answers = [503];
    expect(await drainOutbox(db, cfg, silentLogger)).toEqual({ sent: 0, failed: 1 });
    // Not due yet: the backoff holds it.
    expect(await drainOutbox(db, cfg, silentLogger)).toEqual({ sent: 0, failed: 0 });
    const soon = () => new Date(Date.now() + 60_000);
    expect(await drainOutbox(db, cfg, silentLogger, soon)).toEqual({ sent: 1, failed: 0 });
    const { rows } = await db.query(
      `SELECT attempts, sent_at, last_error FROM dirsync.alert_outbox ORDER BY id DESC LIMIT 1`,
    );
    expect(rows[0]).toMatchObject({ attempts: 2, last_error: null });
    expect(rows[0].sent_at).toBeTruthy();

    src.write({ users: users(1) });
    await sync(db, src.config);
    await evaluateAlerts(db, ['retry1'], cfg);
    answers = [404];
    expect(await drainOutbox(db, cfg, silentLogger, soon)).toEqual({ sent: 0, failed: 1 });
    const gone = await db.query(
      `SELECT attempts, failed_at, last_error FROM dirsync.alert_outbox ORDER BY id DESC LIMIT 1`,
    );
    expect(gone.rows[0].failed_at).toBeTruthy();
    // The error names the receiver's origin, never its path (webhook URLs often carry a token).
    expect(gone.rows[0].last_error).toContain('answered 404');
    expect(gone.rows[0].last_error).not.toContain('T0KEN');
    expect(await drainOutbox(db, cfg, silentLogger, () => new Date(Date.now() + 86_400_000))).toEqual({
      sent: 0,
      failed: 0,
    });
  });
});
