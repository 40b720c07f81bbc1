/**
 * Vitest hooks around the private instances of instances.ts, kept apart from it: the fault soak
 * imports that file outside Vitest.
 */
import { afterAll, beforeAll } from 'vitest';
import {
  startPrivatePostgres,
  startPrivateRedis,
  type PrivatePostgres,
  type PrivateRedis,
} from './instances.js';

/**
 * A private Postgres and Redis for the calling test file: started before its tests (`beforeAll`),
 * destroyed after them. Call it at the top of the file; the getter works inside tests and hooks
 * registered after it.
 */
export function usePrivateInstances(): () => { pgi: PrivatePostgres; redis: PrivateRedis } {
  let both: { pgi: PrivatePostgres; redis: PrivateRedis } | undefined;
  beforeAll(async () => {
    const [pgi, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
    both = { pgi, redis };
  }, 60_000);
  afterAll(async () => {
    await Promise.all([both?.pgi.destroy(), both?.redis.destroy()]);
  });
  return () => {
    if (!both) throw new Error('the private instances exist only inside tests and hooks');
    return both;
  };
}
