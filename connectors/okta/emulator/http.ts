/** Response helpers shared by the emulator's handlers: JSON bodies and Okta error objects. */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (status === 204) {
    res.writeHead(204, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** Okta's error object: https://developer.okta.com/docs/reference/error-codes/ */
export function oktaError(status: number, errorCode: string, errorSummary: string, causes: string[] = []) {
  return {
    errorCode,
    errorSummary,
    errorLink: errorCode,
    errorId: `oae${randomBytes(11).toString('base64url')}`,
    errorCauses: causes.map((c) => ({ errorSummary: c })),
    status,
  };
}

export function sendOktaError(
  res: ServerResponse,
  status: number,
  code: string,
  summary: string,
  headers: Record<string, string> = {},
  causes: string[] = [],
): void {
  const { status: _s, ...body } = oktaError(status, code, summary, causes);
  sendJson(res, status, body, headers);
}

export async function readBody(req: IncomingMessage, max = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) throw new Error('body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
