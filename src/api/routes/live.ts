/**
 * The live view: Server-Sent Events. The runs table is the truth (a run started from the CLI shows
 * too), polled once per interval for all listeners together; queue events, when attached, add the
 * moments in between (a job queued, its progress, completed, failed).
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { liveRuns, runsFingerprint } from '../queries.js';
import { liveView } from './connectors.js';

const QUEUE_EVENTS = ['waiting', 'active', 'progress', 'completed', 'failed'] as const;

/** QueueEvents delivers progress as the JSON text Redis stored. */
function parsed(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

export function liveRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const clients = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | null = null;
  let last = '';
  let polling = false;

  const broadcast = (event: string, data: unknown) => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of clients) c.write(frame);
  };

  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      const f = await runsFingerprint(ctx.pool, ctx.names);
      if (f !== last) {
        last = f;
        const runs = await liveRuns(ctx.pool, ctx.names);
        broadcast('runs', { at: new Date().toISOString(), runs: runs.map(liveView), fingerprint: f });
      }
    } catch (e) {
      app.log.warn({ err: (e as Error).message }, 'live view poll failed');
    } finally {
      polling = false;
    }
  };

  const queueListeners = QUEUE_EVENTS.map((name) => {
    const fn = (args: { jobId?: string; data?: unknown }) => {
      broadcast('job', {
        event: name,
        jobId: args?.jobId ?? null,
        data: name === 'progress' ? parsed(args?.data) : undefined,
      });
      void poll();
    };
    return [name, fn] as const;
  });

  const start = () => {
    if (timer) return;
    timer = setInterval(() => void poll(), ctx.livePollMs);
    timer.unref();
    for (const [name, fn] of queueListeners) ctx.queue?.events?.on(name, fn as never);
  };
  const stop = () => {
    if (!timer) return;
    clearInterval(timer);
    timer = null;
    last = '';
    for (const [name, fn] of queueListeners) ctx.queue?.events?.off(name, fn as never);
  };

  app.get(
    '/api/events',
    {
      schema: {
        tags: ['live'],
        summary:
          'Server-Sent Events: `runs` (running and held runs, whenever any run moves) and `job` (queue events)',
        produces: ['text/event-stream'],
      },
    },
    async (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-content-type-options': 'nosniff',
      });
      res.write('retry: 2000\n\n');
      clients.add(res);
      start();
      // Every new listener gets the current state at once.
      try {
        const runs = await liveRuns(ctx.pool, ctx.names);
        res.write(
          `event: runs\ndata: ${JSON.stringify({ at: new Date().toISOString(), runs: runs.map(liveView) })}\n\n`,
        );
      } catch {
        // the next poll will tell
      }
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      heartbeat.unref();
      req.raw.on('close', () => {
        clearInterval(heartbeat);
        clients.delete(res);
        if (clients.size === 0) stop();
      });
    },
  );

  // Open streams would keep close() waiting forever.
  app.addHook('preClose', async () => {
    stop();
    for (const c of clients) c.end();
    clients.clear();
  });
}
