/**
 * The emulator's admin API under `/__emulator/` (a path Google does not use), so a separate
 * process (the bench, a demo) can change the org and the fault knobs between syncs.
 *
 *   POST   /__emulator/users                      {id, login, givenName, familyName, status?, ...}
 *   PATCH  /__emulator/users/{id}                 partial OrgUser
 *   DELETE /__emulator/users/{id}
 *   POST   /__emulator/groups                     {id, name, description?, parentId?}
 *   PATCH  /__emulator/groups/{id}                {name?, description?}
 *   DELETE /__emulator/groups/{id}
 *   PUT    /__emulator/groups/{id}/parent         {parentId: string | null}   (tree move, no cycles)
 *   POST   /__emulator/groups/{id}/members        {userId}
 *   DELETE /__emulator/groups/{id}/members/{userId}
 *   POST   /__emulator/groups/{id}/subgroups      {groupId}   (extra nesting edge; cycles allowed)
 *   DELETE /__emulator/groups/{id}/subgroups/{groupId}
 *   POST   /__emulator/groups/{id}/external       {type: USER|CUSTOMER, email?, role?}
 *   POST   /__emulator/mutate                     {seed, users?, memberships?, groups?}: a seeded plan
 *                                                 (emulator-kit/plan.ts) applied through the store;
 *                                                 answers a PlanReport (refused ops skipped, listed)
 *   PUT    /__emulator/reports/lag                {ms}: the Reports API's ingestion lag
 *   PUT    /__emulator/faults                     FaultOptions
 *   PUT    /__emulator/latency                    {ms}
 *   POST   /__emulator/throttle                   {count, status?: 403|429, reason?, retryAfterSec?, path?}
 *   POST   /__emulator/fail                       {path, fault?, status?, times?, after?}
 *   POST   /__emulator/tokens/expire
 *   GET    /__emulator/stats                      {requests, activities}
 *
 * Every change goes through the store (store.ts), which writes the admin activity log.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { adminErrorAnswer, readJsonObject, type JsonObject } from '../../emulator-kit/admin.js';
import { applyPlan } from '../../emulator-kit/apply.js';
import type { FaultOptions } from '../../emulator-kit/types.js';
import { OrgMutationError } from '../../emulator-kit/mutate.js';
import type { OrgGroup, OrgUser } from '../../emulator-kit/org.js';
import { planMutations } from '../../emulator-kit/plan.js';
import type { GoogleEmulator } from './types.js';

type Obj = JsonObject;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body ?? {}));
}

function newUser(b: Obj): OrgUser {
  if (typeof b.id !== 'string' || typeof b.login !== 'string')
    throw new OrgMutationError('id and login are required', 400);
  const givenName = typeof b.givenName === 'string' ? b.givenName : 'New';
  const familyName = typeof b.familyName === 'string' ? b.familyName : 'User';
  return {
    id: b.id,
    login: b.login,
    email: b.email === null ? null : typeof b.email === 'string' ? b.email : `${b.login}@example.com`,
    givenName,
    familyName,
    displayName: typeof b.displayName === 'string' ? b.displayName : `${givenName} ${familyName}`,
    status: b.status === 'suspended' || b.status === 'deprovisioned' ? b.status : 'active',
    department: typeof b.department === 'string' ? b.department : 'Engineering',
    title: typeof b.title === 'string' ? b.title : 'Engineer',
    created: new Date().toISOString(),
  };
}

function newGroup(b: Obj): OrgGroup {
  if (typeof b.id !== 'string' || typeof b.name !== 'string')
    throw new OrgMutationError('id and name are required', 400);
  return {
    id: b.id,
    name: b.name,
    description: typeof b.description === 'string' ? b.description : '',
    parentId: typeof b.parentId === 'string' ? b.parentId : null,
    created: new Date().toISOString(),
  };
}

/** Handles one admin request; `parts` is the path after `/__emulator/`. */
export async function handleAdmin(
  emu: GoogleEmulator,
  req: IncomingMessage,
  res: ServerResponse,
  parts: string[],
): Promise<void> {
  const store = emu.store;
  const m = req.method ?? 'GET';
  const [a, id, b, sub] = parts.map(decodeURIComponent);
  try {
    const body = m === 'GET' || m === 'DELETE' ? {} : await readJsonObject(req);
    if (a === 'stats' && m === 'GET')
      return send(res, 200, { requests: emu.requestCount(), activities: store.log.size() });
    if (a === 'mutate' && m === 'POST') {
      if (typeof body.seed !== 'number') throw new OrgMutationError('seed (a number) is required', 400);
      const share = (v: unknown) => (typeof v === 'number' && v >= 0 && v <= 1 ? v : 0);
      const plan = planMutations(emu.org, {
        seed: body.seed,
        users: share(body.users),
        memberships: share(body.memberships),
        groups: typeof body.groups === 'number' ? Math.max(0, Math.floor(body.groups)) : 0,
      });
      return send(
        res,
        200,
        applyPlan(plan, (op) => store.apply(op)),
      );
    }
    if (a === 'reports' && id === 'lag' && m === 'PUT')
      return send(res, 200, emu.setReportsLag(Number(body.ms ?? 0)));
    if (a === 'users' && id === undefined && m === 'POST')
      return send(res, 201, store.addUser(newUser(body)));
    if (a === 'users' && id !== undefined && m === 'PATCH')
      return send(res, 200, store.updateUser(id, body as Partial<OrgUser>));
    if (a === 'users' && id !== undefined && m === 'DELETE') {
      store.removeUser(id);
      return send(res, 200, {});
    }
    if (a === 'groups' && id === undefined && m === 'POST')
      return send(res, 201, store.addGroup(newGroup(body)));
    if (a === 'groups' && id !== undefined && b === undefined) {
      if (m === 'PATCH') return send(res, 200, store.updateGroup(id, body as Partial<OrgGroup>));
      if (m === 'DELETE') {
        store.removeGroup(id);
        return send(res, 200, {});
      }
    }
    if (a === 'groups' && id !== undefined && b === 'parent' && m === 'PUT') {
      store.moveGroup(id, typeof body.parentId === 'string' ? body.parentId : null);
      return send(res, 200, {});
    }
    if (a === 'groups' && id !== undefined && b === 'members') {
      if (m === 'POST' && typeof body.userId === 'string') {
        store.addMember(id, body.userId);
        return send(res, 201, {});
      }
      if (m === 'DELETE' && sub !== undefined) {
        store.removeMember(id, sub);
        return send(res, 200, {});
      }
    }
    if (a === 'groups' && id !== undefined && b === 'subgroups') {
      if (m === 'POST' && typeof body.groupId === 'string')
        return send(res, 201, emu.addSubgroup(id, body.groupId));
      if (m === 'DELETE' && sub !== undefined) return send(res, 200, emu.removeSubgroup(id, sub));
    }
    if (a === 'groups' && id !== undefined && b === 'external' && m === 'POST') {
      const type = body.type === 'CUSTOMER' ? 'CUSTOMER' : 'USER';
      return send(
        res,
        201,
        emu.addExternalMember(id, { type, ...(typeof body.email === 'string' ? { email: body.email } : {}) }),
      );
    }
    if (a === 'faults' && m === 'PUT') return send(res, 200, emu.setFaults(body as FaultOptions));
    if (a === 'latency' && m === 'PUT') return send(res, 200, emu.setLatency(Number(body.ms ?? 0)));
    if (a === 'throttle' && m === 'POST') {
      return send(
        res,
        200,
        emu.throttle({
          count: Number(body.count ?? 1),
          status: body.status === 429 ? 429 : 403,
          ...(typeof body.reason === 'string' ? { reason: body.reason } : {}),
          ...(typeof body.retryAfterSec === 'number' ? { retryAfterSec: body.retryAfterSec } : {}),
          ...(typeof body.path === 'string' ? { path: new RegExp(body.path) } : {}),
        }),
      );
    }
    if (a === 'fail' && m === 'POST' && typeof body.path === 'string') {
      return send(
        res,
        200,
        emu.failRequests({
          path: new RegExp(body.path),
          fault:
            body.fault === 'truncate' || body.fault === 'reset' || body.fault === 'timeout'
              ? body.fault
              : 'error',
          ...(typeof body.status === 'number' ? { status: body.status } : {}),
          ...(typeof body.times === 'number' ? { times: body.times } : {}),
          ...(typeof body.after === 'number' ? { after: body.after } : {}),
        }),
      );
    }
    if (a === 'tokens' && id === 'expire' && m === 'POST') return send(res, 200, emu.expireTokens());
    send(res, 404, { error: `no admin route ${m} /__emulator/${parts.join('/')}` });
  } catch (e) {
    const { status, body } = adminErrorAnswer(e);
    send(res, status, body);
  }
}
