// Nonces for one signing account. Concurrent submissions each take the next nonce at once,
// so they never collide (no random sleeps); a rejected nonce makes the next caller re-read it.
export class NonceManager {
  private next: number | null = null;
  private loading: Promise<number> | null = null;

  constructor(private readonly fetchNonce: () => Promise<number>) {}

  /** The nonce for the next transaction; reserves it. */
  async take(): Promise<number> {
    if (this.next === null) {
      this.loading ??= this.fetchNonce().finally(() => {
        this.loading = null;
      });
      const fetched = await this.loading;
      this.next ??= fetched;
    }
    return this.next++;
  }

  /** Forget the local count (after a nonce was refused, or a reconnect): re-read from the chain. */
  reset(): void {
    this.next = null;
  }
}
