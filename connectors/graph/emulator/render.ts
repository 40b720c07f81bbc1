/**
 * How the store's objects are rendered on the wire (with per-object overrides for malformed-record
 * tests). Shared by the directory endpoints and the delta service, so both depend on the store only.
 */
import type { OrgGroup, OrgUser } from '../../emulator-kit/org.js';
import { graphId } from './ids.js';
import {
  GROUP_DEFAULT,
  GROUP_PROPS,
  OTHER_PROPS,
  render,
  USER_DEFAULT,
  USER_PROPS,
  type MemberRef,
  type OtherObject,
} from './model.js';

/**
 * What rendering reads from the store (the store itself; named apart so the store can render
 * without an import cycle).
 */
export interface RenderSource {
  readonly org: { readonly domain: string };
  /** Field overrides by org id (malformed-record tests). */
  readonly overrides: ReadonlyMap<string, Record<string, unknown>>;
}

function withOverrides(
  store: RenderSource,
  orgId: string,
  o: Record<string, unknown>,
): Record<string, unknown> {
  const patch = store.overrides.get(orgId);
  if (!patch) return o;
  const out = { ...o };
  for (const [k, v] of Object.entries(patch)) if (k in out || k === 'id') out[k] = v;
  return out;
}

export function renderUser(
  store: RenderSource,
  u: OrgUser,
  select: readonly string[],
): Record<string, unknown> {
  return withOverrides(store, u.id, render(USER_PROPS, u, store.org.domain, select));
}

export function renderGroup(
  store: RenderSource,
  g: OrgGroup,
  select: readonly string[],
): Record<string, unknown> {
  return withOverrides(store, g.id, render(GROUP_PROPS, g, store.org.domain, select));
}

export const memberOrgId = (m: MemberRef) => ('orgId' in m.obj ? m.obj.orgId : m.obj.id);

export function memberKey(m: MemberRef): string {
  return `${m.type}|${graphId(memberOrgId(m))}`;
}

/** A member as Graph lists it: the object's own properties plus `@odata.type`. */
export function renderMember(
  store: RenderSource,
  m: MemberRef,
  select: readonly string[] | null,
  typed: boolean,
) {
  const head = typed ? { '@odata.type': `#microsoft.graph.${m.type}` } : {};
  const domain = store.org.domain;
  if (m.type === 'user') return { ...head, ...renderUser(store, m.obj, select ?? USER_DEFAULT) };
  if (m.type === 'group') return { ...head, ...renderGroup(store, m.obj, select ?? GROUP_DEFAULT) };
  const props = OTHER_PROPS[m.type];
  return { ...head, ...render<OtherObject>(props, m.obj, domain, select ?? Object.keys(props)) };
}
