/**
 * The Dirsync HTTP server: a JSON API (OpenAPI at /openapi.json, Swagger UI at /docs), the
 * dashboard (plain HTML + CSS + ES modules from ./public, no build step), Server-Sent Events for
 * the live view, /healthz, /metrics and, when a BullMQ queue is attached, bull-board at
 * /admin/queues. Security rules are in ./security.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DirsyncConfig } from '../../config/schema.js';
import { DirsyncError, isDirsyncError, type ErrorCode } from '../errors.js';
import type { ApiContext, QueueBinding } from './context.js';
import { AccessRecorder, readAccess } from './crowd/access.js';
import { loadApplications } from './crowd/auth.js';
import { CROWD_PREFIXES, crowdRoutes } from './crowd/routes.js';
import { connectorRoutes } from './routes/connectors.js';
import { directoryRoutes } from './routes/directory.js';
import { liveRoutes } from './routes/live.js';
import { opsRoutes } from './routes/ops.js';
import { historyRoutes } from './routes/history.js';
import { runRoutes } from './routes/runs.js';
import { loginLimiter } from './login-limit.js';
import { Guard, isLoopbackHost, SESSION_COOKIE, sendError, type Principal } from './security.js';

export type { QueueBinding, TriggerOptions, EventSource } from './context.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface ServerOptions {
  config: DirsyncConfig;
  pool: pg.Pool;
  queue?: QueueBinding;
  /** The jobs' prom-client registry; /metrics serves it plus the process metrics. */
  metricsRegistry?: Registry;
  /** Admin token; defaults to env DIRSYNC_ADMIN_TOKEN. Required for any non-loopback bind. */
  auth?: { token?: string | null };
  /** Where the server will listen; defaults to config.server.host. Decides whether auth is required. */
  host?: string;
  /** Request logging; nothing is logged by default. */
  logger?: Logger;
  /** How often the live view reads the runs table (ms). */
  livePollMs?: number;
  env?: NodeJS.ProcessEnv;
}

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};
const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Status of the DirsyncErrors an API call can raise. */
const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  DIRSYNC_E_CONNECTOR_UNKNOWN: 404,
  DIRSYNC_E_RUN_NOT_FOUND: 404,
  DIRSYNC_E_RUN_NOT_HELD: 409,
  DIRSYNC_E_RUN_IN_PROGRESS: 409,
  DIRSYNC_E_DIRECTORY_MOVED: 409,
  DIRSYNC_E_STAGE_LOST: 409,
  DIRSYNC_E_DB_UNAVAILABLE: 503,
  DIRSYNC_E_REDIS_UNAVAILABLE: 503,
};

/** Refuses a setup that would expose the directory without authentication. */
export function resolveAdminToken(host: string, opts: Pick<ServerOptions, 'auth' | 'env'>): string | null {
  const env = opts.env ?? process.env;
  const token = opts.auth?.token !== undefined ? opts.auth.token : env.DIRSYNC_ADMIN_TOKEN || null;
  if (token !== null && token.length < 16) {
    throw new DirsyncError(
      'DIRSYNC_E_CONFIG_INVALID',
      'DIRSYNC_ADMIN_TOKEN is too short: use at least 16 random characters (e.g. `openssl rand -hex 24`)',
    );
  }
  if (!token && !isLoopbackHost(host)) {
    throw new DirsyncError(
      'DIRSYNC_E_CONFIG_INVALID',
      `server.host is ${host}, which is reachable from other machines: set DIRSYNC_ADMIN_TOKEN ` +
        '(at least 16 random characters) to require a login, or bind to 127.0.0.1',
    );
  }
  return token || null;
}

