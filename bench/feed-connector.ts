/**
 * The bench's feed-capable connector (`kind: filefeed`): full reads are the file connector's over
 * `path`; the change feed is `changes`, an NDJSON journal of change items (connectors/types.ts)
 * whose cursor is a line number. It lets `npm run bench` measure incremental runs in a fresh
 * process per sync without an emulator, at any size.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { fileConfigSchema, fileConnector } from '../connectors/file/index.js';
import { emptyStats, type ChangeFeed, type ChangeItem, type Connector } from '../connectors/types.js';
import { DirsyncError } from '../src/errors.js';

export interface FileFeedConfig {
  kind: 'filefeed';
  path: string;
  changes: string;
}

function journal(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

export const fileFeedConnector: Connector<FileFeedConfig> = {
  kind: 'filefeed',
  configSchema: z.object({
    kind: z.literal('filefeed'),
    path: z.string().min(1),
    changes: z.string().min(1),
  }),
  async open(config, ctx) {
    const cursor = String(journal(config.changes).length);
    const source = await fileConnector.open(fileConfigSchema.parse({ kind: 'file', path: config.path }), ctx);
    return { ...source, read: () => source.read(), stats: () => source.stats(), cursor: () => cursor };
  },
  async openFeed(config, _ctx, cursor): Promise<ChangeFeed> {
    const lines = journal(config.changes);
    const from = Number(cursor);
    if (!Number.isInteger(from) || from < 0 || from > lines.length)
      throw new DirsyncError(
        'DIRSYNC_E_CURSOR_EXPIRED',
        `cursor ${cursor} is not a line of ${config.changes}`,
      );
    const stats = emptyStats();
    return {
      async *read() {
        stats.requests = 1;
        for (const l of lines.slice(from)) yield JSON.parse(l) as ChangeItem;
      },
      cursor: () => String(lines.length),
      stats: () => stats,
      close: async () => {},
    };
  },
};
