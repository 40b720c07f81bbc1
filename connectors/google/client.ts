/**
 * The Directory API client: the official SDK (`@googleapis/admin`, directory_v1) wrapped with
 * paging as `async *` generators, our own retries, a request budget and typed errors.
 *
 * The SDK's gaxios retries are switched off (`retry: false`) for API calls: they ignore
 * Retry-After, never retry Google's 403 rate-limit answers (`userRateLimitExceeded`,
 * `quotaExceeded`) and would hide attempts from the request counter.
 */
import { admin, type admin_directory_v1, type admin_reports_v1 } from '@googleapis/admin';
import type { Logger } from 'pino';
import { DirsyncError, ERROR_CODES } from '../../src/errors.js';
import type { SourceStats } from '../types.js';
import type { GoogleConfig } from './config.js';
import { forceTokenRefresh, type JwtClient } from './credentials.js';
import { classifyError, isTokenRequest } from './errors.js';
import { AdaptiveLimit, backoffMs, cancelled, RequestBudget, sleep } from './pacing.js';

/**
 * Resources as they arrive. Typed `unknown` on purpose: the SDK's types are a promise the wire
 * does not keep, and map.ts checks every field it uses.
 */
export type RawUser = unknown;
export type RawGroup = unknown;
export type RawMember = unknown;

/**
 * Partial responses keep pages small (the full user resource is ~2 KB); `fields` syntax:
 * https://developers.google.com/workspace/admin/directory/v1/guides/performance#partial
 */
export const USER_FIELDS =
  'nextPageToken,users(id,primaryEmail,name(givenName,familyName,fullName),suspended,suspensionReason,archived,' +
  'isAdmin,orgUnitPath,organizations,customerId,creationTime)';
export const GROUP_FIELDS = 'nextPageToken,groups(id,email,name,description,directMembersCount,adminCreated)';
const GROUP_GET_FIELDS = 'id,email,name,description,directMembersCount,adminCreated';
/** users.get returns the same fields as a users.list entry, so both map to the same record. */
const USER_GET_FIELDS = USER_FIELDS.slice('nextPageToken,users('.length, -1);
const DELETED_USER_FIELDS = 'nextPageToken,users(id,primaryEmail,deletionTime)';

/** One admin audit activity as the change feed uses it (typed loosely; feed.ts checks it). */
export type RawActivity = unknown;
export const MEMBER_FIELDS = 'nextPageToken,members(id,email,role,type,status)';

export interface ClientOptions {
  config: GoogleConfig;
  jwt: JwtClient;
  tokenUrl: string;
  stats: SourceStats;
  signal: AbortSignal;
  logger: Logger;
}

type Call<T> = (options: admin_directory_v1.Options & Record<string, unknown>) => Promise<{ data: T }>;

export class DirectoryClient {
  private readonly api: admin_directory_v1.Admin;
  private readonly reports: admin_reports_v1.Admin;
  private readonly budget: RequestBudget;
  private readonly limit: AdaptiveLimit;
  private readonly scope: { customer: string } | { domain: string };

  constructor(private readonly o: ClientOptions) {
    this.api = admin({
      version: 'directory_v1',
      auth: o.jwt,
      ...(o.config.rootUrl
        ? { rootUrl: o.config.rootUrl.endsWith('/') ? o.config.rootUrl : `${o.config.rootUrl}/` }
        : {}),
    });
    this.reports = admin({
      version: 'reports_v1',
      auth: o.jwt,
      ...(o.config.rootUrl
        ? { rootUrl: o.config.rootUrl.endsWith('/') ? o.config.rootUrl : `${o.config.rootUrl}/` }
        : {}),
    });
    this.budget = new RequestBudget(o.config.requestsPerMinute);
    this.limit = new AdaptiveLimit(o.config.memberConcurrency);
    this.scope = o.config.domain ? { domain: o.config.domain } : { customer: o.config.customer };
  }

  /** Member lists to read at once now: `memberConcurrency`, lowered while Google throttles. */
  concurrency(): number {
    return this.limit.current;
  }

  /** Pages of users; `query` is Google's user search syntax (e.g. `isSuspended=false`). */
  async *userPages(query?: string): AsyncGenerator<RawUser[]> {
    let pageToken: string | undefined;
    do {
      const params = {
        ...this.scope,
        maxResults: this.o.config.pageSize.users,
        projection: 'basic',
        fields: USER_FIELDS,
        ...(query ? { query } : {}),
        ...(pageToken ? { pageToken } : {}),
      };
      const data = await this.call<admin_directory_v1.Schema$Users>(`users.list`, (opt) =>
        this.api.users.list(params, opt),
      );
      yield this.items(data, 'users', 'users.list');
      pageToken = nextToken(data, 'users.list');
    } while (pageToken);
  }

