/**
 * The emulator's own control API under `/__emulator/` (a path Keycloak never serves), so another
 * process (the benchmark, a demo) can mutate the org and inject faults:
 *
 * - `GET    /__emulator/state`                        counts and request totals
 * - `POST   /__emulator/users`                        add a user (OrgUser fields; `id` optional)
 * - `PATCH  /__emulator/users/{id}`                   update a user
 * - `DELETE /__emulator/users/{id}`                   remove a user
 * - `POST   /__emulator/groups`                       add a group (`name`, `description`, `parentId`)
 * - `PATCH  /__emulator/groups/{id}`                  rename / describe a group
 * - `DELETE /__emulator/groups/{id}`                  remove a group and its subgroups (as Keycloak does)
 * - `PUT    /__emulator/groups/{id}/parent`           move a group: `{ "parentId": id | null }`
 * - `PUT|DELETE /__emulator/groups/{id}/members/{userId}`  add / remove a membership
 * - `POST   /__emulator/faults`                       `{ errorRate, timeoutRate, resetRate, truncateRate }`
 * - `POST   /__emulator/latency`                      `{ "ms": 20 }`
 * - `POST   /__emulator/storm`                        `{ "count": 50, "status": 503 }`
 * - `POST   /__emulator/expire-tokens`                revoke every token issued so far
 * - `POST   /__emulator/mutate`                       `{ seed, users, memberships, groups }`: a seeded
 *                                                      plan (emulator-kit/plan.ts), applied; answers a
 *                                                      PlanReport (refused ops skipped, listed)
 * - `POST   /__emulator/admin-events`                 `{ enabled, details, expirationSec }` realm settings
 *
 * Every change goes through the realm's one mutation path (mutations.ts), which records the admin
 * events Keycloak would record for the same change.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { adminErrorAnswer, readJsonObject } from '../../emulator-kit/admin.js';
import { countMemberships, type OrgUser } from '../../emulator-kit/org.js';
import { planMutations } from '../../emulator-kit/plan.js';
import type { EmulatedRealm, EmulatorState } from './server.js';

const json = (req: IncomingMessage) => readJsonObject(req, { blankIsEmpty: true });

function reply(res: ServerResponse, status: number, body?: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function serveControl(
  state: EmulatorState,
  realm: EmulatedRealm,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const org = realm.store.org;
  const mut = realm.mutations;
  const parts = new URL(req.url ?? '/', 'http://emulator').pathname
    .split('/')
    .filter(Boolean)
    .slice(1)
    .map(decodeURIComponent);
  const m = req.method ?? 'GET';
  const [a, id, b, c] = parts;
  try {
    if (m === 'GET' && a === 'state' && id === undefined) {
      return reply(res, 200, {
        users: org.users.length,
        groups: org.groups.length,
        memberships: countMemberships(org),
        adminEvents: realm.events.size,
        requests: state.requests,
        tokenRequests: state.tokenRequests,
        peakInFlight: state.peakInFlight,
      });
    }
    if (a === 'users') {
      if (m === 'POST' && id === undefined) {
        const body = await json(req);
        const user = mut.addUser({
          id: randomUUID(),
          email: null,
          givenName: '',
          familyName: '',
          displayName: '',
          status: 'active',
          department: '',
          title: '',
          created: new Date().toISOString(),
          ...(body as Partial<OrgUser>),
        } as OrgUser);
        return reply(res, 201, user);
      }
      if (id !== undefined && b === undefined) {
        if (m === 'PATCH') return reply(res, 200, mut.updateUser(id, (await json(req)) as Partial<OrgUser>));
        if (m === 'DELETE') {
          mut.removeUser(id);
          return reply(res, 204);
        }
      }
    }
    if (a === 'groups') {
      if (m === 'POST' && id === undefined) {
        const body = await json(req);
        const group = mut.addGroup({
          id: typeof body.id === 'string' ? body.id : randomUUID(),
          name: String(body.name ?? ''),
          description: typeof body.description === 'string' ? body.description : '',
          parentId: typeof body.parentId === 'string' ? body.parentId : null,
          created: new Date().toISOString(),
        });
        return reply(res, 201, group);
      }
      if (id !== undefined && b === undefined) {
        if (m === 'PATCH') {
          const body = await json(req);
          const patch: { name?: string; description?: string } = {};
          if (typeof body.name === 'string') patch.name = body.name;
          if (typeof body.description === 'string') patch.description = body.description;
          return reply(res, 200, mut.updateGroup(id, patch));
        }
        if (m === 'DELETE') {
          mut.removeGroup(id);
          return reply(res, 204);
        }
      }
      if (id !== undefined && b === 'parent' && m === 'PUT') {
        const body = await json(req);
        mut.moveGroup(id, typeof body.parentId === 'string' ? body.parentId : null);
        return reply(res, 204);
      }
      if (id !== undefined && b === 'members' && c !== undefined) {
        if (m === 'PUT') mut.addMember(id, c);
        else if (m === 'DELETE') mut.removeMember(id, c);
        else return reply(res, 405, { error: 'method not allowed' });
        return reply(res, 204);
      }
    }
    if (m === 'POST' && id === undefined) {
      if (a === 'faults') {
        const body = await json(req);
        state.faults = body as EmulatorState['faults'];
        return reply(res, 204);
      }
      if (a === 'latency') {
        state.latencyMs = Number((await json(req)).ms ?? 0);
        return reply(res, 204);
      }
      if (a === 'storm') {
        const body = await json(req);
        state.stormRemaining = Number(body.count ?? 0);
        state.stormStatus = Number(body.status ?? 503);
        return reply(res, 204);
      }
      if (a === 'mutate') {
        const body = await json(req);
        const num = (k: string) => (typeof body[k] === 'number' ? (body[k] as number) : 0);
        const plan = planMutations(org, {
          seed: num('seed'),
          users: num('users'),
          memberships: num('memberships'),
          groups: num('groups'),
        });
        return reply(res, 200, mut.apply(plan));
      }
      if (a === 'admin-events') {
        const body = await json(req);
        const s = realm.events.settings;
        if (typeof body.enabled === 'boolean') s.enabled = body.enabled;
        if (typeof body.details === 'boolean') s.details = body.details;
        if (typeof body.expirationSec === 'number') s.expirationSec = body.expirationSec;
        if (body.expirationSec === null) delete s.expirationSec;
        realm.events.record('UPDATE', 'REALM', 'events/config', { ...s });
        return reply(res, 200, { ...s, stored: realm.events.size });
      }
      if (a === 'expire-tokens') {
        state.tokens.revokeAll();
        return reply(res, 204);
      }
    }
    return reply(res, 404, { error: `no emulator endpoint ${m} /__emulator/${parts.join('/')}` });
  } catch (e) {
    const { status, body } = adminErrorAnswer(e);
    reply(res, status, body);
  }
}
