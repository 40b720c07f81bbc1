/**
 * Fault injection shared by the emulators: an emulator that never fails hides the retry and
 * atomicity bugs that real IdPs find for you.
 */
import type { ServerResponse } from 'node:http';
import type { FaultOptions } from './types.js';

export type Fault = 'error' | 'timeout' | 'reset' | 'truncate';

/** Draws at most one fault for a request, from the configured rates. */
export function drawFault(faults: FaultOptions | undefined, rnd: () => number = Math.random): Fault | null {
  if (!faults) return null;
  const r = rnd();
  let acc = 0;
  for (const [fault, rate] of [
    ['error', faults.errorRate],
    ['timeout', faults.timeoutRate],
    ['reset', faults.resetRate],
    ['truncate', faults.truncateRate],
  ] as const) {
    acc += rate ?? 0;
    if (r < acc) return fault;
  }
  return null;
}

/** Hangs the request without answering; the socket is destroyed after `ms` so tests do not leak. */
export function hang(res: ServerResponse, ms = 120_000): void {
  const t = setTimeout(() => res.destroy(), ms);
  res.on('close', () => clearTimeout(t));
}

/** Resets the connection after the headers, as a crashed load balancer does. */
export function reset(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.flushHeaders();
  setImmediate(() => res.socket?.destroy());
}

/**
 * Sends the first half of a JSON body with a correct-looking status: a truncated page. A half that
 * still parses (a bare number such as a count: "230" cut to "2") would be a different, valid answer
 * no client could detect; real truncation is detectable, so such a body is cut to nothing instead.
 */
export function truncate(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: string,
): void {
  let cut = body.slice(0, Math.max(1, Math.floor(body.length / 2)));
  try {
    JSON.parse(cut);
    cut = '';
  } catch {
    // Invalid JSON, as a cut page should be.
  }
  res.writeHead(status, { ...headers, 'content-type': 'application/json' });
  res.end(cut);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
