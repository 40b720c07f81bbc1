/**
 * The emulated org's state: the IdP-neutral org model, Okta's per-object timestamps, and the System
 * Log. Every change goes through {@link OktaStore.apply}, which changes the org, moves
 * `lastUpdated` / `lastMembershipUpdated` and appends the System Log events Okta records for it, so
 * the list endpoints, the `lastUpdated` searches and `/api/v1/logs` always agree. The admin API and
 * the HTTP server both depend on this module; it depends on neither.
 */
import { randomUUID } from 'node:crypto';
import * as mutate from '../../emulator-kit/mutate.js';
import type { Org, OrgGroup, OrgUser } from '../../emulator-kit/org.js';
import type { Mutation } from '../../emulator-kit/plan.js';
import { OrgIndex } from './api.js';
import { oktaLogin, type Stamps } from './render.js';

/** A System Log target (https://developer.okta.com/docs/reference/api/system-log/#target-object). */
export interface LogTarget {
  id: string;
  type: 'User' | 'UserGroup';
  alternateId: string;
  displayName: string;
}

/** One stored System Log event: the LogEvent Okta serves plus when it became readable. */
export interface StoredEvent {
  /** Position in persistence order (the `after` cursor of `/api/v1/logs`). */
  seq: number;
  /** When the event became visible to the API (Okta ingests events with a delay). */
  persistedAt: number;
  event: LogEvent;
}

export interface LogEvent {
  uuid: string;
  published: string;
  eventType: string;
  version: string;
  severity: 'INFO';
  legacyEventType: string;
  displayMessage: string;
  actor: { id: string; type: string; alternateId: string; displayName: string };
  client: {
    userAgent: { rawUserAgent: string; os: string; browser: string };
    zone: string;
    device: string;
    ipAddress: string;
  };
  outcome: { result: 'SUCCESS' };
  transaction: { type: 'WEB'; id: string; detail: Record<string, never> };
  debugContext: { debugData: Record<string, string> };
  request: { ipChain: { ip: string; version: string }[] };
  target: LogTarget[];
}

const ACTOR = {
  id: '0oaDirsyncEmulator01',
  type: 'PublicClientApp',
  alternateId: '0oaDirsyncEmulator01',
  displayName: 'Dirsync emulator admin',
};

/** Event types as Okta logs them (https://developer.okta.com/docs/reference/api/event-types/). */
const MESSAGES: Record<string, [legacy: string, message: string]> = {
  'user.lifecycle.create': ['core.user.config.user_creation.success', 'Create Okta user'],
  'user.lifecycle.activate': ['core.user.config.user_activated', 'Activate Okta user'],
  'user.lifecycle.deactivate': ['core.user.config.user_deactivated', 'Deactivate Okta user'],
  'user.lifecycle.suspend': ['core.user.config.user_status.suspended', 'Suspend Okta user'],
  'user.lifecycle.unsuspend': ['core.user.config.user_status.unsuspended', 'Unsuspend Okta user'],
  'user.lifecycle.delete.initiated': ['core.user.config.user_deletion.initiated', 'Delete Okta user'],
  'user.lifecycle.delete.completed': [
    'core.user.config.user_deletion.completed',
    'Delete Okta user completed',
  ],
  'user.account.update_profile': ['core.user.config.profile_update.success', 'Update user profile for Okta'],
  'group.lifecycle.create': ['core.user_group.created', 'Create Okta group'],
  'group.lifecycle.delete': ['core.user_group.deleted', 'Delete Okta group'],
  'group.profile.update': ['core.user_group.profile_updated', 'Update group profile'],
  'group.user_membership.add': ['core.user_group_member.user_add', 'Add user to group membership'],
  'group.user_membership.remove': ['core.user_group_member.user_remove', 'Remove user from group membership'],
};

export interface StoreOptions {
  /** Delay between an event and its visibility in `/api/v1/logs` (Okta ingests asynchronously). */
  logDelayMs?: number;
  /** System Log retention (Okta: 90 days). */
  retentionDays?: number;
}

export class OktaStore {
  readonly stamps: Stamps = {
    lastUpdated: new Map(),
    lastMembershipUpdated: new Map(),
    statusChanged: new Map(),
    overrides: new Map(),
  };
  readonly index: OrgIndex;
  readonly log: StoredEvent[] = [];
  logDelayMs: number;
  readonly retentionDays: number;
  /** Clock of every stamp and event; tests may shift it. */
  now: () => number = () => Date.now();
  /** Lookups by id, kept in step with the org (the kit's finders scan arrays: too slow at 100k). */
  private readonly usersById: Map<string, OrgUser>;
  private readonly groupsById: Map<string, OrgGroup>;

  constructor(
    readonly org: Org,
    opts: StoreOptions = {},
  ) {
    this.index = new OrgIndex(org);
    this.usersById = new Map(org.users.map((u) => [u.id, u]));
    this.groupsById = new Map(org.groups.map((g) => [g.id, g]));
    this.logDelayMs = opts.logDelayMs ?? 0;
    this.retentionDays = opts.retentionDays ?? 90;
  }

  private userTarget(u: OrgUser): LogTarget {
    return {
      id: u.id,
      type: 'User',
      alternateId: oktaLogin(this.org, u),
      displayName: u.displayName,
    };
  }

  private groupTarget(g: Pick<OrgGroup, 'id' | 'name'>): LogTarget {
    return { id: g.id, type: 'UserGroup', alternateId: 'unknown', displayName: g.name };
  }

