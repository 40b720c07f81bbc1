/**
 * The Keycloak admin API as the connector uses it: the official `@keycloak/keycloak-admin-client`
 * behind one request path that bounds concurrency, retries transient failures with backoff, keeps
 * the token fresh, counts requests and turns every failure into a typed DirsyncError.
 *
 * Endpoints (Keycloak 26 Admin REST API, https://www.keycloak.org/docs-api/latest/rest-api/):
 * `GET /admin/realms/{realm}/users` (offset paging `first`/`max`, sorted by username),
 * `/users/count`, `/groups` (top-level only, each with `subGroupCount`), `/groups/count`,
 * `/groups/{id}`, `/groups/{id}/children` (default `max` 10!), `/groups/{id}/members` (direct only).
 */
import KcAdminClient from '@keycloak/keycloak-admin-client';
import type { Logger } from 'pino';
import { Agent } from 'undici';
import { DirsyncError } from '../../src/errors.js';
import { emptyStats, type SourceStats } from '../types.js';
import { BadShapeError, classify } from './errors.js';
import { Limiter, backoffDelay, cancelled, sleep } from './pool.js';
import { TokenManager, type Credentials } from './tokens.js';

export interface KeycloakApiOptions {
  url: string;
  realm: string;
  authRealm: string;
  /** Called per token request, so secrets are read when needed and not kept around. */
  credentials: () => Credentials;
  concurrency: number;
  requestTimeoutMs: number;
  retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
  logger: Logger;
  signal: AbortSignal;
}

/** Query of `GET /users` that the connector pushes down. */
export interface UserQuery {
  /** `enabled=true`: disabled users are not downloaded when the pipeline would drop them anyway. */
  enabled?: boolean;
}

function isArray(v: unknown): v is unknown[] {
  return Array.isArray(v);
}

export class KeycloakApi {
  readonly stats: SourceStats = emptyStats();
  private readonly kc: KcAdminClient;
  private readonly tokens: TokenManager;
  private readonly limiter: Limiter;
  private readonly agent: Agent;
  private readonly abort = new AbortController();
  private readonly signal: AbortSignal;

  constructor(private readonly opts: KeycloakApiOptions) {
    this.signal = AbortSignal.any([opts.signal, this.abort.signal]);
    this.limiter = new Limiter(opts.concurrency);
    // One connection pool per source; the timeouts catch a Keycloak that accepts the connection
    // and then never answers (a stuck database query), which would otherwise hang the run.
    this.agent = new Agent({
      connections: opts.concurrency + 1,
      headersTimeout: opts.requestTimeoutMs,
      bodyTimeout: opts.requestTimeoutMs,
    });
    // Cancellation closes the connection pool, failing whatever is in flight. (Passing the run's
    // signal to every fetch instead would pile up abort listeners on it: undici only drops them
    // when the request object is garbage-collected.)
    this.signal.addEventListener('abort', () => void this.agent.destroy().catch(() => {}), { once: true });
    const requestOptions = { dispatcher: this.agent } as unknown as RequestInit;
    const authClient = new KcAdminClient({ baseUrl: opts.url, realmName: opts.authRealm, requestOptions });
    this.kc = new KcAdminClient({
      baseUrl: opts.url,
      realmName: opts.realm,
      requestOptions,
      // listMembers/listSubGroups/findOne answer null on 404 by default; a vanished group must be
      // an error, not an empty member list.
      requestArgOptions: { catchNotFound: false },
    });
    this.tokens = new TokenManager(authClient, opts.credentials, opts.retry, this.signal, this.stats);
    this.kc.registerTokenProvider({ getAccessToken: () => this.tokens.get() });
  }

  /** Gets a token now, so bad credentials fail the run before anything is read. */
  async authenticate(): Promise<void> {
    await this.tokens.get();
  }

  async usersCount(q: UserQuery): Promise<number> {
    // `GET /users/count` takes the same filters as `GET /users` (the SDK's type lists fewer).
    const count = this.kc.users.count as (query: UserQuery) => Promise<number>;
    return (await this.call('count users', () => count(q), isCount)) as number;
  }

  users(first: number, max: number, q: UserQuery): Promise<unknown[]> {
    return this.page(`list users (first=${first})`, () =>
      this.kc.users.find({ first, max, briefRepresentation: false, ...q }),
    );
  }

  /** Groups in the realm: all of them, or top-level ones only. */
  async groupsCount(top: boolean): Promise<number> {
    const r = await this.call(
      'count groups',
      () => this.kc.groups.count({ top }),
      (v) => isCount((v as { count?: unknown })?.count),
    );
    return (r as { count: number }).count;
  }

  topGroups(first: number, max: number): Promise<unknown[]> {
    return this.page(`list groups (first=${first})`, () =>
      this.kc.groups.find({ first, max, briefRepresentation: true, populateHierarchy: false }),
    );
  }

  /**
   * Groups at any depth whose name contains `search` (case-insensitively). `populateHierarchy=false`
   * returns the matches themselves rather than their root ancestors with `subGroups` filled in.
   */
  searchGroups(search: string, first: number, max: number): Promise<unknown[]> {
    return this.page(`search groups "${search}" (first=${first})`, () =>
      this.kc.groups.find({
        search,
        exact: false,
        first,
        max,
        briefRepresentation: true,
        populateHierarchy: false,
      }),
    );
  }

  /** One group by id, or undefined when Keycloak has no such group. */
  async group(id: string): Promise<unknown> {
    try {
      return await this.call(`get group ${id}`, () => this.kc.groups.findOne({ id }), isObject);
    } catch (e) {
      if ((e as { code?: string }).code === 'DIRSYNC_E_IDP_NOT_FOUND') return undefined;
      throw e;
    }
  }

