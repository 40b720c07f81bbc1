/**
 * An in-memory IdP with a change feed, and a real Connector over it (`kind: memory`): `open` reads
 * the org as it is, `openFeed` yields the journal of changes since a cursor (the journal position).
 * Pipeline tests and the bench drive incremental sync with it while the IdPs' own feeds are built
 * elsewhere; it keeps the feed contract of connectors/types.ts, including an overlap re-read,
 * expiry (`expire()`), a switched-off feed and a failure mid-read.
 */
import { z } from 'zod';
import type {
  ChangeFeed,
  ChangeItem,
  Connector,
  SnapshotItem,
  Source,
  SourceEdge,
  SourceGroup,
  SourceUser,
} from '../../connectors/types.js';
import { emptyStats } from '../../connectors/types.js';
import type { Org, OrgGroup, OrgUser } from '../../connectors/emulator-kit/org.js';
import type { Mutation } from '../../connectors/emulator-kit/plan.js';
import { DirsyncError } from '../../src/errors.js';

const registry = new Map<string, MemoryIdp>();

export class MemoryIdp {
  readonly journal: ChangeItem[] = [];
  /** Cursors below this position are expired (the IdP's retention). */
  floor = 0;
  feedEnabled = true;
  /** Throw after this many items of the next feed read (then reset). */
  failFeedAfter: number | null = null;
  /** Every feed re-reads this many items before its cursor (an overlap window). */
  overlap = 0;
  /** Extra nesting edges beyond the org's tree (a DAG, or a cycle): `parent>child`. */
  readonly extraNesting = new Set<string>();
  fullReads = 0;
  feedReads = 0;
  /** Fields a user's mapped record has whatever the org says (NUL text, `active: null`, ...). */
  readonly userPatches = new Map<string, Partial<SourceUser>>();
  /** Records every full read yields besides the org's (problems, records with odd ids). */
  readonly extra: SnapshotItem[] = [];

  constructor(
    readonly name: string,
    readonly org: Org,
  ) {
    registry.set(name, this);
  }

  static get(name: string): MemoryIdp {
    const idp = registry.get(name);
    if (!idp) throw new DirsyncError('DIRSYNC_E_IDP_NOT_FOUND', `memory IdP ${name}`);
    return idp;
  }

  mapUser(u: OrgUser): SourceUser {
    return {
      kind: 'user',
      externalId: u.id,
      username: u.login,
      email: u.email,
      displayName: u.displayName,
      givenName: u.givenName,
      familyName: u.familyName,
      active: u.status === 'active',
      attributes: { department: u.department, title: u.title },
      ...this.userPatches.get(u.id),
    };
  }

  /** Makes a user's record carry `patch` from now on, and journals it. */
  patchUser(id: string, patch: Partial<SourceUser>): void {
    const u = this.org.users.find((x) => x.id === id);
    if (!u) throw new Error(`no user ${id}`);
    this.userPatches.set(id, { ...this.userPatches.get(id), ...patch });
    this.log(this.mapUser(u));
  }

  /** A record the org model cannot express: every later full read yields it, the feed once. */
  report(item: SnapshotItem): void {
    this.extra.push(item);
    this.log(item);
  }

  mapGroup(g: OrgGroup): SourceGroup {
    return {
      kind: 'group',
      externalId: g.id,
      name: g.name,
      description: g.description || null,
      attributes: {},
    };
  }

  /** Every item of a full read, in a stable order. */
  *snapshot(): Generator<SnapshotItem> {
    for (const u of this.org.users) yield this.mapUser(u);
    for (const g of this.org.groups) yield this.mapGroup(g);
    for (const [groupId, members] of this.org.members)
      for (const m of members) yield edge(groupId, 'user', m);
    for (const g of this.org.groups) if (g.parentId) yield edge(g.parentId, 'group', g.id);
    for (const k of this.extraNesting) {
      const [p, c] = k.split('>') as [string, string];
      yield edge(p, 'group', c);
    }
    yield* this.extra;
  }

  private log(...items: ChangeItem[]): void {
    this.journal.push(...items);
  }

  /** Makes every cursor issued so far expired. */
  expire(): void {
    this.floor = this.journal.length;
  }

