/**
 * The Reports API's `activities.list` as the emulator serves it:
 * `GET /admin/reports/v1/activity/users/{userKey}/applications/{applicationName}`.
 * Reference: the discovery document (`admin:reports_v1`) and
 * https://developers.google.com/workspace/admin/reports/reference/rest/v1/activities/list
 *
 * Served: `userKey` `all` or an actor's address, every documented `applicationName` (only `admin`
 * has events here; the others answer empty), `startTime`/`endTime` (RFC 3339, validated by the
 * discovery pattern; `startTime` after `endTime` or in the future is a 400), `maxResults` 1..1000
 * (default 1000), `pageToken`, `eventName`, `customerId`. Newest first. A `startTime` older than
 * the 180-day retention is not an error: Google returns what it still keeps. Not served:
 * `filters`, `actorIpAddress`, `orgUnitID`, `groupIdFilter` (400, so a client notices).
 */
import type { Activity, ActivityLog } from './activity.js';
import { ADMIN_LOG_RETENTION_MS } from './activity.js';
import { ApiError } from './api.js';

type Obj = Record<string, unknown>;

export const REPORTS_PREFIX = '/admin/reports/v1/';

/** The applications of the discovery document's `applicationName` enum. */
const APPLICATIONS = new Set([
  'access_transparency', 'admin', 'calendar', 'chat', 'drive', 'gcp', 'gplus', 'groups', 'groups_enterprise',
  'jamboard', 'login', 'meet', 'mobile', 'rules', 'saml', 'token', 'user_accounts', 'context_aware_access',
  'chrome', 'data_studio', 'keep', 'vault',
]); // prettier-ignore

/** The discovery document's pattern for `startTime` and `endTime`. */
const RFC3339 = /^(\d\d\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:(Z)|([-+])(\d\d):(\d\d))$/;

function timeParam(q: URLSearchParams, name: string): number | null {
  const raw = q.get(name);
  if (raw === null || raw === '') return null;
  const t = RFC3339.test(raw) ? Date.parse(raw) : NaN;
  if (!Number.isFinite(t)) {
    throw new ApiError(
      400,
      'invalid',
      `Invalid value '${raw}'. Values must match the following regular expression: '${RFC3339.source}'`,
      {
        location: name,
      },
    );
  }
  return t;
}

const encodeToken = (o: { s: number; e: number; q: number }) =>
  Buffer.from(JSON.stringify({ ...o, v: 1 })).toString('base64url');

function decodeToken(token: string): { s: number; e: number; q: number } {
  try {
    const o = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (typeof o.s === 'number' && typeof o.e === 'number' && typeof o.q === 'number') {
      return { s: o.s, e: o.e, q: o.q };
    }
  } catch {
    // fall through
  }
  throw new ApiError(400, 'invalid', 'Invalid Input: pageToken', { location: 'pageToken' });
}

function render(a: Activity, customerId: string): Obj {
  return {
    kind: 'admin#reports#activity',
    id: {
      time: new Date(a.time).toISOString(),
      uniqueQualifier: a.uniqueQualifier,
      applicationName: 'admin',
      customerId,
    },
    etag: `"${a.uniqueQualifier}"`,
    actor: { callerType: 'USER', email: a.actorEmail, profileId: '100000000000000000001' },
    ipAddress: '127.0.0.1',
    events: a.events.map((e) => ({ type: e.type, name: e.name, parameters: e.parameters })),
  };
}

/**
 * Answers one activities.list request. `rest` is the path after `/admin/reports/v1/`, decoded.
 */
export function listActivities(
  log: ActivityLog,
  customerId: string,
  rest: string[],
  q: URLSearchParams,
  now = Date.now(),
): Obj {
  const [activity, users, userKey, applications, app] = rest;
  if (
    activity !== 'activity' ||
    users !== 'users' ||
    !userKey ||
    applications !== 'applications' ||
    !app ||
    rest.length !== 5
  ) {
    throw new ApiError(404, 'notFound', `Not Found`);
  }
  if (!APPLICATIONS.has(app)) {
    throw new ApiError(
      400,
      'invalidParameter',
      `Invalid value '${app}'. Values must match the following regular expression: '(access_transparency)|(admin)|...'`,
      {
        location: 'applicationName',
      },
    );
  }
  for (const p of ['filters', 'actorIpAddress', 'orgUnitID', 'groupIdFilter']) {
    if (q.get(p)) throw new ApiError(400, 'invalid', `Invalid Input: ${p} is not emulated`, { location: p });
  }
  const customer = q.get('customerId');
  if (customer && customer !== 'my_customer' && customer !== customerId) {
    throw new ApiError(403, 'forbidden', 'Not Authorized to access this resource/api');
  }
  const rawMax = q.get('maxResults');
  const max = rawMax === null || rawMax === '' ? 1000 : Number(rawMax);
  if (!Number.isInteger(max) || max < 1 || max > 1000) {
    throw new ApiError(
      400,
      'invalidParameter',
      `Invalid value '${rawMax}'. Values must be within the range: [1, 1000]`,
      {
        location: 'maxResults',
      },
    );
  }
  const pageToken = q.get('pageToken');
  let start: number;
  let end: number;
  let afterSeq = Infinity;
  if (pageToken) {
    // The token pins the time range of the first page, as Google's does.
    const t = decodeToken(pageToken);
    start = t.s;
    end = t.e;
    afterSeq = t.q;
  } else {
    end = timeParam(q, 'endTime') ?? now;
    start = timeParam(q, 'startTime') ?? now - ADMIN_LOG_RETENTION_MS;
    if (start > now)
      throw new ApiError(400, 'invalid', 'Start time must be before the current time.', {
        location: 'startTime',
      });
    if (start > end)
      throw new ApiError(400, 'invalid', 'Start time must be before the end time.', {
        location: 'startTime',
      });
    // Older than the retention: what is still kept, no error.
    start = Math.max(start, now - ADMIN_LOG_RETENTION_MS);
  }
  const eventName = q.get('eventName');
  const all = app === 'admin' ? log.visible(start, end + 1, now) : [];
  const actor = userKey === 'all' ? null : userKey.toLowerCase();
  const page: Activity[] = [];
  let more = false;
  for (const a of all) {
    if (a.seq >= afterSeq) continue;
    if (actor !== null && a.actorEmail !== actor) continue;
    if (eventName && !a.events.some((e) => e.name === eventName)) continue;
    if (page.length === max) {
      more = true;
      break;
    }
    page.push(a);
  }
  const body: Obj = {
    kind: 'admin#reports#activities',
    etag: `"${Buffer.from(`${start}:${end}:${afterSeq}:${page.length}`).toString('base64url').slice(0, 27)}"`,
  };
  if (page.length > 0) body.items = page.map((a) => render(a, customerId));
  const last = page[page.length - 1];
  if (more && last) body.nextPageToken = encodeToken({ s: start, e: end, q: last.seq });
  return body;
}
