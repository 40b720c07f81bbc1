import { DirsyncError } from '../../src/errors.js';

/** Sleeps, or rejects with DIRSYNC_E_RUN_CANCELLED as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(cancelled());
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(cancelled());
    };
    const t = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const cancelled = () => new DirsyncError('DIRSYNC_E_RUN_CANCELLED', 'the Okta read was aborted');
