/**
 * Fetch: drains a connector's snapshot stream once, filters users, applies transforms and hands
 * every record to the stage. The stream is the only place the snapshot passes through JS.
 */
import type { Source, SourceUser } from '../../connectors/types.js';
import { DirsyncError, toDirsyncError } from '../errors.js';
import type { StageSink } from './stage.js';
import type { Transformer } from './transform.js';

export interface FetchCounts {
  users: number;
  groups: number;
  edges: number;
  /** Records the connector could not map. */
  problems: number;
  /** Users left out by the user filter. */
  filteredUsers: number;
}

export interface FetchResult extends FetchCounts {
  /** Order-independent digest of everything staged. */
  digest: string;
  /** No edge was staged twice (StageSink.edgesDistinct). */
  edgesDistinct: boolean;
}

export interface FetchOptions {
  transformer: Transformer;
  userFilter: ((u: SourceUser) => boolean) | null;
  signal: AbortSignal;
  onCount?: (c: FetchCounts) => void;
}

export async function fetchSnapshot(
  source: Source,
  sink: StageSink,
  opts: FetchOptions,
): Promise<FetchResult> {
  const counts: FetchCounts = { users: 0, groups: 0, edges: 0, problems: 0, filteredUsers: 0 };
  let seen = 0;
  try {
    for await (const item of source.read()) {
      if (opts.signal.aborted) throw opts.signal.reason ?? new DirsyncError('DIRSYNC_E_RUN_CANCELLED');
      let pending: Promise<void> | void;
      switch (item.kind) {
        case 'user': {
          counts.users++;
          const keep = opts.userFilter ? opts.userFilter(item) : true;
          if (!keep) counts.filteredUsers++;
          pending = sink.user(opts.transformer.user(item), !keep);
          break;
        }
        case 'group':
          counts.groups++;
          pending = sink.group(opts.transformer.group(item));
          break;
        case 'edge':
          counts.edges++;
          pending = sink.edge(item);
          break;
        case 'problem':
          counts.problems++;
          pending = sink.problem(item);
          break;
        default:
          throw new DirsyncError(
            'DIRSYNC_E_INTERNAL',
            `connector yielded an unknown item ${JSON.stringify(item)}`,
          );
      }
      if (pending) await pending;
      if (++seen % 10_000 === 0) opts.onCount?.(counts);
    }
    await sink.end();
    opts.onCount?.(counts);
    return { ...counts, digest: sink.digest(), edgesDistinct: sink.edgesDistinct() };
  } catch (e) {
    const err = toDirsyncError(e, 'DIRSYNC_E_SOURCE_FAILED');
    await sink.abort(err);
    throw err;
  }
}
