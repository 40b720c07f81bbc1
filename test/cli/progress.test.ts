import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progressLine, progressText } from '../../src/cli/progress.js';
import { humanLogs } from '../../src/logger.js';

/** A terminal-like stream that keeps what was written. */
function terminal(columns = 80) {
  const s = new PassThrough() as unknown as NodeJS.WriteStream & { text: string };
  s.text = '';
  Object.assign(s, { isTTY: true, columns });
  s.write = ((chunk: string) => {
    s.text += chunk;
    return true;
  }) as never;
  return s;
}

describe('CLI progress', () => {
  it('draws one line in place on a terminal and erases it at the end', () => {
    const t = terminal(40);
    const p = progressLine(t, 0);
    expect(p).not.toBeNull();
    p?.update(
      progressText({
        runId: 1,
        phase: 'fetch',
        read: { users: 12000, groups: 300, edges: 40000, problems: 0, filteredUsers: 0 },
        requests: 85,
      }),
    );
    expect(t.text.startsWith('\r\x1b[K')).toBe(true);
    expect(t.text).toContain('fetch · 12,000 users');
    // Cut to the terminal's width, so the line never wraps.
    expect(t.text.replace('\r\x1b[K', '').length).toBeLessThanOrEqual(39);
    p?.done();
    expect(t.text.endsWith('\r\x1b[K')).toBe(true);
  });

  it('prints nothing when the output is not a terminal', () => {
    const pipe = new PassThrough() as unknown as NodeJS.WriteStream;
    expect(progressLine(pipe)).toBeNull();
  });

  it('says what the source is doing', () => {
    expect(
      progressText({ runId: 1, phase: 'fetch', source: { phase: 'members', done: 120, total: 800 } }),
    ).toBe('fetch · members 120 of 800');
  });
});

describe('log format', () => {
  it('is human on a terminal and JSON elsewhere, unless DIRSYNC_LOG_FORMAT says otherwise', () => {
    expect(humanLogs({}, true)).toBe(true);
    expect(humanLogs({}, false)).toBe(false);
    expect(humanLogs({ DIRSYNC_LOG_FORMAT: 'json' }, true)).toBe(false);
    expect(humanLogs({ DIRSYNC_LOG_FORMAT: 'pretty' }, false)).toBe(true);
  });
});
