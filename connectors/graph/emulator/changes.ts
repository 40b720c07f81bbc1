/**
 * The store's change log: what the delta service reads instead of the directory. Every visible
 * change the store makes is appended with the next sequence number (the store's version): a
 * user's or group's rendered properties changing, an object becoming listed or unlisted (created,
 * deleted, soft-deleted, restored), and a member joining or leaving a group's direct member list
 * as `/groups/{id}/members` shows it. A delta token names a version; the changes after it are the
 * entries with a higher sequence number, so a delta round costs what changed, not the directory.
 *
 * Retention is bounded: past {@link ChangeLogOptions.maxEntries} the oldest entries are dropped,
 * and a version older than the newest dropped entry can no longer be answered (its token is
 * expired, as Graph's are after seven days).
 */

export type ChangeKind = 'users' | 'groups';

/** Some of an object's rendered properties changed (`props`: their names). */
export interface PropsChange {
  seq: number;
  kind: ChangeKind;
  /** Graph id. */
  id: string;
  what: 'props';
  props: readonly string[];
}

/** The object became listed (created, restored, re-enabled from off-boarding) or unlisted (deleted). */
export interface ListingChange {
  seq: number;
  kind: ChangeKind;
  id: string;
  what: 'listed' | 'unlisted';
}

/** A direct member joined (`added`) or left a group's member list. */
export interface MemberChange {
  seq: number;
  kind: 'groups';
  /** The group's Graph id. */
  id: string;
  what: 'member';
  added: boolean;
  /** Entity type of the member (`user`, `group`, `device`, ...). */
  type: string;
  /** The member's Graph id. */
  member: string;
}

export type Change = PropsChange | ListingChange | MemberChange;

/** Change-log settings. */
export interface ChangeLogOptions {
  /** Entries kept; older ones are dropped and the versions they follow expire. */
  maxEntries: number;
}

/**
 * 500,000 entries (tens of MB) hold several 1% rounds of a 100k-user tenant: a token older than
 * that much change answers 410 `resyncRequired`, which a consumer must handle anyway.
 */
const DEFAULT_MAX_ENTRIES = 500_000;

type NewChange = Omit<PropsChange, 'seq'> | Omit<ListingChange, 'seq'> | Omit<MemberChange, 'seq'>;

export class ChangeLog {
  private entries: Change[] = [];
  /** Sequence number of `entries[0]` (entries are consecutive). */
  private firstSeq = 1;
  private seq = 0;
  private expiredBelow = 0;
  private readonly maxEntries: number;

  constructor(opts: Partial<ChangeLogOptions> = {}) {
    this.maxEntries = Math.max(1, opts.maxEntries ?? DEFAULT_MAX_ENTRIES);
  }

  /** The current version: the sequence number of the last change (0 before any). */
  get version(): number {
    return this.seq;
  }

  /** Number of entries held (for tests and stats). */
  get size(): number {
    return this.entries.length;
  }

  /** Whether the changes after `version` are all still held. */
  covers(version: number): boolean {
    return version >= this.expiredBelow && version <= this.seq;
  }

  record(change: NewChange): void {
    const entry = { ...change, seq: ++this.seq } as Change;
    if (this.entries.length === 0) this.firstSeq = entry.seq;
    this.entries.push(entry);
    if (this.entries.length > this.maxEntries) {
      // Drop a tenth at a time so trimming stays amortised O(1) per change.
      const drop = Math.max(1, this.entries.length - Math.floor(this.maxEntries * 0.9));
      this.expiredBelow = (this.entries[drop - 1] as Change).seq;
      this.entries = this.entries.slice(drop);
      this.firstSeq = this.expiredBelow + 1;
    }
  }

  /** The changes after `version`, oldest first. Call {@link covers} first. */
  *since(version: number): Generator<Change> {
    for (let i = Math.max(0, version + 1 - this.firstSeq); i < this.entries.length; i++) {
      yield this.entries[i] as Change;
    }
  }

  /** Expires every version so far (the next change starts a new history). */
  expireAll(): void {
    this.seq++;
    this.expiredBelow = this.seq;
    this.entries = [];
  }
}
