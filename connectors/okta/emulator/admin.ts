/**
 * The emulator's admin API under `/__emulator/` (a path Okta does not use), so a separate process
 * (the benchmark, the CLI demo) can change the org and the emulator's behaviour between syncs.
 * Every org change goes through {@link OktaStore.apply}, so the System Log and the timestamps
 * record it as Okta would. This module depends on the store, not on the server that mounts it.
 *
 *   POST   /__emulator/mutate                    {seed, users?, memberships?, groups?}
 *                                                 a seeded plan (emulator-kit/plan.ts), applied;
 *                                                 answers a PlanReport (refused ops skipped, listed)
 *   POST   /__emulator/users                     {id, login, ...OrgUser}   add a user
 *   PATCH  /__emulator/users/:id                 {login?, status?, ...}    update a user
 *   DELETE /__emulator/users/:id                                           remove a user
 *   POST   /__emulator/groups                    {id, name, description?}  add a group
 *   PATCH  /__emulator/groups/:id                {name?, description?}     rename a group
 *   DELETE /__emulator/groups/:id                                          remove a group
 *   PUT    /__emulator/groups/:id/members/:uid                             add a membership
 *   DELETE /__emulator/groups/:id/members/:uid                             remove a membership
 *   PUT    /__emulator/groups/:id/parent         {parentId}                move (kept in the model; Okta renders no nesting)
 *   PUT    /__emulator/log-delay                 {ms}                      System Log ingestion delay
 *   PUT    /__emulator/faults                    FaultOptions              random faults
 *   PUT    /__emulator/fault-rule                FaultRule | null          deterministic faults
 *   PUT    /__emulator/latency                   {ms}
 *   POST   /__emulator/throttle                  {count}                   the next N API calls answer 429
 *   POST   /__emulator/expire-tokens                                       revoke every access token
 *   GET    /__emulator/stats                                               request counters
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { adminErrorAnswer, readJsonObject } from '../../emulator-kit/admin.js';
import { applyPlan } from '../../emulator-kit/apply.js';
import type { Fault } from '../../emulator-kit/faults.js';
import type { FaultOptions } from '../../emulator-kit/types.js';
import type { OrgUser } from '../../emulator-kit/org.js';
import { planMutations } from '../../emulator-kit/plan.js';
import { sendJson } from './http.js';
import type { OktaStore } from './store.js';

/** A deterministic fault: every matching API request fails this way, `times` times (default: for ever). */
export interface FaultRule {
  /** Request path prefix, e.g. `/api/v1/users`. */
  pathPrefix?: string;
  /** Only requests that carry an `after` cursor (i.e. not the first page). */
  withCursor?: boolean;
  fault: Fault;
  times?: number;
}

/** What the admin API drives: the store and the server's knobs (the server implements this). */
export interface EmulatorControls {
  store: OktaStore;
  setFaults(f: FaultOptions | undefined): void;
  setFaultRule(r: FaultRule | null): void;
  setLatency(ms: number): void;
  /** The next `count` API requests answer 429 E0000047 (reset at the end of the second); 0 ends a storm. */
  throttle(count: number): void;
  /** Revokes every access token issued so far. */
  expireTokens(): void;
  stats(): unknown;
}

export async function handleAdmin(
  emu: EmulatorControls,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const parts = path.split('/').filter(Boolean).slice(1).map(decodeURIComponent);
  const method = req.method ?? 'GET';
  const store = emu.store;
  try {
    const body =
      method === 'GET' || method === 'DELETE' ? {} : await readJsonObject(req, { blankIsEmpty: true });
    const [a, id, sub, uid] = parts;
    if (a === 'stats' && method === 'GET') return sendJson(res, 200, emu.stats());
    if (a === 'mutate' && method === 'POST') {
      const num = (k: string) => (body[k] === undefined ? undefined : Number(body[k]));
      const plan = planMutations(store.org, {
        seed: num('seed') ?? 1,
        users: num('users'),
        memberships: num('memberships'),
        groups: num('groups'),
      });
      return sendJson(
        res,
        200,
        applyPlan(plan, (m) => store.apply(m)),
      );
    }
    if (a === 'users' && method === 'POST' && !id) {
      const u = body as Partial<OrgUser> & { id: string; login: string };
      const user = store.apply({
        op: 'addUser',
        user: {
          email: null,
          givenName: u.login,
          familyName: 'User',
          displayName: u.login,
          status: 'active',
          department: 'Engineering',
          title: 'Engineer',
          created: '',
          ...u,
        },
      });
      return sendJson(res, 201, user);
    }
    if (a === 'users' && id && method === 'PATCH')
      return sendJson(res, 200, store.apply({ op: 'updateUser', id, patch: body }));
    if (a === 'users' && id && method === 'DELETE') {
      store.apply({ op: 'removeUser', id });
      return sendJson(res, 204, {});
    }
    if (a === 'groups' && !id && method === 'POST') {
      const g = store.apply({
        op: 'addGroup',
        group: { description: '', parentId: null, created: '', ...(body as { id: string; name: string }) },
      });
      return sendJson(res, 201, g);
    }
    if (a === 'groups' && id && !sub && method === 'PATCH')
      return sendJson(res, 200, store.apply({ op: 'updateGroup', id, patch: body }));
    if (a === 'groups' && id && !sub && method === 'DELETE') {
      store.apply({ op: 'removeGroup', id });
      return sendJson(res, 204, {});
    }
    if (a === 'groups' && id && sub === 'members' && uid) {
      if (method === 'PUT') store.apply({ op: 'addMember', groupId: id, userId: uid });
      else if (method === 'DELETE') store.apply({ op: 'removeMember', groupId: id, userId: uid });
      else return sendJson(res, 405, { error: 'method' });
      return sendJson(res, 204, {});
    }
    if (a === 'groups' && id && sub === 'parent' && method === 'PUT') {
      store.apply({ op: 'setParent', id, parentId: (body.parentId as string | null) ?? null });
      return sendJson(res, 204, {});
    }
    if (a === 'log-delay' && method === 'PUT') {
      store.logDelayMs = Number(body.ms ?? 0);
      return sendJson(res, 204, {});
    }
    if (a === 'faults' && method === 'PUT') {
      emu.setFaults(body);
      return sendJson(res, 204, {});
    }
    if (a === 'fault-rule' && method === 'PUT') {
      emu.setFaultRule(Object.keys(body).length > 0 ? (body as unknown as FaultRule) : null);
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
    const { status, body } = adminErrorAnswer(e);
    return sendJson(res, status, body);
  }
}
