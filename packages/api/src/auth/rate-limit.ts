/**
 * Failed logins per key (the email) in a sliding window, in this process's memory: enough to
 * slow password guessing against one account; several web processes each keep their own count.
 */
export class LoginRateLimiter {
  readonly #failures = new Map<string, number[]>();

  constructor(
    readonly maxFailures = 10,
    readonly windowMs = 15 * 60 * 1000,
  ) {}

  #recent(key: string, now: number): number[] {
    const list = (this.#failures.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (list.length) this.#failures.set(key, list);
    else this.#failures.delete(key);
    return list;
  }

  /** Milliseconds until the next attempt is allowed, or 0. */
  blockedFor(key: string, now = Date.now()): number {
    const list = this.#recent(key, now);
    if (list.length < this.maxFailures) return 0;
    return this.windowMs - (now - list[0]!);
  }

  fail(key: string, now = Date.now()): void {
    const list = this.#recent(key, now);
    list.push(now);
    this.#failures.set(key, list);
    // Keep memory bounded under a spray of random emails.
    if (this.#failures.size > 10_000) {
      const oldest = this.#failures.keys().next().value;
      if (oldest !== undefined) this.#failures.delete(oldest);
    }
  }

  succeed(key: string): void {
    this.#failures.delete(key);
  }
}
