/**
 * The `Idempotency-Key` of one admin write (a shipment, a refund): kept while the same body is sent
 * again after a retryable failure (network error, 5xx, 409 `idempotency_in_progress`), so a retry
 * never ships or refunds twice; dropped after a final answer, so the next write is a new one.
 */
import { isRetryable, newIdempotencyKey } from "./api";

export class RetryKey {
  private key: string | null = null;
  private bodyJson: string | null = null;

  constructor(private readonly makeKey: () => string = newIdempotencyKey) {}

  /** The key for `body`: the kept one when the body is unchanged, else a new one. */
  keyFor(body: unknown): string {
    const json = JSON.stringify(body);
    if (this.key === null || json !== this.bodyJson) {
      this.key = this.makeKey();
      this.bodyJson = json;
    }
    return this.key;
  }

  /** After an answer: keeps the key only when `error` may be retried with it. */
  settle(error?: unknown): void {
    if (error === undefined || !isRetryable(error)) {
      this.key = null;
      this.bodyJson = null;
    }
  }
}
