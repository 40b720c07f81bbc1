/**
 * Random, seeded mutation plans: IdP-neutral lists of operations that each emulator applies through
 * its own mutation path (so its change journal, delta tokens or audit log record them as the real
 * IdP would). The benches ("1% of users changed and 1% of memberships moved"), the incremental-sync
 * equivalence tests and the fault soak all draw their changes from here.
 */
import { indexId, prng, type Org, type OrgGroup, type OrgUser } from './org.js';

export type Mutation =
  | { op: 'addUser'; user: OrgUser }
  | { op: 'updateUser'; id: string; patch: Partial<Omit<OrgUser, 'id'>> }
  | { op: 'removeUser'; id: string }
  | { op: 'addGroup'; group: OrgGroup }
  | { op: 'updateGroup'; id: string; patch: Partial<Pick<OrgGroup, 'name' | 'description'>> }
  | { op: 'removeGroup'; id: string }
  /** Move a group in the tree (`parentId: null` makes it top-level). Never creates a cycle. */
  | { op: 'setParent'; id: string; parentId: string | null }
  | { op: 'addMember'; groupId: string; userId: string }
  | { op: 'removeMember'; groupId: string; userId: string };

export interface PlanOptions {
  seed: number;
  /** Share of users changed (renamed, disabled, re-enabled, deleted, created, re-created): 0..1. */
  users?: number;
  /** Share of direct user memberships moved (removed from one group, added to another): 0..1. */
  memberships?: number;
  /** Group-level changes (rename, create, delete, move in the tree): a count. */
  groups?: number;
}

/**
 * Draws a plan against the org as it is now (the org is not changed). Apply the operations in
 * order: later ones may refer to objects earlier ones create.
 */
export function planMutations(org: Org, opts: PlanOptions): Mutation[] {
  const rnd = prng(opts.seed);
  const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(rnd() * xs.length)];
  const out: Mutation[] = [];
  const removedUsers = new Set<string>();
  const removedGroups = new Set<string>();
  const logins = new Set(org.users.map((u) => u.login.toLowerCase()));
  const tag = `${opts.seed.toString(36)}x`;
  let fresh = 0;

  const userChanges = Math.round((opts.users ?? 0) * org.users.length);
  for (let i = 0; i < userChanges; i++) {
    const u = pick(org.users);
    if (!u || removedUsers.has(u.id)) continue;
    const r = rnd();
    if (r < 0.35) {
      out.push({
        op: 'updateUser',
        id: u.id,
        patch: { displayName: `${u.givenName} ${u.familyName} (${tag}${i})` },
      });
    } else if (r < 0.5) {
      out.push({
        op: 'updateUser',
        id: u.id,
        patch: { title: `Title ${tag}${i}`, department: 'Operations' },
      });
    } else if (r < 0.65) {
      out.push({
        op: 'updateUser',
        id: u.id,
        patch: { status: u.status === 'active' ? 'suspended' : 'active' },
      });
    } else if (r < 0.75) {
      const login = `${u.login}.${tag}${i}`;
      if (logins.has(login)) continue;
      logins.add(login);
      out.push({
        op: 'updateUser',
        id: u.id,
        patch: { login, email: u.email ? `${login}@${org.domain}` : null },
      });
    } else if (r < 0.85) {
      removedUsers.add(u.id);
      out.push({ op: 'removeUser', id: u.id });
    } else if (r < 0.92) {
      // Deleted and re-created under the same login: a new id, the old one gone.
      removedUsers.add(u.id);
      out.push({ op: 'removeUser', id: u.id });
      out.push({ op: 'addUser', user: { ...u, id: indexId(`u${tag}`, fresh++) } });
    } else {
      const login = `new.${tag}${i}`;
      if (logins.has(login)) continue;
      logins.add(login);
      out.push({
        op: 'addUser',
        user: {
          ...u,
          id: indexId(`u${tag}`, fresh++),
          login,
          email: `${login}@${org.domain}`,
          displayName: `New ${tag}${i}`,
          status: 'active',
        },
      });
    }
  }

  let total = 0;
  for (const s of org.members.values()) total += s.size;
  const moves = Math.round((opts.memberships ?? 0) * total);
  const groupIds = org.groups.map((g) => g.id);
  for (let i = 0; i < moves; i++) {
    const from = pick(groupIds);
    const to = pick(groupIds);
    if (!from || !to || from === to) continue;
    const members = org.members.get(from);
    if (!members || members.size === 0) continue;
    // A random member without materialising the whole set for big groups.
    let k = Math.floor(rnd() * members.size);
    let userId: string | undefined;
    for (const m of members) {
      if (k-- === 0) {
        userId = m;
        break;
      }
    }
    if (!userId || removedUsers.has(userId) || org.members.get(to)?.has(userId)) continue;
    out.push({ op: 'removeMember', groupId: from, userId });
    out.push({ op: 'addMember', groupId: to, userId });
  }

  // The tree as this plan leaves it so far: a move is checked against the moves before it, or a
  // second move could put a group under one the first just moved below it (a cycle). Deletions
  // need no entry: they only shrink subtrees, and deleted groups are never picked again.
  const parentOf = new Map(org.groups.map((g) => [g.id, g.parentId]));
  for (let i = 0; i < (opts.groups ?? 0); i++) {
    const g = pick(org.groups);
    if (!g || removedGroups.has(g.id)) continue;
    const r = rnd();
    if (r < 0.4) {
      out.push({ op: 'updateGroup', id: g.id, patch: { name: `${g.name}-${tag}${i}` } });
    } else if (r < 0.6) {
      const id = indexId(`g${tag}`, fresh++);
      out.push({
        op: 'addGroup',
        group: { id, name: `new-${tag}${i}`, description: '', parentId: null, created: g.created },
      });
      const u = pick(org.users);
      if (u && !removedUsers.has(u.id)) out.push({ op: 'addMember', groupId: id, userId: u.id });
    } else if (r < 0.75) {
      removedGroups.add(g.id);
      out.push({ op: 'removeGroup', id: g.id });
    } else {
      // Move under a group that is not in g's own subtree (no cycles), or to the top.
      const below = new Set([g.id]);
      for (let grew = true; grew;) {
        grew = false;
        for (const x of org.groups) {
          const p = parentOf.get(x.id);
          if (p && below.has(p) && !below.has(x.id)) {
            below.add(x.id);
            grew = true;
          }
        }
      }
      const parent =
        rnd() < 0.2 ? null : pick(org.groups.filter((x) => !below.has(x.id) && !removedGroups.has(x.id)));
      parentOf.set(g.id, parent ? parent.id : null);
      out.push({ op: 'setParent', id: g.id, parentId: parent ? parent.id : null });
    }
  }
  return out;
}
