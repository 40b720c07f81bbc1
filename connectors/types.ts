/**
 * The connector contract.
 *
 * A connector reads one identity provider and streams a complete snapshot of it as directory
 * records. It does HTTP (or file I/O) only: it never touches the database. The pipeline validates
 * cross-record rules (duplicate ids, unknown references, cycles, username collisions), filters,
 * transforms, stages and applies.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';

/** A user as the directory stores it, before transforms. Field types are checked by the pipeline. */
export interface SourceUser {
  kind: 'user';
  /** The IdP's immutable id (Graph object id, Okta id, Keycloak id, Google id, ...). */
  externalId: string;
  /** The IdP's login name (userPrincipalName, login, username, primaryEmail). */
  username: string;
  email: string | null;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  /**
   * False when the IdP says the account is disabled or suspended; null when the IdP does not say
   * (e.g. Graph `accountEnabled: null`): an existing user then keeps its state, and a new one is
   * created as `filters.users.activeUnknown` says (held by default). Never guess true or false.
   */
  active: boolean | null;
  /** Everything else worth keeping, as plain JSON. Transforms can read and write it. */
  attributes: Record<string, unknown>;
}

export interface SourceGroup {
  kind: 'group';
  externalId: string;
  name: string;
  description: string | null;
  attributes: Record<string, unknown>;
}

/** A direct membership edge: `memberId` is a user's or a group's externalId. */
export interface SourceEdge {
  kind: 'edge';
  groupId: string;
  memberType: 'user' | 'group';
  memberId: string;
}

/**
 * A record the connector could not map (missing or wrongly typed fields). When its id is known the
 * pipeline holds the existing directory object as it is, rather than treating it as gone.
 */
export interface SourceProblem {
  kind: 'problem';
  objectType: 'user' | 'group' | 'edge';
  /** The record's id when the connector could read one. */
  externalId: string | null;
  reason: string;
  /** A short, secret-free excerpt of the offending record for the run report. */
  sample?: unknown;
}

export type SnapshotItem = SourceUser | SourceGroup | SourceEdge | SourceProblem;

/**
 * A user or group that no longer exists in the IdP (deleted, or soft-deleted where the IdP keeps a
 * recycle bin). Only change feeds yield it: in a full snapshot an object is removed by being absent.
 */
export interface SourceRemoval {
  kind: 'removed';
  objectType: 'user' | 'group';
  externalId: string;
}

/** A direct membership edge that ended (change feeds only; a `SourceEdge` in a feed is an addition). */
export interface SourceEdgeRemoval {
  kind: 'edge-removed';
  groupId: string;
  memberType: 'user' | 'group';
  memberId: string;
}

/**
 * The direct members of `groupId` are exactly the `edge` items for that group that the feed yields
 * after this marker (none: the group is empty). Lets a feed re-read a whole member list instead of
 * reporting single additions and removals.
 */
export interface SourceMembersReset {
  kind: 'members-reset';
  groupId: string;
}

/**
 * One item of a change feed. Items apply in the order yielded; re-applying a contiguous suffix of a
 * feed (an overlap window) gives the same result, so feeds may re-read an overlap safely.
 * `SourceUser` and `SourceGroup` are upserts of the whole mapped record; `SourceEdge` adds an edge.
 */
export type ChangeItem =
  | SourceUser
  | SourceGroup
  | SourceEdge
  | SourceProblem
  | SourceRemoval
  | SourceEdgeRemoval
  | SourceMembersReset;

/** Counters a source keeps while it reads; the pipeline stores them on the run. */
export interface SourceStats {
  /** HTTP requests sent (including retries); 0 for file sources. */
  requests: number;
  /** Responses that were throttled (429, 403 rate limit, 503 overload). */
  throttled: number;
  /** Pages of results read. */
  pages: number;
  /** Members of unsupported types that were skipped (devices, service principals, ...). */
  skipped: number;
}

/** Progress a source reports while it reads (phase labels are free text such as "users", "members"). */
export interface SourceProgress {
  phase: string;
  done: number;
  /** Known total for the phase, when the IdP tells it. */
  total?: number;
}