  /** Pages of groups; `query` is Google's group search syntax (e.g. `name:eng*`). */
  async *groupPages(query?: string): AsyncGenerator<RawGroup[]> {
    let pageToken: string | undefined;
    do {
      const params = {
        ...this.scope,
        maxResults: this.o.config.pageSize.groups,
        fields: GROUP_FIELDS,
        ...(query ? { query } : {}),
        ...(pageToken ? { pageToken } : {}),
      };
      const data = await this.call<admin_directory_v1.Schema$Groups>('groups.list', (opt) =>
        this.api.groups.list(params, opt),
      );
      yield this.items(data, 'groups', 'groups.list');
      pageToken = nextToken(data, 'groups.list');
    } while (pageToken);
  }

  /** One group by id or email; null when Google says it does not exist (404). */
  async getGroup(groupKey: string): Promise<RawGroup | null> {
    try {
      const data = await this.call<admin_directory_v1.Schema$Group>(`groups.get(${groupKey})`, (opt) =>
        this.api.groups.get({ groupKey, fields: GROUP_GET_FIELDS }, opt),
      );
      this.o.stats.pages++;
      return data;
    } catch (e) {
      if (e instanceof DirsyncError && e.code === 'DIRSYNC_E_IDP_NOT_FOUND') return null;
      throw e;
    }
  }

  /** Pages of a group's direct members (users, groups, customers, external accounts). */
  async *memberPages(groupKey: string): AsyncGenerator<RawMember[]> {
    let pageToken: string | undefined;
    const what = `members.list(${groupKey})`;
    do {
      const params = {
        groupKey,
        maxResults: this.o.config.pageSize.members,
        fields: MEMBER_FIELDS,
        ...(pageToken ? { pageToken } : {}),
      };
      const data = await this.call<admin_directory_v1.Schema$Members>(what, (opt) =>
        this.api.members.list(params, opt),
      );
      // An empty group answers without a `members` key at all.
      yield this.items(data, 'members', what);
      pageToken = nextToken(data, what);
    } while (pageToken);
  }

  /** One user by id, primary address or alias; null when Google says there is none (404). */
  async getUser(userKey: string): Promise<RawUser | null> {
    try {
      const data = await this.call<admin_directory_v1.Schema$User>(`users.get(${userKey})`, (opt) =>
        this.api.users.get({ userKey, projection: 'basic', fields: USER_GET_FIELDS }, opt),
      );
      this.o.stats.pages++;
      return data;
    } catch (e) {
      if (e instanceof DirsyncError && e.code === 'DIRSYNC_E_IDP_NOT_FOUND') return null;
      throw e;
    }
  }

  /** Pages of deleted users (`showDeleted=true`: Google lists them for 20 days). */
  async *deletedUserPages(): AsyncGenerator<RawUser[]> {
    let pageToken: string | undefined;
    do {
      const params = {
        ...this.scope,
        showDeleted: 'true',
        maxResults: 500,
        fields: DELETED_USER_FIELDS,
        ...(pageToken ? { pageToken } : {}),
      };
      const data = await this.call<admin_directory_v1.Schema$Users>('users.list(showDeleted)', (opt) =>
        this.api.users.list(params, opt),
      );
      yield this.items(data, 'users', 'users.list(showDeleted)');
      pageToken = nextToken(data, 'users.list(showDeleted)');
    } while (pageToken);
  }

  /** Pages of the groups a user is a direct member of (groups.list `userKey`). */
  async *groupsOfUserPages(userKey: string): AsyncGenerator<RawGroup[]> {
    let pageToken: string | undefined;
    const what = `groups.list(userKey=${userKey})`;
    do {
      const params = {
        userKey,
        maxResults: this.o.config.pageSize.groups,
        fields: GROUP_FIELDS,
        ...(pageToken ? { pageToken } : {}),
      };
      const data = await this.call<admin_directory_v1.Schema$Groups>(what, (opt) =>
        this.api.groups.list(params, opt),
      );
      yield this.items(data, 'groups', what);
      pageToken = nextToken(data, what);
    } while (pageToken);
  }

