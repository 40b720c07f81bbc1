/**
 * A one-line live progress display for long CLI runs, on a terminal only: redrawn in place, at
 * most a few times a second, and erased when the run ends so the summary prints cleanly. Off a
 * terminal it prints nothing (logs and the summary say what happened).
 */
import type { RunProgress } from '../pipeline/run.js';

export interface ProgressLine {
  update(text: string): void;
  /** Erases the line. */
  done(): void;
}

export function progressLine(stream: NodeJS.WriteStream, minIntervalMs = 200): ProgressLine | null {
  if (!stream.isTTY) return null;
  let last = 0;
  let shown = false;
  return {
    update(text) {
      const now = Date.now();
      if (now - last < minIntervalMs) return;
      last = now;
      const width = Math.max(20, (stream.columns ?? 80) - 1);
      stream.write(`\r\x1b[K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      shown = true;
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}

const n = (x: number) => x.toLocaleString('en-US');

/** What a run is doing, in words: `fetch · 12,000 users, 300 groups, 40,000 memberships · 85 requests`. */
export function progressText(p: RunProgress): string {
  const parts = [p.phase];
  if (p.read)
    parts.push(`${n(p.read.users)} users, ${n(p.read.groups)} groups, ${n(p.read.edges)} memberships read`);
  if (p.source)
    parts.push(`${p.source.phase} ${n(p.source.done)}${p.source.total ? ` of ${n(p.source.total)}` : ''}`);
  if (p.requests) parts.push(`${n(p.requests)} requests`);
  return parts.join(' · ');
}