/** Group filter as configured, handed to connectors so they can push it down to the IdP. */
export interface GroupFilterHint {
  include: GroupSelector[];
  exclude: GroupSelector[];
}

/** Selects groups by exact name, by glob on the name (`*`, `?`), or by IdP id. */
export type GroupSelector = { name: string } | { glob: string } | { id: string };

export interface ConnectorContext {
  logger: Logger;
  /** Aborted when the run is cancelled or times out; sources must stop promptly. */
  signal: AbortSignal;
  /** Called as pages arrive; cheap, may be called often. */
  progress(p: SourceProgress): void;
  /** The configured group filter, for push-down. The pipeline applies it again regardless. */
  groupFilter?: GroupFilterHint;
  /** True when the configured user filter keeps active users only, for push-down. */
  activeUsersOnly?: boolean;
}

/**
 * A snapshot being read. `read()` yields every user, group and direct edge of the IdP once, in any
 * order; the pipeline consumes it exactly once. If reading fails it must throw a {@link DirsyncError}
 * (never end early): a snapshot that ends is taken as complete.
 */
export interface Source {
  read(): AsyncIterable<SnapshotItem>;
  stats(): SourceStats;
  /**
   * Only after `read()` completed: the cursor from which this IdP's change feed continues the
   * snapshot just read (for time-based feeds, a time taken before the read began, minus the overlap
   * the IdP needs). Absent or null when the connector has no feed.
   */
  cursor?(): string | null;
  /** Releases sockets, timers and tokens. Called once, after success or failure. */
  close(): Promise<void>;
}

/**
 * The changes of an IdP since a cursor. `read()` yields them in order and throws a
 * {@link DirsyncError} on failure (never ends early). The invariant every feed keeps: applying a
 * feed to the records of the full read (or feeds) it continues yields exactly the records a full
 * read with the same context would yield now. So a feed whose full read had a group filter pushed
 * down must, for a group that newly matches it, yield the group, a `members-reset` and its members.
 */
export interface ChangeFeed {
  read(): AsyncIterable<ChangeItem>;
  /** Only after `read()` completed: the cursor the next feed continues from. */
  cursor(): string;
  stats(): SourceStats;
  /** Releases sockets, timers and tokens. Called once, after success or failure. */
  close(): Promise<void>;
}

/**
 * One identity provider. `configSchema` is a zod object holding `kind: z.literal(...)` and the
 * IdP-specific fields only; `config/schema.ts` merges it with the fields every connector shares
 * (name, schedule, filters, transforms, guard) into the discriminated union on `kind`. `open`
 * receives the parsed IdP-specific fields (extra common fields may be present; ignore them).
 */
export interface Connector<Config extends { kind: string } = { kind: string }> {
  kind: Config['kind'];
  configSchema: z.ZodObject<{ kind: z.ZodLiteral<Config['kind']> } & z.ZodRawShape>;
  open(config: Config, ctx: ConnectorContext): Promise<Source>;
  /**
   * Opens the IdP's change feed since `cursor` (from a {@link Source} or an earlier
   * {@link ChangeFeed} of the same connector). Throws `DIRSYNC_E_CURSOR_EXPIRED` when the IdP no
   * longer serves changes since it (the pipeline then reads in full), `DIRSYNC_E_FEED_UNAVAILABLE`
   * when the feed is off (e.g. Keycloak admin events disabled). Absent: full snapshots only.
   */
  openFeed?(config: Config, ctx: ConnectorContext, cursor: string): Promise<ChangeFeed>;
}

/** A problem record for the snapshot; `sample` is left out when there is none. */
export function sourceProblem(
  objectType: SourceProblem['objectType'],
  externalId: string | null,
  reason: string,
  sample?: unknown,
): SourceProblem {
  return { kind: 'problem', objectType, externalId, reason, ...(sample === undefined ? {} : { sample }) };
}

export function emptyStats(): SourceStats {
  return { requests: 0, throttled: 0, pages: 0, skipped: 0 };
}
