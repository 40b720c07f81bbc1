/**
 * Graph object ids are GUIDs. The shared org model uses short index ids (`u0000001a`), so the
 * emulator derives a stable GUID from each one (a name-based, UUIDv5-style hash) and keeps the
 * reverse map for requests that name an object by id.
 */
import { createHash } from 'node:crypto';

const cache = new Map<string, string>();

/** The Graph id (GUID) of an org object id. Deterministic: the same org id always gives the same GUID. */
export function graphId(orgId: string): string {
  let id = cache.get(orgId);
  if (id === undefined) {
    const h = createHash('sha1').update('dirsync-graph:').update(orgId).digest('hex');
    // Version 5 and RFC 4122 variant bits, as a real name-based UUID has.
    const variant = ((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
    id = `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
    cache.set(orgId, id);
  }
  return id;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(s: string): boolean {
  return GUID.test(s);
}