  private record(eventType: string, target: LogTarget[], at: number, transaction: string): void {
    const [legacy, message] = MESSAGES[eventType] ?? [eventType, eventType];
    this.log.push({
      seq: this.log.length + 1,
      persistedAt: at + this.logDelayMs,
      event: {
        uuid: randomUUID(),
        published: new Date(at).toISOString(),
        eventType,
        version: '0',
        severity: 'INFO',
        legacyEventType: legacy,
        displayMessage: message,
        actor: ACTOR,
        client: {
          userAgent: { rawUserAgent: 'dirsync-emulator', os: 'Unknown', browser: 'UNKNOWN' },
          zone: 'null',
          device: 'Unknown',
          ipAddress: '127.0.0.1',
        },
        outcome: { result: 'SUCCESS' },
        transaction: { type: 'WEB', id: transaction, detail: {} },
        debugContext: { debugData: { requestUri: '/api/v1', requestId: transaction } },
        request: { ipChain: [{ ip: '127.0.0.1', version: 'V4' }] },
        target,
      },
    });
  }

  private user(id: string): OrgUser {
    const u = this.usersById.get(id);
    if (!u) throw new mutate.OrgMutationError(`no user ${id}`, 404);
    return u;
  }

  private group(id: string): OrgGroup {
    const g = this.groupsById.get(id);
    if (!g) throw new mutate.OrgMutationError(`no group ${id}`, 404);
    return g;
  }

  /**
   * Applies one change as an Okta admin would make it: the org changes, the timestamps move, the
   * System Log records the events. Returns the changed object, if any.
   */
  apply(m: Mutation): OrgUser | OrgGroup | null {
    const at = this.now();
    const iso = new Date(at).toISOString();
    const tx = randomUUID().replace(/-/g, '').slice(0, 22);
    switch (m.op) {
      case 'addUser': {
        const u = mutate.addUser(this.org, { ...m.user, created: iso });
        this.usersById.set(u.id, u);
        this.stamps.lastUpdated.set(u.id, iso);
        this.record('user.lifecycle.create', [this.userTarget(u)], at, tx);
        return u;
      }
      case 'updateUser': {
        const before = { ...this.user(m.id) };
        const u = mutate.updateUser(this.org, m.id, m.patch);
        this.stamps.lastUpdated.set(u.id, iso);
        if (m.patch.status !== undefined && m.patch.status !== before.status) {
          this.stamps.statusChanged?.set(u.id, iso);
          const type =
            m.patch.status === 'suspended'
              ? 'user.lifecycle.suspend'
              : m.patch.status === 'deprovisioned'
                ? 'user.lifecycle.deactivate'
                : before.status === 'suspended'
                  ? 'user.lifecycle.unsuspend'
                  : 'user.lifecycle.activate';
          this.record(type, [this.userTarget(u)], at, tx);
        }
        const { status: _s, ...profile } = m.patch;
        if (Object.keys(profile).length > 0)
          this.record('user.account.update_profile', [this.userTarget(u)], at, tx);
        return u;
      }
      case 'removeUser': {
        // Okta deletes only deactivated users: an admin deactivates, then deletes. Group
        // memberships go with the user; Okta logs no membership events for them.
        const u = this.user(m.id);
        if (u.status !== 'deprovisioned')
          this.record('user.lifecycle.deactivate', [this.userTarget(u)], at, tx);
        this.record('user.lifecycle.delete.initiated', [this.userTarget(u)], at, tx);
        mutate.removeUser(this.org, m.id);
        this.usersById.delete(m.id);
        this.stamps.lastUpdated.delete(m.id);
        this.record('user.lifecycle.delete.completed', [this.userTarget(u)], at, tx);
        return null;
      }
      case 'addGroup': {
        const g = mutate.addGroup(this.org, { ...m.group, created: iso });
        this.groupsById.set(g.id, g);
        this.stamps.lastUpdated.set(g.id, iso);
        this.stamps.lastMembershipUpdated.set(g.id, iso);
        this.record('group.lifecycle.create', [this.groupTarget(g)], at, tx);
        return g;
      }
      case 'updateGroup': {
        const g = mutate.updateGroup(this.org, m.id, m.patch);
        this.stamps.lastUpdated.set(g.id, iso);
        this.record('group.profile.update', [this.groupTarget(g)], at, tx);
        return g;
      }
      case 'removeGroup': {
        const g = this.group(m.id);
        mutate.removeGroup(this.org, m.id);
        this.groupsById.delete(m.id);
        this.stamps.lastUpdated.delete(m.id);
        this.stamps.lastMembershipUpdated.delete(m.id);
        this.record('group.lifecycle.delete', [this.groupTarget(g)], at, tx);
        return null;
      }
      case 'setParent':
        // Okta has no nested groups: the model keeps the move, Okta shows and logs nothing.
        mutate.moveGroup(this.org, m.id, m.parentId);
        return null;
      case 'addMember':
      case 'removeMember': {
        const g = this.group(m.groupId);
        const u = this.user(m.userId);
        const members = this.org.members.get(g.id) ?? new Set<string>();
        this.org.members.set(g.id, members);
        const had = members.has(u.id);
        if (m.op === 'addMember') members.add(u.id);
        else members.delete(u.id);
        // Okta answers 204 to a no-op and logs nothing for it.
        if (had === (m.op === 'addMember')) return null;
        this.stamps.lastMembershipUpdated.set(g.id, iso);
        this.record(
          m.op === 'addMember' ? 'group.user_membership.add' : 'group.user_membership.remove',
          [this.userTarget(u), this.groupTarget(g)],
          at,
          tx,
        );
        return null;
      }
    }
  }
}
