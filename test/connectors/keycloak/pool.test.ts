import { describe, expect, it } from 'vitest';
import { Limiter } from '../../../connectors/keycloak/pool.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('keycloak Limiter', () => {
  it('runs at most `max` at once, in FIFO order, with thousands queued and no listener-leak warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const limiter = new Limiter(3);
      const signal = new AbortController().signal;
      let running = 0;
      let peak = 0;
      const started: number[] = [];
      const all = Array.from({ length: 2000 }, (_, i) =>
        limiter.run(async () => {
          started.push(i);
          peak = Math.max(peak, ++running);
          await tick();
          running--;
          return i;
        }, signal),
      );
      expect(limiter.queued).toBe(1997);
      expect(await Promise.all(all)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
      expect(peak).toBe(3);
      expect(started).toEqual(Array.from({ length: 2000 }, (_, i) => i));
      await tick();
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('an abort rejects every waiting task; running ones finish; later runs are refused', async () => {
    const limiter = new Limiter(2);
    const ac = new AbortController();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const running = [0, 1].map((i) => limiter.run(() => gate.then(() => i), ac.signal));
    const waiting = Array.from({ length: 50 }, (_, i) => limiter.run(async () => i, ac.signal));
    expect(limiter.queued).toBe(50);
    ac.abort();
    const outcomes = await Promise.allSettled(waiting);
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    expect((outcomes[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'DIRSYNC_E_RUN_CANCELLED' });
    expect(limiter.queued).toBe(0);
    release();
    expect(await Promise.all(running)).toEqual([0, 1]);
    await expect(limiter.run(async () => 1, ac.signal)).rejects.toMatchObject({
      code: 'DIRSYNC_E_RUN_CANCELLED',
    });
  });
});
