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
  /** False when the IdP says the account is disabled or suspended. */
  active: boolean;
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
