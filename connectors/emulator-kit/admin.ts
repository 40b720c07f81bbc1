/**
 * Pieces the emulators' admin APIs (`/__emulator/...`) share: reading a JSON object body and
 * turning the errors of a mutation into an answer.
 */
import type { IncomingMessage } from 'node:http';
import { OrgMutationError } from './mutate.js';

export type JsonObject = Record<string, unknown>;

/**
 * Reads the request body as a JSON object. An empty body (or, with `blankIsEmpty`, one of
 * whitespace only) is `{}`; invalid JSON throws a SyntaxError, anything but an object an
 * {@link OrgMutationError} (400).
 */
export async function readJsonObject(
  req: IncomingMessage,
  opts: { blankIsEmpty?: boolean } = {},
): Promise<JsonObject> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if ((opts.blankIsEmpty ? text.trim() : text) === '') return {};
  const v: unknown = JSON.parse(text);
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new OrgMutationError('body must be a JSON object', 400);
  return v as JsonObject;
}

/**
 * The answer for an error thrown by an admin route: a refused mutation gets its own status, a body
 * that is not JSON 400; anything else is rethrown.
 */
export function adminErrorAnswer(e: unknown): { status: number; body: { error: string } } {
  if (e instanceof OrgMutationError) return { status: e.status, body: { error: e.message } };
  if (e instanceof SyntaxError) return { status: 400, body: { error: 'body is not JSON' } };
  throw e;
}
