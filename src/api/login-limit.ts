/**
 * Failed logins per client address, so the dashboard token cannot be guessed at network speed.
 * Hand-written rather than @fastify/rate-limit: it limits one route, counts only failures (a user
 * who types the token right is never slowed), and needs no store beyond this process (a token of
 * 16+ random characters is out of reach at 10 guesses per 5 minutes per address).
 */
export interface LoginLimiter {
  /** Milliseconds to wait before the next attempt from `addr`, or 0 when it may try now. */
  retryAfterMs(addr: string, now?: number): number;
  failed(addr: string, now?: number): void;
  succeeded(addr: string): void;
}

export function loginLimiter(maxFailures = 10, windowMs = 5 * 60_000): LoginLimiter {
  const failures = new Map<string, number[]>();
  const recent = (addr: string, now: number) => {
    const list = (failures.get(addr) ?? []).filter((t) => now - t < windowMs);
    if (list.length > 0) failures.set(addr, list);
    else failures.delete(addr);
    return list;
  };
  return {
    retryAfterMs(addr, now = Date.now()) {
      const list = recent(addr, now);
      return list.length >= maxFailures ? windowMs - (now - (list[0] as number)) : 0;
    },
    failed(addr, now = Date.now()) {
      const list = recent(addr, now);
      list.push(now);
      failures.set(addr, list);
      // Bound the memory a flood of addresses can take.
      if (failures.size > 10_000) failures.delete(failures.keys().next().value as string);
    },
    succeeded(addr) {
      failures.delete(addr);
    },
  };
}
