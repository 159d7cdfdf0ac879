/**
 * Token bucket for `max_fetch_per_minute`: capacity = the rate, refilled continuously
 * (one token every 60000/rate ms). Arithmetic is in "token-milliseconds" (1 token = 60000
 * units, refill = rate units per ms) so with a whole-millisecond clock the boundary is exact.
 */
export interface TokenBucket {
  /** Takes one token if there is one. */
  take(): boolean;
  /** Milliseconds until the next token (0 when one is available). */
  waitMs(): number;
}

const UNIT = 60_000;

export function createTokenBucket(perMinute: number, now: () => number): TokenBucket {
  const rate = Math.max(0, perMinute);
  const capacity = rate * UNIT;
  let units = capacity;
  let last = now();

  const refill = (): void => {
    const t = now();
    if (t > last) units = Math.min(capacity, units + (t - last) * rate);
    last = Math.max(last, t);
  };

  return {
    take(): boolean {
      refill();
      if (units < UNIT) return false;
      units -= UNIT;
      return true;
    },
    waitMs(): number {
      refill();
      if (units >= UNIT) return 0;
      return rate === 0 ? Infinity : Math.ceil((UNIT - units) / rate);
    },
  };
}
