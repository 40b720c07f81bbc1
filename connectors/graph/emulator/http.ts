/**
 * Wire helpers: Graph's error envelope and JSON responses.
 * https://learn.microsoft.com/graph/errors
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error the emulator answers with Graph's envelope. */
export class GraphHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface GraphResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}` */
export function errorEnvelope(code: string, message: string, clientRequestId: string | undefined): unknown {
  const requestId = randomUUID();
  return {
    error: {
      code,
      message,
      innerError: {
        date: new Date().toISOString().replace(/\.\d{3}Z$/, ''),
        'request-id': requestId,
        'client-request-id': clientRequestId ?? requestId,
      },
    },
  };
}

export function errorResponse(e: GraphHttpError, clientRequestId: string | undefined): GraphResponse {
  return {
    status: e.status,
    headers: { 'Content-Type': 'application/json', ...e.headers },
    body: errorEnvelope(e.code, e.message, clientRequestId),
  };
}

export const ODATA_JSON =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

export function ok(body: unknown, headers: Record<string, string> = {}): GraphResponse {
  return { status: 200, headers: { 'Content-Type': ODATA_JSON, ...headers }, body };
}

export function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: unknown,
): void {
  const text =
    body === undefined ? '' : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

export async function readBody(req: IncomingMessage, limit = 4 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit)
      throw new GraphHttpError(413, 'RequestEntityTooLarge', 'The request body is too large.');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
