/**
 * The emulator's admin API under `/__emulator/` (a path Okta does not use), so a separate process
 * (the benchmark, the CLI demo) can change the org and the emulator's behaviour between syncs.
 *
 *   POST   /__emulator/users                     {id, login, ...OrgUser}   add a user
 *   PATCH  /__emulator/users/:id                 {login?, status?, ...}    update a user
 *   DELETE /__emulator/users/:id                                           remove a user
 *   POST   /__emulator/groups                    {id, name, description?}  add a group
 *   PATCH  /__emulator/groups/:id                {name?, description?}     rename a group
 *   DELETE /__emulator/groups/:id                                          remove a group
 *   PUT    /__emulator/groups/:id/members/:uid                             add a membership
 *   DELETE /__emulator/groups/:id/members/:uid                             remove a membership
 *   PUT    /__emulator/groups/:id/parent         {parentId}                move (kept in the model; Okta renders no nesting)
 *   PUT    /__emulator/faults                    FaultOptions              random faults
 *   PUT    /__emulator/fault-rule                FaultRule | null          deterministic faults
 *   PUT    /__emulator/latency                   {ms}
 *   POST   /__emulator/throttle                  {count}                   the next N API calls answer 429
 *   POST   /__emulator/expire-tokens                                       revoke every access token
 *   GET    /__emulator/stats                                               request counters
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as mutate from '../../emulator-kit/mutate.js';
import type { OrgUser } from '../../emulator-kit/org.js';
import { readBody, sendJson } from './http.js';
import type { OktaEmulator } from './index.js';

export async function handleAdmin(
  emu: OktaEmulator,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const parts = path.split('/').filter(Boolean).slice(1).map(decodeURIComponent);
  const method = req.method ?? 'GET';
  const raw = method === 'GET' || method === 'DELETE' ? '' : await readBody(req);
  let body: Record<string, unknown> = {};
  try {
    body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
  } catch {
    return sendJson(res, 400, { error: 'body is not JSON' });
  }
  const org = emu.org;
  const now = new Date().toISOString();
  const touch = (id: string) => emu.stamps.lastUpdated.set(id, now);
  const touchMembers = (id: string) => emu.stamps.lastMembershipUpdated.set(id, now);
  try {
    const [a, id, sub, uid] = parts;
    if (a === 'stats' && method === 'GET') return sendJson(res, 200, emu.stats());
    if (a === 'users' && method === 'POST' && !id) {
      const u = body as Partial<OrgUser> & { id: string; login: string };
      const user = mutate.addUser(org, {
        email: null,
        givenName: u.login,
        familyName: 'User',
        displayName: u.login,
        status: 'active',
        department: 'Engineering',
        title: 'Engineer',
        created: now,
        ...u,
      });
      touch(user.id);
      return sendJson(res, 201, user);
    }
    if (a === 'users' && id && method === 'PATCH') {
      const u = mutate.updateUser(org, id, body);
      touch(id);
      return sendJson(res, 200, u);
    }
    if (a === 'users' && id && method === 'DELETE') {
      mutate.removeUser(org, id);
      return sendJson(res, 204, {});
    }
    if (a === 'groups' && !id && method === 'POST') {
      const g = mutate.addGroup(org, {
        description: '',
        parentId: null,
        created: now,
        ...(body as { id: string; name: string }),
      });
      return sendJson(res, 201, g);
    }
    if (a === 'groups' && id && !sub && method === 'PATCH') {
      const g = mutate.updateGroup(org, id, body);
      touch(id);
      return sendJson(res, 200, g);
    }
    if (a === 'groups' && id && !sub && method === 'DELETE') {
      mutate.removeGroup(org, id);
      return sendJson(res, 204, {});
    }
    if (a === 'groups' && id && sub === 'members' && uid) {
      if (method === 'PUT') mutate.addMember(org, id, uid);
      else if (method === 'DELETE') mutate.removeMember(org, id, uid);
      else return sendJson(res, 405, { error: 'method' });
      touchMembers(id);
      return sendJson(res, 204, {});
    }
    if (a === 'groups' && id && sub === 'parent' && method === 'PUT') {
      mutate.moveGroup(org, id, (body.parentId as string | null) ?? null);
      return sendJson(res, 204, {});
    }
    if (a === 'faults' && method === 'PUT') {
      emu.setFaults(body);
      return sendJson(res, 204, {});
    }
    if (a === 'fault-rule' && method === 'PUT') {
      emu.setFaultRule(raw && raw !== 'null' ? (body as never) : null);
      return sendJson(res, 204, {});
    }
    if (a === 'latency' && method === 'PUT') {
      emu.setLatency(Number(body.ms ?? 0));
      return sendJson(res, 204, {});
    }
    if (a === 'throttle' && method === 'POST') {
      emu.throttle(Number(body.count ?? 1));
      return sendJson(res, 204, {});
    }
    if (a === 'expire-tokens' && method === 'POST') {
      emu.expireTokens();
      return sendJson(res, 204, {});
    }
    return sendJson(res, 404, { error: `no admin route ${method} ${path}` });
  } catch (e) {
    if (e instanceof mutate.OrgMutationError) return sendJson(res, e.status, { error: e.message });
    throw e;
  }
}
