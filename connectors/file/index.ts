/**
 * The `file` connector reads a snapshot exported by an HR system or a script: one JSON document
 * (`{ users, groups, memberships? }`) or NDJSON (one `{ "type": "user" | "group" | "membership", ... }`
 * per line, streamed so a large file never sits in memory).
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { DirsyncError } from '../../src/errors.js';
import { emptyStats, type Connector, type SnapshotItem, type Source } from '../types.js';
import { mapGroup, mapLine, mapMembership, mapUser } from './map.js';

export const fileConfigSchema = z.object({
  kind: z.literal('file'),
  /** Path of the snapshot, relative to the working directory. */
  path: z.string().min(1),
  /** `auto` picks NDJSON for `.ndjson`/`.jsonl` files and JSON otherwise. */
  format: z.enum(['auto', 'json', 'ndjson']).default('auto'),
});

export type FileConfig = z.infer<typeof fileConfigSchema>;

function formatOf(cfg: FileConfig): 'json' | 'ndjson' {
  if (cfg.format !== 'auto') return cfg.format;
  return /\.(ndjson|jsonl)$/i.test(cfg.path) ? 'ndjson' : 'json';
}

async function* readJson(path: string): AsyncGenerator<SnapshotItem> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new DirsyncError(
      'DIRSYNC_E_SNAPSHOT_INVALID',
      `${path} is not valid JSON: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { users?: unknown }).users)) {
    throw new DirsyncError('DIRSYNC_E_SNAPSHOT_INVALID', `${path}: expected an object with a "users" array`);
  }
  const {
    users,
    groups = [],
    memberships = [],
  } = doc as { users: unknown[]; groups?: unknown; memberships?: unknown };
  if (!Array.isArray(groups) || !Array.isArray(memberships)) {
    throw new DirsyncError(
      'DIRSYNC_E_SNAPSHOT_INVALID',
      `${path}: "groups" and "memberships" must be arrays`,
    );
  }
  for (const u of users) yield* mapUser(u);
  for (const g of groups) yield* mapGroup(g);
  for (const m of memberships) yield* mapMembership(m);
}

async function* readNdjson(path: string, onLine: () => void): AsyncGenerator<SnapshotItem> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    onLine();
    if (line.trim() === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      // One bad line must not read as "these records are gone": fail the whole run.
      throw new DirsyncError('DIRSYNC_E_SNAPSHOT_INVALID', `${path}:${n} is not valid JSON`);
    }
    yield* mapLine(raw);
  }
}

export const fileConnector: Connector<FileConfig> = {
  kind: 'file',
  configSchema: fileConfigSchema,
  async open(config, ctx): Promise<Source> {
    try {
      await stat(config.path);
    } catch (cause) {
      throw new DirsyncError('DIRSYNC_E_SNAPSHOT_INVALID', `cannot read ${config.path}`, { cause });
    }
    const stats = emptyStats();
    return {
      read() {
        const format = formatOf(config);
        stats.pages = 1;
        let lines = 0;
        return format === 'json'
          ? readJson(config.path)
          : readNdjson(config.path, () => {
              if (++lines % 50_000 === 0) ctx.progress({ phase: 'reading', done: lines });
            });
      },
      stats: () => stats,
      close: async () => {},
    };
  },
};
