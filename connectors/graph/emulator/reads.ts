/**
 * Read endpoints beyond the sync's own listings that directory readers call (the Backstage msgraph
 * module, admin scripts): the tenant's organization, profile photos, `$count` segments, and the
 * membership navigations (`memberOf`, `transitiveMemberOf`, `transitiveMembers`).
 * https://learn.microsoft.com/graph/api/organization-get  https://learn.microsoft.com/graph/api/profilephoto-get
 * https://learn.microsoft.com/graph/api/group-list-transitivemembers  https://learn.microsoft.com/graph/aad-advanced-queries
 */
import { createHash } from 'node:crypto';
import type { OrgGroup, OrgUser } from '../../emulator-kit/org.js';
import { GraphHttpError, ok, type GraphResponse } from './http.js';
import { graphId } from './ids.js';
import type { MemberRef } from './model.js';
import type { GraphStore } from './store.js';

/** Photo sizes Entra ID keeps for an uploaded 648×648 picture, smallest first. */
export const PHOTO_SIZES = [48, 64, 96, 120, 240, 360, 432, 504, 648];

/** A tiny but well-formed JPEG (SOI, a comment, EOI): what `$value` serves. */
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xfe, 0x00, 0x0a, ...Buffer.from('emulator'), 0xff, 0xd9]);

export function organization(store: GraphStore, tenantId: string, created: string): Record<string, unknown> {
  const domain = store.org.domain;
  return {
    id: tenantId,
    deletedDateTime: null,
    businessPhones: [],
    city: null,
    country: null,
    countryLetterCode: 'US',
    createdDateTime: created,
    defaultUsageLocation: null,
    displayName: domain.split('.')[0] ?? domain,
    marketingNotificationEmails: [],
    onPremisesLastSyncDateTime: null,
    onPremisesSyncEnabled: null,
    postalCode: null,
    preferredLanguage: 'en',
    securityComplianceNotificationMails: [],
    securityComplianceNotificationPhones: [],
    state: null,
    street: null,
    technicalNotificationMails: [],
    tenantType: 'AAD',
    assignedPlans: [],
    privacyProfile: null,
    provisionedPlans: [],
    verifiedDomains: [
      {
        capabilities: 'Email, OfficeCommunicationsOnlineService',
        isDefault: true,
        isInitial: true,
        name: domain,
        type: 'Managed',
      },
    ],
  };
}

export function requireEventual(headers: Record<string, string | undefined>, what: string): void {
  if (headers.consistencylevel?.toLowerCase() !== 'eventual') {
    throw new GraphHttpError(400, 'Request_BadRequest', `${what} is not currently supported.`);
  }
}

/** `$count` segments answer a bare number as text/plain. */
export function countResponse(n: number): GraphResponse {
  return { status: 200, headers: { 'Content-Type': 'text/plain;charset=utf-8' }, body: String(n) };
}

/** About three users in four have a photo; which ones is fixed by the id. */
export function hasPhoto(u: OrgUser): boolean {
  return (createHash('sha1').update(u.id).digest()[0] as number) % 4 !== 0;
}

function imageNotFound(): GraphHttpError {
  return new GraphHttpError(
    404,
    'ImageNotFound',
    "Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown.",
  );
}

function photoEntity(u: OrgUser, size: number): Record<string, unknown> {
  const etag = createHash('sha1').update(`${u.id}|${size}`).digest('hex').slice(0, 16);
  return {
    '@odata.mediaContentType': 'image/jpeg',
    '@odata.mediaEtag': `W/"${etag}"`,
    id: `${size}X${size}`,
    height: size,
    width: size,
  };
}

/** `/users/{id}/photo[/$value]`, `/users/{id}/photos[/{size}[/$value]]` (segments after the user id). */
export function photo(base: string, u: OrgUser, rest: string[]): GraphResponse {
  const uid = graphId(u.id);
  const [nav, a, b] = rest;
  const largest = PHOTO_SIZES[PHOTO_SIZES.length - 1] as number;
  if (nav === 'photos' && a === undefined) {
    // Listing sizes answers an empty collection for a user without a photo.
    const value = hasPhoto(u) ? PHOTO_SIZES.map((s) => photoEntity(u, s)) : [];
    return ok({ '@odata.context': `${base}/v1.0/$metadata#users('${uid}')/photos`, value });
  }
  let size = largest;
  let value = false;
  if (nav === 'photo') value = a === '$value' && b === undefined;
  else {
    const m = /^(\d+)X(\d+)$/i.exec(a ?? '');
    if (!m || m[1] !== m[2] || !PHOTO_SIZES.includes(Number(m[1]))) throw imageNotFound();
    size = Number(m[1]);
    value = b === '$value';
  }
  if (!hasPhoto(u)) throw imageNotFound();
  if (value) return { status: 200, headers: { 'Content-Type': 'image/jpeg' }, body: JPEG };
  return ok({
    '@odata.context': `${base}/v1.0/$metadata#users('${uid}')/${nav === 'photo' ? 'photo' : 'photos'}/$entity`,
    ...photoEntity(u, size),
  });
}

/** Groups that list `memberOrgId` (a user or group org id) directly. */
export function directParents(store: GraphStore, memberOrgId: string, isGroup: boolean): OrgGroup[] {
  const out: OrgGroup[] = [];
  const child = isGroup ? store.groupById(memberOrgId) : undefined;
  for (const g of store.org.groups) {
    if (isGroup) {
      if (g.id === memberOrgId) continue;
      if (child?.parentId === g.id || store.extraNesting.get(g.id)?.has(memberOrgId)) out.push(g);
    } else if (store.org.members.get(g.id)?.has(memberOrgId)) out.push(g);
  }
  return out;
}

/** Every group above an object, each once (cycles end where they began). */
export function transitiveParents(store: GraphStore, memberOrgId: string, isGroup: boolean): OrgGroup[] {
  const seen = new Map<string, OrgGroup>();
  let frontier = directParents(store, memberOrgId, isGroup);
  while (frontier.length > 0) {
    const next: OrgGroup[] = [];
    for (const g of frontier) {
      if (seen.has(g.id)) continue;
      seen.set(g.id, g);
      next.push(...directParents(store, g.id, true));
    }
    frontier = next;
  }
  seen.delete(memberOrgId);
  return [...seen.values()];
}

/** Every object below a group (users, groups, devices, ...), each once. */
export function transitiveMembers(store: GraphStore, g: OrgGroup): MemberRef[] {
  const out = new Map<string, MemberRef>();
  const visited = new Set<string>([g.id]);
  let frontier = [g];
  while (frontier.length > 0) {
    const next: OrgGroup[] = [];
    for (const x of frontier) {
      for (const m of store.members(x)) {
        const key = `${m.type}|${'orgId' in m.obj ? m.obj.orgId : m.obj.id}`;
        if (m.type === 'group' && m.obj.id === g.id) continue;
        if (!out.has(key)) out.set(key, m);
        if (m.type === 'group' && !visited.has(m.obj.id)) {
          visited.add(m.obj.id);
          next.push(m.obj);
        }
      }
    }
    frontier = next;
  }
  return [...out.values()];
}
