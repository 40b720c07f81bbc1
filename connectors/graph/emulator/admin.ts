/**
 * The emulator's own admin API under `/__emulator/` (a path Graph never uses), so another process
 * (the bench, a demo) can change the tenant and the failure modes between syncs. Objects may be
 * named by org id or Graph id. Unlike `moveGroup`, adding a group to a group does not check for
 * cycles: Entra ID does not either.
 */
import type { IncomingMessage } from 'node:http';
import { applyPlan } from '../../emulator-kit/apply.js';
import { OrgMutationError } from '../../emulator-kit/mutate.js';
import type { OrgGroup, OrgUser } from '../../emulator-kit/org.js';
import { planMutations } from '../../emulator-kit/plan.js';
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
      return { status: 201, body: store.apply({ op: 'addUser', user }) };
    }
    case 'PATCH users/:id':
      return {
        status: 200,
        body: store.apply({ op: 'updateUser', id: orgIdOf('user', store, seg[1] as string), patch: body }),
      };
    case 'DELETE users/:id':
      store.apply({ op: 'removeUser', id: orgIdOf('user', store, seg[1] as string) });
      return { status: 204, body: undefined };
    case 'POST groups': {
      const group: OrgGroup = {
        id: String(body.id ?? `g-new-${org.groups.length}-${Date.now().toString(36)}`),
        name: String(body.name ?? 'new-group'),
        description: String(body.description ?? ''),
        parentId: body.parentId ? orgIdOf('group', store, String(body.parentId)) : null,
        created: new Date().toISOString(),
      };
      return { status: 201, body: store.apply({ op: 'addGroup', group }) };
    }
    case 'PATCH groups/:id':
      return {
        status: 200,
        body: store.apply({ op: 'updateGroup', id: orgIdOf('group', store, seg[1] as string), patch: body }),
      };
    case 'DELETE groups/:id':
      store.apply({ op: 'removeGroup', id: orgIdOf('group', store, seg[1] as string) });
      return { status: 204, body: undefined };
    case 'POST groups/:id/move':
      store.apply({
        op: 'setParent',
        id: orgIdOf('group', store, seg[1] as string),
        parentId: body.parentId ? orgIdOf('group', store, String(body.parentId)) : null,
      });
      return { status: 204, body: undefined };
    case 'POST groups/:id/members': {
      const groupId = orgIdOf('group', store, seg[1] as string);
      if (typeof body.userId === 'string') {
        store.apply({ op: 'addMember', groupId, userId: orgIdOf('user', store, body.userId) });
      } else if (typeof body.groupId === 'string') {
        store.apply({ op: 'nest', parentId: groupId, childId: orgIdOf('group', store, body.groupId) });
      } else throw new OrgMutationError('give userId or groupId', 400);
      return { status: 204, body: undefined };
    }
    case 'DELETE groups/:id/members/:id': {
      const groupId = orgIdOf('group', store, seg[1] as string);
      const mid = seg[3] as string;
      const user = store.anyUser(mid);
      if (user) store.apply({ op: 'removeMember', groupId, userId: user.id });
      else store.apply({ op: 'unnest', parentId: groupId, childId: orgIdOf('group', store, mid) });
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
      // A seeded plan (emulator-kit/plan.ts) applied through the store like every other admin
      // route, so the change log (and the delta service) records it like any change; a refused
      // operation is skipped and reported (emulator-kit/apply.ts).
      const plan = planMutations(org, {
        seed: Number(body.seed ?? 1),
        users: Number(body.users ?? 0),
        memberships: Number(body.memberships ?? 0),
        groups: Number(body.groups ?? 0),
      });
      return { status: 200, body: applyPlan(plan, (m) => store.apply(m)) };
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
