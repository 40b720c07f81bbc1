/**
 * The net change of a feed. Feed items apply in order (connectors/types.ts); the mirror is patched
 * set-based, so the order is folded in here: each user or group ends in its last state, an edge
 * added after its group was reset or its member removed survives, one added before does not. Held
 * in memory: it grows with the change, not with the directory.
 */
import type { ChangeItem, SnapshotItem, SourceEdge, SourceProblem } from '../../connectors/types.js';
import { DirsyncError } from '../errors.js';
import type { MirrorPatch } from '../store/mirror.js';

const memberKey = (memberType: 'user' | 'group', id: string) => `${memberType === 'user' ? 'u' : 'g'}:${id}`;
const edgeKey = (e: Pick<SourceEdge, 'groupId' | 'memberType' | 'memberId'>) =>
  `${e.groupId}\u0000${memberKey(e.memberType, e.memberId)}`;

export class FeedDelta {
  private readonly objects = new Map<
    string,
    { objectType: 'user' | 'group'; externalId: string; item: SnapshotItem | null }
  >();
  private readonly problems: SourceProblem[] = [];
  private readonly purge = new Map<string, { isGroup: boolean; id: string }>();
  private readonly resets = new Set<string>();
  private readonly removals = new Map<string, SourceEdge>();
  private readonly additions = new Map<string, SourceEdge>();
  private readonly additionsByGroup = new Map<string, Set<string>>();
  private readonly additionsByMember = new Map<string, Set<string>>();
  /** Items read (including ones later superseded). */
  items = 0;

  apply(item: ChangeItem): void {
    this.items++;
    switch (item.kind) {
      case 'user':
      case 'group':
        this.objects.set(`${item.kind}:${item.externalId}`, {
          objectType: item.kind,
          externalId: item.externalId,
          item,
        });
        return;
      case 'problem':
        // A record that became malformed replaces the object (held as it is in the directory).
        if (item.externalId !== null && item.objectType !== 'edge') {
          this.objects.set(`${item.objectType}:${item.externalId}`, {
            objectType: item.objectType,
            externalId: item.externalId,
            item,
          });
        } else this.problems.push(item);
        return;
      case 'removed':
        this.objects.set(`${item.objectType}:${item.externalId}`, {
          objectType: item.objectType,
          externalId: item.externalId,
          item: null,
        });
        this.purge.set(memberKey(item.objectType, item.externalId), {
          isGroup: item.objectType === 'group',
          id: item.externalId,
        });
        this.dropAdditions(this.additionsByMember.get(memberKey(item.objectType, item.externalId)));
        if (item.objectType === 'group') this.dropAdditions(this.additionsByGroup.get(item.externalId));
        return;
      case 'members-reset':
        this.resets.add(item.groupId);
        this.dropAdditions(this.additionsByGroup.get(item.groupId));
        return;
      case 'edge': {
        const k = edgeKey(item);
        this.removals.delete(k);
        this.additions.set(k, item);
        index(this.additionsByGroup, item.groupId, k);
        index(this.additionsByMember, memberKey(item.memberType, item.memberId), k);
        return;
      }
      case 'edge-removed': {
        const k = edgeKey(item);
        const added = this.additions.get(k);
        if (added) this.dropAdditions(new Set([k]));
        this.removals.set(k, {
          kind: 'edge',
          groupId: item.groupId,
          memberType: item.memberType,
          memberId: item.memberId,
        });
        return;
      }
      default:
        throw new DirsyncError(
          'DIRSYNC_E_INTERNAL',
          `change feed yielded an unknown item ${JSON.stringify(item)}`,
        );
    }
  }

  private dropAdditions(keys: Set<string> | undefined): void {
    if (!keys) return;
    for (const k of [...keys]) {
      const e = this.additions.get(k);
      if (!e) continue;
      this.additions.delete(k);
      this.additionsByGroup.get(e.groupId)?.delete(k);
      this.additionsByMember.get(memberKey(e.memberType, e.memberId))?.delete(k);
    }
  }

  /** True when applying this delta changes nothing (the feed was empty or only re-read nothing). */
  isEmpty(): boolean {
    return (
      this.objects.size === 0 &&
      this.problems.length === 0 &&
      this.purge.size === 0 &&
      this.resets.size === 0 &&
      this.removals.size === 0 &&
      this.additions.size === 0
    );
  }

  patch(): MirrorPatch {
    return {
      objects: [...this.objects.values()],
      problems: this.problems,
      purge: [...this.purge.values()],
      resets: [...this.resets],
      edgeRemovals: [...this.removals.values()],
      edgeAdditions: [...this.additions.values()],
    };
  }

  counts(): Record<string, number> {
    return {
      feed_items: this.items,
      feed_objects: this.objects.size,
      feed_edges_added: this.additions.size,
      feed_edges_removed: this.removals.size,
      feed_member_resets: this.resets.size,
    };
  }
}

function index(map: Map<string, Set<string>>, key: string, value: string): void {
  let s = map.get(key);
  if (!s) map.set(key, (s = new Set()));
  s.add(value);
}
