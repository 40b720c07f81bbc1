/**
 * `GET /api/v1/logs`, the System Log, as Okta serves it:
 * - polling requests (no `until`, ascending): `since` bounds the *persistence* time, events appear
 *   only once ingested (the store's `logDelayMs`), and every page, the empty last one included,
 *   carries `rel="next"` so a client can keep polling;
 * - bounded requests (`until`, or `sortOrder=DESCENDING`): `since` ≤ `published` < `until`, a next
 *   link only while more events follow;
 * - `since` defaults to 7 days before `until`; a `since` before the retention window (90 days) is
 *   refused with 400 E0000001; `limit` defaults to 100, at most 1,000;
 * - `filter` (SCIM expressions over the event, e.g. `eventType eq "..."`, `target.id eq "..."`) and
 *   `q` (case-insensitive keywords).
 * https://developer.okta.com/docs/reference/system-log-query/
 */
import { evalExpr, ExprError, parseExpr, type Expr } from './expr.js';
import type { ListResult } from './api.js';
import type { OktaStore, StoredEvent } from './store.js';

const DAY = 86_400_000;

const invalid = (field: string, cause: string): ListResult => ({
  status: 400,
  body: null,
  headers: {},
  error: { code: 'E0000001', summary: `Api validation failed: ${field}`, causes: [`${field}: ${cause}`] },
});

function parseTime(raw: string | null): number | null | 'bad' {
  if (raw === null || raw === '') return null;
  // ISO 8601 date-times only (Okta rejects other formats).
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw)) return 'bad';
  const t = Date.parse(raw);
  return Number.isFinite(t) ? t : 'bad';
}

function matchesQ(e: StoredEvent, words: string[]): boolean {
  const hay = [
    e.event.eventType,
    e.event.displayMessage,
    e.event.actor.displayName,
    e.event.actor.alternateId,
    ...e.event.target.flatMap((t) => [t.id, t.displayName, t.alternateId]),
  ]
    .join(' ')
    .toLowerCase();
  return words.every((w) => hay.includes(w));
}

export function listLogs(store: OktaStore, base: string, q: URLSearchParams): ListResult {
  const now = store.now();
  const rawLimit = q.get('limit');
  let limit = 100;
  if (rawLimit !== null && rawLimit !== '') {
    const n = Number(rawLimit);
    if (!Number.isInteger(n) || n < 0) return invalid('limit', 'must be an integer between 0 and 1000');
    limit = Math.min(n, 1000);
  }
  const until = parseTime(q.get('until'));
  const since = parseTime(q.get('since'));
  if (until === 'bad')
    return invalid(
      'until',
      'The date format in your query is not recognized. Please enter dates using ISO8601 string format.',
    );
  if (since === 'bad')
    return invalid(
      'since',
      'The date format in your query is not recognized. Please enter dates using ISO8601 string format.',
    );
  const order = q.get('sortOrder') ?? 'ASCENDING';
  if (order !== 'ASCENDING' && order !== 'DESCENDING')
    return invalid('sortOrder', 'must be one of ASCENDING, DESCENDING');
  const from = since ?? (until ?? now) - 7 * DAY;
  if (from < now - store.retentionDays * DAY)
    return invalid(
      'since',
      `The since parameter is outside the ${store.retentionDays} day retention window of the System Log.`,
    );
  if (until !== null && until < from) return invalid('until', 'must be after since');

  let expr: Expr | null = null;
  const filter = q.get('filter');
  if (filter) {
    try {
      expr = parseExpr(filter);
    } catch (e) {
      if (e instanceof ExprError)
        return {
          ...invalid('filter', 'Invalid filter expression'),
          error: { code: 'E0000031', summary: 'Invalid search criteria.' },
        };
      throw e;
    }
  }
  const words = (q.get('q') ?? '')
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== '');
  const keep = (e: StoredEvent) =>
    (expr === null || evalExpr(expr, e.event, false)) && (words.length === 0 || matchesQ(e, words));

  const after = Number(q.get('after') ?? '0') || 0;
  const polling = until === null && order === 'ASCENDING';
  const items: unknown[] = [];
  let last = after;
  let more = false;
  if (polling) {
    for (const e of store.log) {
      if (e.seq <= after) continue;
      // Not ingested yet: stop here, the next poll resumes from this event.
      if (e.persistedAt > now) break;
      if (e.persistedAt < from) {
        last = e.seq;
        continue;
      }
      if (items.length === limit) break;
      last = e.seq;
      if (keep(e)) items.push(e.event);
    }
  } else {
    const to = until ?? now;
    const visible = store.log.filter((e) => {
      const p = Date.parse(e.event.published);
      return e.persistedAt <= now && p >= from && p < to && keep(e);
    });
    if (order === 'DESCENDING') visible.reverse();
    // `after` counts events already served in this bounded window (an opaque token to clients).
    const page = visible.slice(after, after + limit);
    items.push(...page.map((e) => e.event));
    last = after + page.length;
    more = last < visible.length;
  }

  const self = `<${base}/api/v1/logs${q.toString() ? `?${q}` : ''}>; rel="self"`;
  let link = self;
  if (polling || more) {
    const nq = new URLSearchParams(q);
    nq.set('after', String(last));
    if (!nq.has('limit')) nq.set('limit', String(limit));
    link = `${self}, <${base}/api/v1/logs?${nq}>; rel="next"`;
  }
  return { status: 200, body: items, headers: { Link: link } };
}
