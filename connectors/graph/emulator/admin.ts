/**
 * The emulator's own admin API under `/__emulator/` (a path Graph never uses), so another process
 * (the bench, a demo) can change the tenant and the failure modes between syncs. Objects may be
 * named by org id or Graph id. Unlike `moveGroup`, adding a group to a group does not check for
 * cycles: Entra ID does not either.
 */
import type { IncomingMessage } from 'node:http';
import {
  addGroup,
  addMember,
  addUser,
  moveGroup,
  OrgMutationError,
  removeGroup,
  removeMember,
  removeUser,
  updateGroup,
  updateUser,
} from '../../emulator-kit/mutate.js';
import type { OrgGroup, OrgUser } from '../../emulator-kit/org.js';
import { planMutations, type Mutation } from '../../emulator-kit/plan.js';
import type { FaultOptions } from '../../emulator-kit/types.js';
import { readBody } from './http.js';
import type { GraphStore, GraphTruth } from './store.js';
import type { ThrottleOptions } from './throttle.js';

export type RuleFault = 'error' | 'truncate' | 'reset' | 'timeout' | 'unauthorized';

/** A targeted fault: requests whose path+query match `match` fail `times` times (default: always). */
export interface FaultRule {
  match: RegExp;
  fault: RuleFault;
  /** Status for `error` faults (default 500). */
  status?: number;
  times?: number;
}

export interface EmulatorControl {
  store: GraphStore;
  setFaults(f: FaultOptions | undefined): void;
  setLatency(ms: number): void;
  throttle(o: Partial<ThrottleOptions>): void;
  throttleNext(n: number, retryAfterSec?: number): void;
  addFaultRule(rule: FaultRule): void;
  clearFaultRules(): void;
  expireTokens(): void;
  /** Expires every delta token issued so far: the next call with one answers 410. */
  expireDeltaTokens(): void;
  truth(): GraphTruth;
  counters(): Record<string, number>;
}

export interface AdminResult {
  status: number;
  body: unknown;
}

function orgIdOf(kind: 'user' | 'group', store: GraphStore, id: string): string {
  const o = kind === 'user' ? store.anyUser(id) : store.groupById(id);
  if (!o) throw new OrgMutationError(`no ${kind} ${id}`, 404);
  return o.id;
}