  /** Applies one mutation to the org and journals what the feed reports for it. */
  apply(m: Mutation): void {
    const org = this.org;
    switch (m.op) {
      case 'addUser':
        org.users.push(m.user);
        this.log(this.mapUser(m.user));
        return;
      case 'updateUser': {
        const u = org.users.find((x) => x.id === m.id);
        if (!u) return;
        Object.assign(u, m.patch);
        this.log(this.mapUser(u));
        return;
      }
      case 'removeUser':
        org.users = org.users.filter((x) => x.id !== m.id);
        for (const s of org.members.values()) s.delete(m.id);
        this.log({ kind: 'removed', objectType: 'user', externalId: m.id });
        return;
      case 'addGroup':
        org.groups.push(m.group);
        org.members.set(m.group.id, new Set());
        this.log(this.mapGroup(m.group));
        if (m.group.parentId) this.log(edge(m.group.parentId, 'group', m.group.id));
        return;
      case 'updateGroup': {
        const g = org.groups.find((x) => x.id === m.id);
        if (!g) return;
        Object.assign(g, m.patch);
        this.log(this.mapGroup(g));
        return;
      }
      case 'removeGroup':
        org.groups = org.groups.filter((x) => x.id !== m.id);
        org.members.delete(m.id);
        for (const g of org.groups) if (g.parentId === m.id) g.parentId = null;
        for (const k of [...this.extraNesting])
          if (k.startsWith(`${m.id}>`) || k.endsWith(`>${m.id}`)) this.extraNesting.delete(k);
        this.log({ kind: 'removed', objectType: 'group', externalId: m.id });
        return;
      case 'setParent': {
        const g = org.groups.find((x) => x.id === m.id);
        if (!g || g.parentId === m.parentId) return;
        if (g.parentId && !this.extraNesting.has(`${g.parentId}>${g.id}`))
          this.log({ kind: 'edge-removed', groupId: g.parentId, memberType: 'group', memberId: g.id });
        g.parentId = m.parentId;
        if (m.parentId) this.log(edge(m.parentId, 'group', g.id));
        return;
      }
      case 'addMember': {
        const s = org.members.get(m.groupId);
        if (!s || !org.users.some((u) => u.id === m.userId)) return;
        s.add(m.userId);
        this.log(edge(m.groupId, 'user', m.userId));
        return;
      }
      case 'removeMember':
        if (org.members.get(m.groupId)?.delete(m.userId))
          this.log({ kind: 'edge-removed', groupId: m.groupId, memberType: 'user', memberId: m.userId });
        return;
    }
  }

  /** Adds a nesting edge outside the tree (may close a cycle, which the pipeline must hold). */
  nest(parent: string, child: string): void {
    this.extraNesting.add(`${parent}>${child}`);
    this.log(edge(parent, 'group', child));
  }

  unnest(parent: string, child: string): void {
    if (this.extraNesting.delete(`${parent}>${child}`))
      this.log({ kind: 'edge-removed', groupId: parent, memberType: 'group', memberId: child });
  }

  /** Re-reports a group's whole member list (what Graph's delta or an Okta re-read does). */
  resetMembers(groupId: string): void {
    const members = this.org.members.get(groupId);
    if (!members) return;
    this.log({ kind: 'members-reset', groupId });
    for (const m of members) this.log(edge(groupId, 'user', m));
    for (const g of this.org.groups) if (g.parentId === groupId) this.log(edge(groupId, 'group', g.id));
    for (const k of this.extraNesting)
      if (k.startsWith(`${groupId}>`)) this.log(edge(groupId, 'group', k.slice(groupId.length + 1)));
  }
}

function edge(groupId: string, memberType: 'user' | 'group', memberId: string): SourceEdge {
  return { kind: 'edge', groupId, memberType, memberId };
}

export interface MemoryConfig {
  kind: 'memory';
  /** The name a {@link MemoryIdp} was created with. */
  org: string;
}

export const memoryConnector: Connector<MemoryConfig> = {
  kind: 'memory',
  configSchema: z.object({ kind: z.literal('memory'), org: z.string().min(1) }).strict(),
  async open(config): Promise<Source> {
    const idp = MemoryIdp.get(config.org);
    idp.fullReads++;
    // The cursor is the journal position before the read began (contract: a time taken before).
    const cursor = String(idp.journal.length);
    const stats = emptyStats();
    return {
      async *read() {
        stats.requests++;
        for (const item of idp.snapshot()) yield item;
      },
      stats: () => ({ ...stats }),
      cursor: () => cursor,
      close: async () => {},
    };
  },
  async openFeed(config, _ctx, cursor): Promise<ChangeFeed> {
    const idp = MemoryIdp.get(config.org);
    if (!idp.feedEnabled)
      throw new DirsyncError(
        'DIRSYNC_E_FEED_UNAVAILABLE',
        `memory IdP ${idp.name} has its change log switched off`,
      );
    const from = Number(cursor);
    if (!Number.isInteger(from) || from < idp.floor || from > idp.journal.length)
      throw new DirsyncError('DIRSYNC_E_CURSOR_EXPIRED', `cursor ${cursor} is outside the retained journal`);
    idp.feedReads++;
    const end = idp.journal.length;
    const items = idp.journal.slice(Math.max(idp.floor, from - idp.overlap), end);
    const failAfter = idp.failFeedAfter;
    idp.failFeedAfter = null;
    const stats = emptyStats();
    let done = false;
    return {
      async *read() {
        stats.requests++;
        let n = 0;
        for (const item of items) {
          if (failAfter !== null && n++ >= failAfter)
            throw new DirsyncError(
              'DIRSYNC_E_IDP_UNAVAILABLE',
              'the change log stopped answering (injected)',
            );
          yield item;
        }
        done = true;
      },
      cursor: () => {
        if (!done) throw new DirsyncError('DIRSYNC_E_INTERNAL', 'cursor() before the feed was read');
        return String(end);
      },
      stats: () => ({ ...stats }),
      close: async () => {},
    };
  },
};
