/**
 * The emulated Admin console audit log: what the Reports API serves as
 * `activities.list(userKey=all, applicationName=admin)`. Every change the emulator's store makes is
 * recorded here, with the event names and parameters Google documents for admin activity events
 * (https://developers.google.com/workspace/admin/reports/v1/appendix/activity/admin-user-settings,
 * .../admin-group-settings).
 *
 * Ingestion lag: Google makes admin events visible some time after they happen. An event is
 * served only once `time + lagMs` has passed; it is always reported with its own `time`.
 */

/** One event of an activity (the Reports API `events[]` entry). */
export interface ActivityEvent {
  type: 'USER_SETTINGS' | 'GROUP_SETTINGS';
  name: string;
  parameters: { name: string; value: string }[];
}

export interface Activity {
  /** Milliseconds since the epoch. */
  time: number;
  /** Order of recording: breaks ties between activities in the same millisecond. */
  seq: number;
  /** Google's int64 `uniqueQualifier`, as a string. */
  uniqueQualifier: string;
  actorEmail: string;
  events: ActivityEvent[];
}

/** Google documents 180 days of admin log retention ("Data retention and lag times"). */
export const ADMIN_LOG_RETENTION_MS = 180 * 24 * 3600 * 1000;

export class ActivityLog {
  private readonly entries: Activity[] = [];
  private seq = 0;
  /** Delay before a recorded event becomes visible (ms). */
  lagMs = 0;

  constructor(readonly actorEmail: string) {}

  /** Records one activity of one event, now. Parameters with an undefined value are left out. */
  record(
    type: ActivityEvent['type'],
    name: string,
    parameters: Record<string, string | undefined>,
    now = Date.now(),
  ): Activity {
    const seq = ++this.seq;
    const a: Activity = {
      time: now,
      seq,
      uniqueQualifier: String(BigInt(now) * 1000n + BigInt(seq % 1000)),
      actorEmail: this.actorEmail,
      events: [
        {
          type,
          name,
          parameters: Object.entries(parameters)
            .filter((e): e is [string, string] => e[1] !== undefined)
            .map(([k, value]) => ({ name: k, value })),
        },
      ],
    };
    this.entries.push(a);
    return a;
  }

  /** Activities recorded so far (visible or not). */
  size(): number {
    return this.entries.length;
  }

  /**
   * Visible activities with `start <= time < end`, newest first (the Reports API's order), after
   * `afterSeq` in that order when paging.
   */
  visible(start: number, end: number, now: number): Activity[] {
    const out: Activity[] = [];
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const a = this.entries[i] as Activity;
      if (a.time < start) break; // recorded in time order
      if (a.time >= end || a.time + this.lagMs > now) continue;
      out.push(a);
    }
    return out;
  }
}