export async function handleAdmin(
  method: string,
  path: string,
  req: IncomingMessage,
  ctl: EmulatorControl,
): Promise<AdminResult> {
  const seg = path
    .split('/')
    .filter((s) => s !== '')
    .slice(1)
    .map(decodeURIComponent);
  const text = method === 'GET' || method === 'DELETE' ? '' : await readBody(req);
  const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  const { store } = ctl;
  const org = store.org;
  const route = `${method} ${seg.map((s, i) => (i % 2 === 1 ? ':id' : s)).join('/')}`;
  switch (route) {
    case 'GET truth': {
      const t = ctl.truth();
      return {
        status: 200,
        body: {
          users: [...t.users].map(([id, u]) => ({ id, ...u })),
          groups: [...t.groups].map(([id, g]) => ({ id, ...g })),
          edges: [...t.edges],
        },
      };
    }
    case 'GET stats':
      return { status: 200, body: ctl.counters() };
    case 'POST users': {
      const n = org.users.length;
      const login = String(body.login ?? `new.user${n}`);
      const user: OrgUser = {
        id: String(body.id ?? `u-new-${n}-${Date.now().toString(36)}`),
        login,
        email: body.email === undefined ? `${login}@${org.domain}` : (body.email as string | null),
        givenName: String(body.givenName ?? 'New'),
        familyName: String(body.familyName ?? 'User'),
        displayName: String(
          body.displayName ?? `${String(body.givenName ?? 'New')} ${String(body.familyName ?? 'User')}`,
        ),
        status: (body.status as OrgUser['status']) ?? 'active',
        department: String(body.department ?? 'Engineering'),
        title: String(body.title ?? 'Engineer'),
        created: new Date().toISOString(),
      };
      return { status: 201, body: addUser(org, user) };
    }
    case 'PATCH users/:id':
      return { status: 200, body: updateUser(org, orgIdOf('user', store, seg[1] as string), body) };
    case 'DELETE users/:id':
      removeUser(org, orgIdOf('user', store, seg[1] as string));
      return { status: 204, body: undefined };
    case 'POST groups': {
      const group: OrgGroup = {
        id: String(body.id ?? `g-new-${org.groups.length}-${Date.now().toString(36)}`),
        name: String(body.name ?? 'new-group'),
        description: String(body.description ?? ''),
        parentId: body.parentId ? orgIdOf('group', store, String(body.parentId)) : null,
        created: new Date().toISOString(),
      };
      return { status: 201, body: addGroup(org, group) };
    }
    case 'PATCH groups/:id':
      return { status: 200, body: updateGroup(org, orgIdOf('group', store, seg[1] as string), body) };
    case 'DELETE groups/:id':
      removeGroup(org, orgIdOf('group', store, seg[1] as string));
      return { status: 204, body: undefined };
    case 'POST groups/:id/move':
      moveGroup(
        org,
        orgIdOf('group', store, seg[1] as string),
        body.parentId ? orgIdOf('group', store, String(body.parentId)) : null,
      );
      return { status: 204, body: undefined };
    case 'POST groups/:id/members': {
      const gid = orgIdOf('group', store, seg[1] as string);
      if (typeof body.userId === 'string') addMember(org, gid, orgIdOf('user', store, body.userId));
      else if (typeof body.groupId === 'string') store.nest(gid, orgIdOf('group', store, body.groupId));
      else throw new OrgMutationError('give userId or groupId', 400);
      return { status: 204, body: undefined };
    }
    case 'DELETE groups/:id/members/:id': {
      const gid = orgIdOf('group', store, seg[1] as string);
      const mid = seg[3] as string;
      const user = store.anyUser(mid);
      if (user) removeMember(org, gid, user.id);
      else store.unnest(gid, orgIdOf('group', store, mid));
      return { status: 204, body: undefined };
    }
    case 'POST faults':
      ctl.setFaults(body as FaultOptions);
      return { status: 204, body: undefined };
    case 'POST latency':
      ctl.setLatency(Number(body.ms ?? 0));
      return { status: 204, body: undefined };
    case 'POST throttle':
      if (body.force !== undefined) ctl.throttleNext(Number(body.force), Number(body.retryAfter ?? 1));
      else ctl.throttle(body as Partial<ThrottleOptions>);
      return { status: 204, body: undefined };
    case 'POST rules':
      ctl.addFaultRule({
        match: new RegExp(String(body.match)),
        fault: body.fault as RuleFault,
        status: body.status === undefined ? undefined : Number(body.status),
        times: body.times === undefined ? undefined : Number(body.times),
      });
      return { status: 204, body: undefined };
    case 'DELETE rules':
      ctl.clearFaultRules();
      return { status: 204, body: undefined };
    case 'POST mutate': {
      // A seeded plan (emulator-kit/plan.ts) applied through the same mutation functions as every
      // other admin route, so the delta service sees it like any change.
      const plan = planMutations(org, {
        seed: Number(body.seed ?? 1),
        users: Number(body.users ?? 0),
        memberships: Number(body.memberships ?? 0),
        groups: Number(body.groups ?? 0),
      });
      return { status: 200, body: applyPlan(store, plan) };
    }
    case 'POST expire-delta-tokens':
      ctl.expireDeltaTokens();
      return { status: 204, body: undefined };
    case 'POST expire-tokens':
      ctl.expireTokens();
      return { status: 204, body: undefined };
    default:
      return { status: 404, body: { error: `no admin route ${method} ${path}` } };
  }
}

/** Applies a plan in order; an operation the org refuses is counted and skipped, not fatal. */
export function applyPlan(
  store: GraphStore,
  plan: Mutation[],
): { applied: number; ops: Record<string, number>; skipped: string[] } {
  const org = store.org;
  let applied = 0;
  const ops: Record<string, number> = {};
  const skipped: string[] = [];
  // Indexed lookups kept up to date while the plan applies: mutate.ts finds objects by scanning,
  // which a 1% plan at 100k users (20,000 membership moves) turns into minutes. Same checks.
  const users = new Map(org.users.map((u) => [u.id, u]));
  const groups = new Map(org.groups.map((g) => [g.id, g]));
  const userOf = (id: string) => {
    const u = users.get(id);
    if (!u) throw new OrgMutationError(`no user ${id}`, 404);
    return u;
  };
  const groupOf = (id: string) => {
    const g = groups.get(id);
    if (!g) throw new OrgMutationError(`no group ${id}`, 404);
    return g;
  };
  for (const m of plan) {
    try {
      switch (m.op) {
        case 'addUser':
          users.set(m.user.id, addUser(org, { ...m.user }));
          break;
        case 'updateUser':
          Object.assign(userOf(m.id), m.patch);
          break;
        case 'removeUser':
          removeUser(org, m.id);
          users.delete(m.id);
          break;
        case 'addGroup':
          groups.set(m.group.id, addGroup(org, { ...m.group }));
          break;
        case 'updateGroup':
          updateGroup(org, m.id, m.patch);
          break;
        case 'removeGroup':
          removeGroup(org, m.id);
          groups.delete(m.id);
          break;
        case 'setParent':
          moveGroup(org, m.id, m.parentId);
          break;
        case 'addMember':
          userOf(m.userId);
          org.members.get(groupOf(m.groupId).id)?.add(m.userId);
          break;
        case 'removeMember':
          org.members.get(groupOf(m.groupId).id)?.delete(m.userId);
          break;
      }
      applied++;
      ops[m.op] = (ops[m.op] ?? 0) + 1;
    } catch (e) {
      if (!(e instanceof OrgMutationError)) throw e;
      skipped.push(`${m.op}: ${e.message}`);
    }
  }
  return { applied, ops, skipped };
}
