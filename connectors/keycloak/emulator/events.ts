/**
 * The admin-event store of an emulated realm: what Keycloak 26 records when an admin changes the
 * realm through the admin API, and how `GET /admin/realms/{realm}/admin-events` answers.
 *
 * Keycloak behaviour reproduced (services/.../admin/AdminEventBuilder.java, RealmAdminResource
 * `getEvents`, JpaAdminEventQuery, the OpenAPI spec in shared/idp-specs/keycloak):
 * - nothing is stored while the realm's `adminEventsEnabled` is false (Keycloak's default);
 * - `representation` (the JSON the admin sent, as a string) is kept only when
 *   `adminEventsDetailsEnabled` ("Include representation") is on;
 * - `dateFrom` / `dateTo` are inclusive and take `yyyy-MM-dd` (a whole day, server time zone: UTC
 *   here) or epoch milliseconds; anything else is a 400;
 * - newest first unless `direction=asc`; `first` defaults to 0 and `max` to 100;
 * - `resourceTypes` / `operationTypes` repeat as parameters; `resourcePath` matches with `*` as a
 *   wildcard;
 * - events older than the realm's `adminEventsExpiration` (seconds; attribute of the realm) are
 *   purged (Keycloak does it in a periodic task; the emulator does it on every read).
 */

export type OperationType = 'CREATE' | 'UPDATE' | 'DELETE' | 'ACTION';
export type ResourceType = 'USER' | 'GROUP' | 'GROUP_MEMBERSHIP' | 'REALM' | 'REALM_ROLE_MAPPING';

export interface AdminEvent {
  id: string;
  time: number;
  realmId: string;
  authDetails: { realmId: string; clientId: string; userId: string; ipAddress: string };
  operationType: OperationType;
  resourceType: ResourceType;
  resourcePath: string;
  representation?: string;
  /** Emulator-only tie-breaker for events of the same millisecond; never served. */
  seq: number;
}

export interface AdminEventSettings {
  enabled: boolean;
  /** "Include representation". */
  details: boolean;
  /** Seconds an event is kept; absent: forever (Keycloak's default). */
  expirationSec?: number;
}

export class BadEventQuery extends Error {}

export interface EventQuery {
  dateFrom?: string;
  dateTo?: string;
  direction?: string;
  first?: number;
  max?: number;
  resourceTypes: string[];
  operationTypes: string[];
  resourcePath?: string;
}

/** Keycloak parses a date as `yyyy-MM-dd` first, then as epoch millis (RealmAdminResource). */
function parseDate(v: string, end: boolean): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) {
    const t = Date.parse(`${v}T00:00:00.000Z`);
    if (Number.isNaN(t))
      throw new BadEventQuery('Invalid value for dateFrom / dateTo, expected format is yyyy-MM-dd');
    // dateTo names a whole day: up to its last millisecond.
    return end ? t + 86_400_000 - 1 : t;
  }
  if (/^\d+$/.test(v)) return Number(v);
  throw new BadEventQuery('Invalid value for dateFrom / dateTo, expected format is yyyy-MM-dd');
}

export class AdminEventLog {
  private events: AdminEvent[] = [];
  private seq = 0;
  private lastTime = 0;
  /** Stored events, for tests and the control API. */
  get size(): number {
    return this.events.length;
  }

  constructor(
    readonly realmId: string,
    public settings: AdminEventSettings,
    private readonly actor: AdminEvent['authDetails'],
    private readonly clock: () => number = Date.now,
  ) {}

  /** Records one admin operation, as AdminEventBuilder.success() does. */
  record(
    operationType: OperationType,
    resourceType: ResourceType,
    resourcePath: string,
    representation?: unknown,
  ): void {
    if (!this.settings.enabled) return;
    // A wall clock never goes backwards for the same realm here; Keycloak nodes can (clock skew),
    // which the connector's overlap window is for.
    const time = Math.max(this.clock(), this.lastTime);
    this.lastTime = time;
    const seq = this.seq++;
    this.events.push({
      id: `${(time * 1000 + (seq % 1000)).toString(16).padStart(12, '0')}-ae00-4000-8000-${seq.toString(16).padStart(12, '0')}`,
      time,
      realmId: this.realmId,
      authDetails: this.actor,
      operationType,
      resourceType,
      resourcePath,
      ...(this.settings.details && representation !== undefined
        ? { representation: JSON.stringify(representation) }
        : {}),
      seq,
    });
  }

  /** Drops everything, as `DELETE /admin/realms/{realm}/admin-events` does. */
  clear(): void {
    this.events = [];
  }

  /** Ages every stored event by `ms` (tests: "the cursor is older than the retention"). */
  age(ms: number): void {
    for (const e of this.events) e.time -= ms;
  }

  private purge(): void {
    const exp = this.settings.expirationSec;
    if (exp === undefined || exp <= 0) return;
    const limit = this.clock() - exp * 1000;
    if (this.events.length > 0 && (this.events[0] as AdminEvent).time < limit)
      this.events = this.events.filter((e) => e.time >= limit);
  }

  private firstAtOrAfter(time: number): number {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.events[mid] as AdminEvent).time < time) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  query(q: EventQuery): Omit<AdminEvent, 'seq'>[] {
    this.purge();
    const from = q.dateFrom === undefined ? undefined : parseDate(q.dateFrom, false);
    const to = q.dateTo === undefined ? undefined : parseDate(q.dateTo, true);
    const types = new Set(q.resourceTypes);
    const ops = new Set(q.operationTypes);
    const path =
      q.resourcePath === undefined
        ? undefined
        : new RegExp(`^${q.resourcePath.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    const asc = q.direction?.toLowerCase() === 'asc';
    // Events are stored in time order (record() never goes back; age() moves all alike): start at
    // the first one at or after dateFrom, as Keycloak's index on the event time does, instead of
    // scanning a million events of an org's creation for every page.
    const start = from === undefined ? 0 : this.firstAtOrAfter(from);
    const matching = this.events
      .slice(start)
      .filter(
        (e) =>
          (from === undefined || e.time >= from) &&
          (to === undefined || e.time <= to) &&
          (types.size === 0 || types.has(e.resourceType)) &&
          (ops.size === 0 || ops.has(e.operationType)) &&
          (path === undefined || path.test(e.resourcePath)),
      );
    // Stored in time order already; ORDER BY time (then insertion) in either direction.
    if (!asc) matching.reverse();
    const first = Math.max(0, q.first ?? 0);
    const max = q.max ?? 100;
    const page = max < 0 ? matching.slice(first) : matching.slice(first, first + max);
    return page.map(({ seq: _seq, ...e }) => e);
  }
}
