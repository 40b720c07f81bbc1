/**
 * The items of a delta round: every listed object for an initial round, or what changed since a
 * version for a round that continues a token. A group's `members@delta` is split over several
 * appearances of the group, 100 members each, one after the other.
 *
 * An initial round holds references and renders each item when its page is served: an object
 * changed meanwhile is served as it is then and reported again by the next round (Graph warns of
 * such replays), which leaves a consumer with the right state. Member lists are the exception:
 * they are taken when the round begins, because a list read later could miss a member that came
 * and went again while the next round, comparing with the round's version, would not report it.
 */
import type { OrgGroup, OrgUser } from '../../emulator-kit/org.js';
import type { ChangeLog } from './changes.js';
import type { DeltaKind } from './delta-token.js';
import { graphId } from './ids.js';
import type { MemberRef } from './model.js';
import { memberOrgId, renderGroup, renderUser } from './render.js';
import type { GraphStore } from './store.js';

/** Members per appearance of a group in `members@delta`. */
export const MEMBERS_PER_ITEM = 100;

/** One item of a round, rendered when its page is served. */
export type RoundItem =
  /** Initial round: a user as it is when served. */
  | { user: OrgUser }
  /** Initial round: a group as it is when served, with members `from`..`to` of its list. */
  | { group: OrgGroup; members: readonly MemberRef[]; from: number; to: number }
  /** Continuing round: an item rendered when the round began. */
  | { value: Record<string, unknown> };

type Json = Record<string, unknown>;

/** Member references in `members@delta` (only the type and id, as Graph gives them). */
const refOf = (type: string, id: string): Json => ({ '@odata.type': `#microsoft.graph.${type}`, id });

/** Every listed object, as an initial round returns it. */
export function currentItems(store: GraphStore, kind: DeltaKind, withMembers: boolean): RoundItem[] {
  const items: RoundItem[] = [];
  if (kind === 'users') {
    for (const u of store.org.users) if (store.isListed(u)) items.push({ user: u });
    return items;
  }
  const children = withMembers ? store.childIndex() : undefined;
  for (const g of store.org.groups) {
    const members = children ? store.members(g, children) : [];
    items.push({ group: g, members, from: 0, to: Math.min(MEMBERS_PER_ITEM, members.length) });
    for (let i = MEMBERS_PER_ITEM; i < members.length; i += MEMBERS_PER_ITEM) {
      items.push({ group: g, members, from: i, to: Math.min(i + MEMBERS_PER_ITEM, members.length) });
    }
  }
  return items;
}

/** What the change log says about one object since a version. */
interface Touched {
  /** Listed at the version: known from its first listing change, else the same as now. */
  listedThen?: boolean;
  /** Unlisted and listed again (deleted and restored or re-created): reported whole. */
  relisted: boolean;
  /** A selected property changed. */
  props: boolean;
  /** Member key → in the list at the version, and now. */
  members: Map<string, { type: string; id: string; then: boolean; now: boolean }>;
}

/**
 * What changed since `version`, as a continuing round returns it: each object with a selected
 * property changed, created or restored (all selected properties, as it is now); for groups with
 * members selected, the net member changes since the version (all current members for a group
 * new since); and `@removed` for objects listed at the version and no longer. Costs the changes
 * since the version, not the directory.
 */
export function changedSince(
  store: GraphStore,
  log: ChangeLog,
  kind: DeltaKind,
  version: number,
  props: readonly string[],
  withMembers: boolean,
): RoundItem[] {
  const selected = new Set([...props, 'id']);
  const touched = new Map<string, Touched>();
  for (const c of log.since(version)) {
    if (c.kind !== kind) continue;
    let t = touched.get(c.id);
    if (!t) touched.set(c.id, (t = { relisted: false, props: false, members: new Map() }));
    if (c.what === 'listed' || c.what === 'unlisted') {
      t.listedThen ??= c.what === 'unlisted';
      t.relisted = true;
    } else if (c.what === 'props') {
      t.props ||= c.props.some((p) => selected.has(p));
    } else if (c.what === 'member' && withMembers) {
      const key = `${c.type}|${c.member}`;
      const m = t.members.get(key);
      // Changes are recorded only when they change the list: the first tells the state then.
      if (m) m.now = c.added;
      else t.members.set(key, { type: c.type, id: c.member, then: !c.added, now: c.added });
    }
  }
  // Objects in the order they first changed, removals last (Graph promises no order).
  const items: RoundItem[] = [];
  const removed: RoundItem[] = [];
  let children: Map<string, OrgGroup[]> | undefined;
  for (const [id, t] of touched) {
    const user = kind === 'users' ? store.userById(id) : undefined;
    const group = kind === 'groups' ? store.groupById(id) : undefined;
    const listedNow = user !== undefined || group !== undefined;
    const listedThen = t.listedThen ?? listedNow;
    if (!listedNow) {
      // Deleted users and groups are soft-deleted first: Graph reports them removed, reason "changed".
      if (listedThen) removed.push({ value: { id, '@removed': { reason: 'changed' } } });
      continue;
    }
    const delta: Json[] = [];
    if (group && withMembers) {
      if (!listedThen) {
        children ??= store.childIndex();
        for (const m of store.members(group, children)) delta.push(refOf(m.type, graphId(memberOrgId(m))));
      } else {
        for (const m of t.members.values()) if (m.now && !m.then) delta.push(refOf(m.type, m.id));
        for (const m of t.members.values()) {
          if (m.then && !m.now) delta.push({ ...refOf(m.type, m.id), '@removed': { reason: 'deleted' } });
        }
      }
    }
    if (!(t.relisted || !listedThen || t.props || delta.length > 0)) continue;
    const o = user ? renderUser(store, user, props) : renderGroup(store, group as OrgGroup, props);
    if (delta.length === 0) {
      items.push({ value: o });
      continue;
    }
    for (let i = 0; i < delta.length; i += MEMBERS_PER_ITEM) {
      items.push({ value: { ...o, 'members@delta': delta.slice(i, i + MEMBERS_PER_ITEM) } });
    }
  }
  return [...items, ...removed];
}

/** Member references an item carries (pages end once they carry enough). */
export function refsOf(item: RoundItem): number {
  if ('value' in item) {
    const m = item.value['members@delta'];
    return Array.isArray(m) ? m.length : 0;
  }
  return 'group' in item ? item.to - item.from : 0;
}

/** An item as it goes on the wire. */
export function renderItem(store: GraphStore, item: RoundItem, props: readonly string[]): Json {
  if ('value' in item) return item.value;
  if ('user' in item) return renderUser(store, item.user, props);
  const o = renderGroup(store, item.group, props);
  if (item.to > item.from) {
    o['members@delta'] = item.members
      .slice(item.from, item.to)
      .map((m) => refOf(m.type, graphId(memberOrgId(m))));
  }
  return o;
}
