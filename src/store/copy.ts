/**
 * Bulk loading with COPY: rows are encoded in Postgres' text format and streamed with back-pressure,
 * so a million rows never sit in memory at once.
 */
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Writable } from 'node:stream';

/** Encodes one value for COPY text format. */
export function copyValue(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  // Backslash first, then the characters COPY text format treats specially.
  return s.replace(/[\\\n\r\t]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t',
  );
}

/**
 * An order-independent digest of the rows written: the count and two sums of 32-bit FNV-1a hashes
 * of each encoded row (different seeds). Equal multisets of rows give equal digests whatever order
 * an IdP returns them in; any accidental change gives a different one with overwhelming odds.
 */
export interface RowDigest {
  rows: number;
  a: number;
  b: number;
}

function fnv1a(s: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export interface CopyWriter {
  write(values: readonly unknown[]): Promise<void> | void;
  digest(): RowDigest;
  /** Ends the COPY and resolves with the row count once Postgres confirmed it. */
  end(): Promise<number>;
  /** Aborts the COPY (the rows sent so far are discarded with the failed statement). */
  abort(err: Error): void;
}

/** Starts `COPY table (columns) FROM STDIN` on a dedicated client. */
export function startCopy(client: pg.PoolClient, table: string, columns: readonly string[]): CopyWriter {
  const stream: Writable = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  let failure: Error | null = null;
  let rows = 0;
  let sumA = 0;
  let sumB = 0;
  const done = new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', (e) => {
      failure = e;
      reject(e);
    });
  });
  done.catch(() => {});
  // Batch rows into chunks: one write per row costs more than the encoding.
  let buf = '';
  const flush = (): Promise<void> | void => {
    const chunk = buf;
    buf = '';
    if (!stream.write(chunk)) {
      return new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          stream.off('error', onError);
          resolve();
        };
        const onError = (e: Error) => {
          stream.off('drain', onDrain);
          reject(e);
        };
        stream.once('drain', onDrain);
        stream.once('error', onError);
      });
    }
  };
  return {
    write(values) {
      if (failure) throw failure;
      rows++;
      const line = values.map(copyValue).join('\t') + '\n';
      sumA = (sumA + fnv1a(line, 0x811c9dc5)) >>> 0;
      sumB = (sumB + fnv1a(line, 0x01234567)) >>> 0;
      buf += line;
      if (buf.length >= 65_536) return flush();
    },
    digest: () => ({ rows, a: sumA, b: sumB }),
    async end() {
      if (buf.length > 0) await flush();
      stream.end();
      await done;
      return rows;
    },
    abort(err) {
      stream.destroy(err);
    },
  };
}
