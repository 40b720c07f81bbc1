/**
 * Small concurrency primitives: a request limiter, a bounded channel between fetch workers and the
 * consuming generator, and abortable backoff sleeps.
 */
import { DirsyncError } from '../../src/errors.js';

/** The error to stop with: the run's own reason (cancelled, timed out) when it gave one. */
export function cancelled(signal?: AbortSignal): DirsyncError {
  if (signal?.reason instanceof DirsyncError) return signal.reason;
  return new DirsyncError('DIRSYNC_E_RUN_CANCELLED', 'the Keycloak read was cancelled');
}

/** Resolves after `ms`, or rejects with a cancellation as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(cancelled(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(cancelled(signal));
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"),
 * but never shorter than what the server asked for.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, retryAfterMs?: number): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = cap / 2 + Math.random() * (cap / 2);
  return Math.max(jittered, Math.min(retryAfterMs ?? 0, maxMs));
}

/**
 * At most `max` tasks run at once; the others wait in FIFO order. A read may queue thousands of
 * tasks at once (a group check per group an event names): the limiter listens once per signal,
 * not once per waiting task, so Node sees no listener leak and an abort still rejects each one.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<{ signal: AbortSignal; wake: () => void; fail: (e: unknown) => void }> = [];
  private readonly watched = new Set<AbortSignal>();

  constructor(private readonly max: number) {}

  async run<T>(task: () => Promise<T>, signal: AbortSignal): Promise<T> {
    if (signal.aborted) throw cancelled(signal);
    if (this.active >= this.max) {
      this.watch(signal);
      await new Promise<void>((wake, fail) => this.waiting.push({ signal, wake, fail }));
    } else {
      this.active++;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      // Hand the slot straight to the next waiter, so `active` never over-counts.
      if (next) next.wake();
      else this.active--;
    }
  }

  /** Tasks waiting now (tests). */
  get queued(): number {
    return this.waiting.length;
  }

  private watch(signal: AbortSignal): void {
    if (this.watched.has(signal)) return;
    this.watched.add(signal);
    signal.addEventListener(
      'abort',
      () => {
        this.watched.delete(signal);
        for (let i = this.waiting.length - 1; i >= 0; i--) {
          const w = this.waiting[i] as (typeof this.waiting)[number];
          if (w.signal !== signal) continue;
          this.waiting.splice(i, 1);
          w.fail(cancelled(signal));
        }
      },
      { once: true },
    );
  }
}

/**
 * A bounded queue of batches from producers (fetch workers) to one consumer. `push` waits while the
 * queue is full, so a slow consumer (the pipeline writing to Postgres) stops further requests
 * rather than letting pages pile up in memory.
 */
export class Channel<T> {
  private readonly items: T[][] = [];
  private readonly spaceWaiters: Array<() => void> = [];
  private dataWaiter: (() => void) | null = null;
  private closed = false;
  private failure: unknown = null;

  constructor(private readonly capacity: number) {}

  async push(batch: T[]): Promise<void> {
    while (this.items.length >= this.capacity && !this.closed) {
      await new Promise<void>((r) => this.spaceWaiters.push(r));
    }
    if (this.closed) return;
    this.items.push(batch);
    this.wakeConsumer();
  }

  /** No more batches; the consumer drains what is queued, then ends. */
  close(): void {
    this.closed = true;
    this.wakeConsumer();
    this.wakeProducers();
  }

  /** Ends the stream with an error at the consumer's next read; queued batches are dropped. */
  fail(error: unknown): void {
    if (this.failure === null) this.failure = error;
    this.items.length = 0;
    this.close();
  }

  async *drain(): AsyncGenerator<T> {
    for (;;) {
      if (this.failure !== null) throw this.failure;
      const batch = this.items.shift();
      if (batch) {
        this.wakeProducers();
        yield* batch;
        continue;
      }
      if (this.closed) {
        if (this.failure !== null) throw this.failure;
        return;
      }
      await new Promise<void>((r) => (this.dataWaiter = r));
    }
  }

  private wakeConsumer(): void {
    const w = this.dataWaiter;
    this.dataWaiter = null;
    w?.();
  }

  private wakeProducers(): void {
    for (const w of this.spaceWaiters.splice(0)) w();
  }
}