function loginPage(message: string | null): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Dirsync</title><link rel="stylesheet" href="/assets/style.css">
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml"></head>
<body class="login"><main class="login-box">
<h1>Dirsync</h1>
<p>This dashboard is reachable from other machines, so it asks for the admin token
(<code>DIRSYNC_ADMIN_TOKEN</code>).</p>
${message ? `<p class="error" role="alert">${message}</p>` : ''}
<form method="post" action="/login">
<input type="text" name="username" value="admin" autocomplete="username" hidden>
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit" class="primary">Sign in</button>
</form></main></body></html>`;
}

/**
 * Libraries the pages load as they ship on npm (no build step): Chart.js's UMD bundle, resolved
 * from the installed package so its version is the lock file's.
 */
const VENDOR_ASSETS: Record<string, () => string> = {
  'chart.umd.min.js': () =>
    join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js'),
};

function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const out = new Map<string, { body: Buffer; type: string }>();
  for (const f of readdirSync(PUBLIC_DIR)) {
    const type = TYPES[extname(f)];
    if (type) out.set(f, { body: readFileSync(join(PUBLIC_DIR, f)), type });
  }
  for (const [name, path] of Object.entries(VENDOR_ASSETS)) {
    out.set(name, { body: readFileSync(path()), type: TYPES['.js'] as string });
  }
  return out;
}

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const host = opts.host ?? opts.config.server.host;
  const guard = new Guard(resolveAdminToken(host, opts));
  const ctx: ApiContext = {
    config: opts.config,
    pool: opts.pool,
    queue: opts.queue ?? null,
    metricsRegistry: opts.metricsRegistry ?? null,
    names: opts.config.connectors.map((c) => c.name),
    livePollMs: opts.livePollMs ?? 1000,
  };

  // Crowd applications' passwords are read once, here: a missing secret stops the server at start.
  const crowdApps = loadApplications(opts.config.crowd?.applications ?? [], opts.env ?? process.env);

  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    bodyLimit: 64 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  }) as unknown as FastifyInstance;
  // Route schemas document and validate; answers are plain JSON (no field is ever dropped silently).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 4096 },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) {
      return sendError(reply, 400, 'BAD_REQUEST', `${err.validationContext ?? 'request'}: ${err.message}`);
    }
    if (isDirsyncError(err)) {
      const status = STATUS_OF[err.code] ?? 500;
      if (status >= 500) req.log.error({ code: err.code, err: err.message }, 'request failed');
      return sendError(reply, status, err.code, err.message);
    }
    if (err.statusCode && err.statusCode < 500) {
      return sendError(reply, err.statusCode, err.code ?? 'BAD_REQUEST', err.message);
    }
    req.log.error({ err }, 'request failed');
    return sendError(reply, 500, 'DIRSYNC_E_INTERNAL', 'Internal error; see the server log');
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, 404, 'NOT_FOUND', `no route ${req.method} ${req.url}`),
  );

  // --- who may ask ---------------------------------------------------------------------------
  const OPEN = new Set(['/healthz', '/login', '/favicon.ico']);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] as string;
    // The Crowd API authenticates applications itself (HTTP Basic, ./crowd/auth.ts); a browser
    // page cannot use it without the application password, so the dashboard's rules do not apply.
    if (path.startsWith('/rest/usermanagement/')) return;
    if (!guard.hostAllowed(req)) {
      return sendError(reply, 421, 'MISDIRECTED', 'this server answers only to a loopback host name');
    }
    if (OPEN.has(path) || path.startsWith('/assets/')) return;
    const who = guard.identify(req);
    if (!who) {
      const wantsPage = req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
      if (wantsPage && !path.startsWith('/api/')) return reply.redirect('/login', 303);
      reply.header('www-authenticate', 'Bearer realm="dirsync"');
      return sendError(
        reply,
        401,
        'UNAUTHORIZED',
        'sign in, or send Authorization: Bearer <DIRSYNC_ADMIN_TOKEN>',
      );
    }
    req.principal = who;
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
    // State-changing: same origin always; and the CSRF token unless the Bearer token was sent.
    const bullBoard = path.startsWith('/admin/queues');
    if (!guard.sameOrigin(req, bullBoard && who.via !== 'token')) {
      return sendError(reply, 403, 'FORBIDDEN', 'cross-origin request refused');
    }
    if (who.via !== 'token' && !bullBoard && req.headers['x-csrf-token'] !== who.csrf) {
      return sendError(
        reply,
        403,
        'FORBIDDEN',
        'missing or wrong X-CSRF-Token (read it from GET /api/session)',
      );
    }
  });
  app.addHook('onSend', async (req, reply) => {
    // bull-board's page asks Google Fonts for its typeface: keep the admin page on this host.
    if (req.url.startsWith('/admin/queues') && !reply.hasHeader('content-security-policy')) {
      reply.header(
        'content-security-policy',
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
          "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
      );
    }
    reply.header('x-content-type-options', 'nosniff');
    // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on form POSTs.
    reply.header('referrer-policy', 'same-origin');
    if (!reply.hasHeader('x-frame-options')) reply.header('x-frame-options', 'DENY');
  });

  // --- OpenAPI --------------------------------------------------------------------------------
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Dirsync API',
        version: '1',
        description:
          'Sync status, run history, change logs and the synchronized directory. Errors are `{ error: { code, message } }`. ' +
          'State-changing requests need the Bearer token, or a session cookie plus the X-CSRF-Token from GET /api/session.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          basic: {
            type: 'http',
            scheme: 'basic',
            description: 'Crowd API: the application name and password of crowd.applications',
          },
        },
      },
      security: [{ bearer: [] }],
      tags: [
        { name: 'connectors', description: 'Status and sync now' },
        { name: 'runs', description: 'History, changes, approval' },
        { name: 'directory', description: 'Users, groups, nested memberships' },
        { name: 'live', description: 'Server-Sent Events' },
        { name: 'ops', description: 'Health and metrics' },
        {
          name: 'crowd',
          description:
            'Atlassian Crowd REST API (read-only) for Jira, Confluence, Bitbucket and Bamboo; also under /rest/usermanagement/latest. ' +
            "XML or JSON by Accept; errors are Crowd's `{reason, message}`.",
        },
      ],
    },
    transform: ({ schema, url }) => {
      const api =
        url.startsWith('/api/') ||
        url.startsWith('/rest/usermanagement/1/') ||
        url === '/healthz' ||
        url === '/metrics';
      return { schema: api ? schema : { ...(schema ?? {}), hide: true }, url } as never;
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // --- session ----------------------------------------------------------------------------------
  app.get('/login', { schema: { hide: true } }, async (_req, reply) => {
    if (!guard.authRequired) return reply.redirect('/', 303);
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', PAGE_CSP)
      .send(loginPage(null));
  });
  const logins = loginLimiter();
  app.post<{ Body: { token?: string } }>('/login', { schema: { hide: true } }, async (req, reply) => {
    if (!guard.sameOrigin(req, false))
      return sendError(reply, 403, 'FORBIDDEN', 'cross-origin request refused');
    const wait = logins.retryAfterMs(req.ip);
    if (wait > 0) {
      reply.header('retry-after', String(Math.ceil(wait / 1000)));
      return sendError(
        reply,
        429,
        'TOO_MANY_REQUESTS',
        'too many failed logins from this address; try later',
      );
    }
    const token = typeof req.body?.token === 'string' ? req.body.token : '';
    if (!guard.authRequired || !guard.checkToken(token)) {
      logins.failed(req.ip);
      return reply
        .code(401)
        .type('text/html; charset=utf-8')
        .header('content-security-policy', PAGE_CSP)
        .send(loginPage('That token is not right.'));
    }
    logins.succeeded(req.ip);
    const s = guard.createSession();
    const secure = req.protocol === 'https' ? '; Secure' : '';
    reply.header(
      'set-cookie',
      `${SESSION_COOKIE}=${s.id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200${secure}`,
    );
    return reply.redirect('/', 303);
  });
  app.post('/logout', { schema: { hide: true } }, async (req, reply) => {
    guard.dropSession(req);
    reply.header('set-cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
    return { ok: true };
  });
  app.get(
    '/api/session',
    {
      schema: {
        tags: ['ops'],
        summary: 'Who you are here, and the CSRF token to send as X-CSRF-Token on POSTs from a browser',
      },
    },
    async (req) => ({
      authRequired: guard.authRequired,
      via: req.principal?.via ?? null,
      csrfToken: req.principal?.csrf ?? null,
      queue: ctx.queue !== null,
      bullBoard: Boolean(ctx.queue?.bullQueue),
    }),
  );

  // --- API ------------------------------------------------------------------------------------
  connectorRoutes(app, ctx);
  runRoutes(app, ctx);
  directoryRoutes(app, ctx);
  liveRoutes(app, ctx);
  opsRoutes(app, ctx);
  historyRoutes(app, ctx);
  app.get(
    '/api/crowd/applications',
    {
      schema: {
        tags: ['crowd'],
        summary: 'The Crowd applications, their directories and last access (never their passwords)',
      },
    },
    async () => {
      const access = await readAccess(ctx.pool);
      return (opts.config.crowd?.applications ?? []).map((a) => ({
        name: a.name,
        directories: a.directories,
        allowedAddresses: a.allowedAddresses ?? null,
        lastAccessAt: access.get(a.name)?.lastAccessAt ?? null,
        lastAddress: access.get(a.name)?.lastAddress ?? null,
        requests: access.get(a.name)?.requests ?? 0,
      }));
    },
  );

  // --- Crowd REST API ---------------------------------------------------------------------------
  const recorder = new AccessRecorder(ctx.pool);
  for (const prefix of CROWD_PREFIXES) {
    await app.register(crowdRoutes, {
      prefix,
      pool: ctx.pool,
      applications: crowdApps,
      touched: (a, address) => recorder.touched(a, address),
    });
  }

  // --- dashboard ------------------------------------------------------------------------------
  const assets = loadAssets();
  const page = (reply: FastifyReply) => {
    const index = assets.get('index.html');
    if (!index) return sendError(reply, 500, 'DIRSYNC_E_INTERNAL', 'dashboard files are missing');
    return reply
      .type(index.type)
      .header('content-security-policy', PAGE_CSP)
      .header('cache-control', 'no-store')
      .send(index.body);
  };
  app.get('/', { schema: { hide: true } }, async (_req, reply) => page(reply));
  app.get('/favicon.ico', { schema: { hide: true } }, async (_req, reply) =>
    reply.redirect('/assets/favicon.svg', 301),
  );
  app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (req, reply) => {
    const a = req.params.file === 'index.html' ? undefined : assets.get(req.params.file);
    if (!a) return sendError(reply, 404, 'NOT_FOUND', `no asset ${req.params.file}`);
    return reply.type(a.type).header('cache-control', 'no-cache').send(a.body);
  });

  // --- bull-board -----------------------------------------------------------------------------
  if (ctx.queue?.bullQueue) {
    const [{ createBullBoard }, { BullMQAdapter }, { FastifyAdapter }] = await Promise.all([
      import('@bull-board/api'),
      import('@bull-board/api/bullMQAdapter'),
      import('@bull-board/fastify'),
    ]);
    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath('/admin/queues');
    createBullBoard({
      queues: [new BullMQAdapter(ctx.queue.bullQueue)],
      serverAdapter,
      options: { uiConfig: { boardTitle: 'Dirsync queue' } },
    });
    await app.register(serverAdapter.registerPlugin() as never, { prefix: '/admin/queues' });
  }

  return app;
}

export interface StartedServer {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/**
 * Builds and listens (host and port from the options or config.server). Prints nothing; the
 * caller says where it runs. `close()` stops the server; the pool and queue stay the caller's.
 */
export async function startServer(opts: ServerOptions & { port?: number }): Promise<StartedServer> {
  const host = opts.host ?? opts.config.server.host;
  const port = opts.port ?? opts.config.server.port;
  const app = await buildServer({ ...opts, host });
  await app.listen({ host, port });
  const addr = app.server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  // A wildcard bind is reached on this machine through loopback.
  const shown =
    host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shown}:${bound}`, app, close: () => app.close() };
}
