/**
 * Delta tokens: what a `$deltatoken` names (the collection, the store version the round ended at,
 * and the `$select` of the round that began the chain), sealed with an HMAC so the emulator keeps
 * no state per issued token and can still tell a token it issued (expired or not) from one it
 * never issued (`syncStateNotFound`). Opaque to clients, as Graph's are.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type DeltaKind = 'users' | 'groups';

/** What a delta token names. */
export interface DeltaTokenState {
  kind: DeltaKind;
  /** Store version (change-log sequence number) the round reflects. */
  version: number;
  /** The `$select` of the round that began the chain, in the client's order. */
  select: readonly string[];
}

const MAC_BYTES = 16;

export class DeltaTokens {
  private readonly key = randomBytes(32);
  /** Distinct `$select` lists seen, so a token carries an index, not the list. */
  private readonly selects: (readonly string[])[] = [];
  private readonly selectIndex = new Map<string, number>();

  issue(state: DeltaTokenState): string {
    const joined = state.select.join(',');
    let i = this.selectIndex.get(joined);
    if (i === undefined) {
      i = this.selects.push([...state.select]) - 1;
      this.selectIndex.set(joined, i);
    }
    // A nonce makes every round's token new, as Graph's are, even when nothing changed.
    const nonce = randomBytes(6).toString('base64url');
    const body = Buffer.from(`${state.kind === 'users' ? 'u' : 'g'}.${state.version}.${i}.${nonce}`);
    return Buffer.concat([body, this.mac(body)]).toString('base64url');
  }

  /** The state a token names, or null for a token this emulator never issued. */
  read(token: string): DeltaTokenState | null {
    const raw = Buffer.from(token, 'base64url');
    if (raw.length <= MAC_BYTES) return null;
    const body = raw.subarray(0, raw.length - MAC_BYTES);
    if (!timingSafeEqual(raw.subarray(raw.length - MAC_BYTES), this.mac(body))) return null;
    const [k, v, i] = body.toString('utf8').split('.');
    const select = this.selects[Number(i)];
    if ((k !== 'u' && k !== 'g') || select === undefined) return null;
    return { kind: k === 'u' ? 'users' : 'groups', version: Number(v), select };
  }

  private mac(body: Buffer): Buffer {
    return createHmac('sha256', this.key).update(body).digest().subarray(0, MAC_BYTES);
  }
}