  /**
   * Pages of the Admin console audit log (Reports API activities.list, `userKey=all`,
   * `applicationName=admin`) between `startTime` and `endTime`, newest first as Google sends them.
   */
  async *activityPages(startTime: Date, endTime: Date): AsyncGenerator<RawActivity[]> {
    let pageToken: string | undefined;
    const what = 'activities.list(admin)';
    do {
      const params = {
        userKey: 'all',
        applicationName: 'admin',
        startTime: startTime.toISOString(),
        endTime: endTime.toISOString(),
        maxResults: 1000,
        ...('customer' in this.scope ? { customerId: this.scope.customer } : {}),
        ...(pageToken ? { pageToken } : {}),
      };
      const data = await this.call<admin_reports_v1.Schema$Activities>(what, (opt) =>
        this.reports.activities.list(params, opt),
      );
      const list = (data as Record<string, unknown>).items;
      if (list !== undefined && !Array.isArray(list))
        throw new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', `${what}: "items" is not an array`);
      this.o.stats.pages++;
      yield list ?? [];
      pageToken = nextToken(data, what);
    } while (pageToken);
  }

  private items<K extends 'users' | 'groups' | 'members'>(data: unknown, key: K, what: string): unknown[] {
    const list = (data as Record<string, unknown>)[key];
    if (list === undefined) return [];
    if (!Array.isArray(list)) {
      throw new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', `${what}: "${key}" is not an array`);
    }
    this.o.stats.pages++;
    return list;
  }

  /**
   * One API call with retries. 401 → one token refresh, then DIRSYNC_E_IDP_AUTH. Throttling
   * (429, 403 rate-limit reasons), 5xx, timeouts, resets and unparseable bodies → backoff and
   * retry up to `maxRetries`. Anything else is thrown at once.
   */
  private async call<T>(what: string, fn: Call<T>): Promise<T> {
    const { config, signal, stats, logger } = this.o;
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) throw cancelled(signal);
      await this.budget.take(signal);
      let err: DirsyncError;
      let tokenFailure = false;
      const tokenBefore = this.o.jwt.credentials.access_token;
      try {
        const res = await fn({ retry: false, timeout: config.requestTimeout, signal } as never);
        if (typeof res.data === 'object' && res.data !== null && !Array.isArray(res.data)) {
          this.limit.onSuccess();
          return res.data;
        }
        // gaxios hands back the raw text when a JSON body does not parse (a truncated page).
        err = new DirsyncError(
          'DIRSYNC_E_IDP_BAD_RESPONSE',
          `${what}: the response body is not a JSON object`,
        );
      } catch (e) {
        if (signal.aborted) throw cancelled(signal);
        err = classifyError(e, what, this.o.tokenUrl);
        tokenFailure = isTokenRequest(e, this.o.tokenUrl);
      }
      if (err.code === 'DIRSYNC_E_IDP_AUTH' && err.status === 401 && !tokenFailure && !refreshed) {
        // The access token was revoked or expired early: fetch a new one once (unless a
        // concurrent request already did).
        refreshed = true;
        if (this.o.jwt.credentials.access_token === tokenBefore) forceTokenRefresh(this.o.jwt);
        attempt--;
        continue;
      }
      if (err.code === 'DIRSYNC_E_IDP_THROTTLED') {
        stats.throttled++;
        const before = this.limit.current;
        this.limit.onThrottle();
        if (this.limit.current < before)
          logger.debug({ concurrency: this.limit.current }, 'google: throttled, fewer requests at once');
      }
      if (!err.retryable || attempt >= config.maxRetries) {
        if (err.retryable) {
          const detail = err.message.slice(ERROR_CODES[err.code].message.length + 2);
          throw new DirsyncError(err.code, `${detail} (gave up after ${attempt + 1} attempts)`, {
            ...(err.status !== undefined ? { status: err.status } : {}),
            ...(err.vendorCode !== undefined ? { vendorCode: err.vendorCode } : {}),
            cause: err,
          });
        }
        throw err;
      }
      const wait = backoffMs(attempt, err.retryAfterMs, config.maxBackoff);
      if (err.code === 'DIRSYNC_E_IDP_THROTTLED') this.budget.pause(wait);
      logger.debug(
        { what, attempt, code: err.code, status: err.status, reason: err.vendorCode, wait },
        'retrying',
      );
      await sleep(wait, signal);
    }
  }
}

function nextToken(data: unknown, what: string): string | undefined {
  const t = (data as { nextPageToken?: unknown }).nextPageToken;
  if (t === undefined || t === null || t === '') return undefined;
  if (typeof t !== 'string')
    throw new DirsyncError('DIRSYNC_E_IDP_BAD_RESPONSE', `${what}: nextPageToken is not a string`);
  return t;
}