  /** The realm's settings (RealmRepresentation); needs `view-realm`. */
  async realm(): Promise<Record<string, unknown>> {
    return (await this.call(
      `get realm ${this.opts.realm}`,
      () => this.kc.realms.findOne({ realm: this.opts.realm }),
      isObject,
    )) as Record<string, unknown>;
  }

  /**
   * A page of admin events, oldest first. `dateFrom` is sent as epoch milliseconds (Keycloak 26
   * takes `yyyy-MM-dd` or epoch ms; the SDK types it as a Date, whose `toString()` Keycloak
   * refuses). `direction` is passed through the SDK's query (it sends a GET payload as query
   * parameters); a Keycloak that predates it (the 26.6 spec lists it; which release added it is
   * not checked here) answers newest first, which the feed handles.
   */
  adminEvents(q: {
    dateFrom: number;
    first: number;
    max: number;
    resourceTypes: string[];
  }): Promise<unknown[]> {
    const find = this.kc.realms.findAdminEvents as unknown as (
      p: Record<string, unknown>,
    ) => Promise<unknown>;
    return this.page(`list admin events (first=${q.first})`, () =>
      find({
        realm: this.opts.realm,
        dateFrom: String(q.dateFrom),
        direction: 'asc',
        first: q.first,
        max: q.max,
        resourceTypes: q.resourceTypes,
      }),
    );
  }

  /** One user (full representation), or undefined when Keycloak has no such user. */
  async user(id: string): Promise<unknown> {
    try {
      return await this.call(`get user ${id}`, () => this.kc.users.findOne({ id }), isObject);
    } catch (e) {
      if ((e as { code?: string }).code === 'DIRSYNC_E_IDP_NOT_FOUND') return undefined;
      throw e;
    }
  }

  /** The groups a user is a direct member of (brief), one page. */
  userGroups(id: string, first: number, max: number): Promise<unknown[]> {
    return this.page(`list groups of user ${id} (first=${first})`, () =>
      this.kc.users.listGroups({ id, first, max, briefRepresentation: true }),
    );
  }

  children(parentId: string, first: number, max: number): Promise<unknown[]> {
    return this.groupPage(parentId, `list subgroups of group ${parentId} (first=${first})`, () =>
      this.kc.groups.listSubGroups({ parentId, first, max, briefRepresentation: true }),
    );
  }

  /** Direct members; `brief` leaves out attributes (enough when users are listed separately). */
  members(id: string, first: number, max: number, brief: boolean): Promise<unknown[]> {
    return this.groupPage(id, `list members of group ${id} (first=${first})`, () =>
      this.kc.groups.listMembers({ id, first, max, briefRepresentation: brief }),
    );
  }

  /**
   * A page under a group found earlier in this read. A 404 here means the group was deleted
   * mid-read: the snapshot would be inconsistent, so the run fails, retryably (the next run sees
   * the realm without it).
   */
  private async groupPage(id: string, what: string, fn: () => Promise<unknown>): Promise<unknown[]> {
    try {
      return await this.page(what, fn);
    } catch (e) {
      if (e instanceof DirsyncError && e.code === 'DIRSYNC_E_IDP_NOT_FOUND') {
        throw new DirsyncError(
          'DIRSYNC_E_SOURCE_FAILED',
          `group ${id} was deleted during the read (${what})`,
          {
            cause: e,
            ...(e.status === undefined ? {} : { status: e.status }),
            ...(e.vendorCode === undefined ? {} : { vendorCode: e.vendorCode }),
          },
        );
      }
      throw e;
    }
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.agent.destroy().catch(() => {});
  }

  private async page(what: string, fn: () => Promise<unknown>): Promise<unknown[]> {
    const v = (await this.call(what, fn, isArray)) as unknown[];
    this.stats.pages++;
    return v;
  }

  private call(what: string, fn: () => Promise<unknown>, valid: (v: unknown) => boolean): Promise<unknown> {
    return this.limiter.run(async () => {
      let reauthenticated = false;
      for (let attempt = 1; ; attempt++) {
        if (this.signal.aborted) throw cancelled(this.signal);
        const token = await this.tokens.get();
        this.stats.requests++;
        try {
          const v = await fn();
          // The SDK hands back the raw text when a 2xx body is not JSON: a cut-off page must not
          // pass for an empty one.
          if (!valid(v)) throw new BadShapeError(`unexpected response body (${describe(v)})`);
          return v;
        } catch (e) {
          if (this.signal.aborted) throw cancelled(this.signal);
          const f = classify(e, what, 'api');
          if (f.unauthorized && !reauthenticated) {
            // Keycloak revokes tokens early (logout, "not before" push, key rotation): get a new
            // one once; a second 401 means the credentials are really refused.
            reauthenticated = true;
            this.tokens.invalidate(token);
            attempt--;
            continue;
          }
          if (f.throttled) this.stats.throttled++;
          if (!f.retry || attempt >= this.opts.retry.maxAttempts) throw f.error;
          const delay = backoffDelay(
            attempt,
            this.opts.retry.baseDelayMs,
            this.opts.retry.maxDelayMs,
            f.error.retryAfterMs,
          );
          this.opts.logger.debug(
            { what, attempt, delay, code: f.error.code, status: f.error.status },
            'keycloak: retrying',
          );
          await sleep(delay, this.signal);
        }
      }
    }, this.signal);
  }
}

function isCount(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function isObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `${v.length} characters of non-JSON text`;
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}
