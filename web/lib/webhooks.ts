/** The webhooks page's pure logic: the endpoint form, and how a delivery reads. */
import type { WebhookDelivery, WebhookInput } from "./api";

/** The event types an endpoint may subscribe to ("*": all of them, future ones too). */
export const WEBHOOK_EVENT_TYPES: readonly string[] = [
  "order.created",
  "order.paid",
  "order.status_changed",
  "order.cancelled",
  "order.shipped",
  "order.refunded",
];

export interface WebhookDraft {
  url: string;
  all: boolean;
  types: string[];
  description: string;
  enabled: boolean;
}
export const EMPTY_WEBHOOK_DRAFT: WebhookDraft = { url: "", all: true, types: [], description: "", enabled: true };

/**
 * The create request of a draft, or field errors (keys as the server's: `url`, `event_types`).
 * Only what the page can know is checked here (an absolute http(s) URL without user info); which
 * hosts and schemes are allowed is the server's to say (`webhook_url_not_allowed`).
 */
export function webhookInput(d: WebhookDraft): { input: WebhookInput } | { errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const url = d.url.trim();
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    parsed = null;
  }
  if (!url) errors.url = "The address to call, e.g. https://hooks.example.com/oms.";
  else if (!parsed || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) errors.url = "An absolute https:// address.";
  else if (parsed.username || parsed.password) errors.url = "No user name or password in the address.";
  else if (url.length > 2048) errors.url = "At most 2,048 characters.";
  if (!d.all && d.types.length === 0) errors.event_types = "Choose at least one event type, or all.";
  if (d.description.trim().length > 500) errors.description = "At most 500 characters.";
  if (Object.keys(errors).length) return { errors };
  return {
    input: {
      url,
      event_types: d.all ? ["*"] : WEBHOOK_EVENT_TYPES.filter((t) => d.types.includes(t)),
      description: d.description.trim() || null,
      enabled: d.enabled,
    },
  };
}

/** A delivery's outcome in words: "delivered (200)", "failed: HTTP 500", "pending: retry at …". */
export function deliveryOutcome(d: WebhookDelivery, when: (iso: string) => string): string {
  const answer = d.last_response_status !== null ? `HTTP ${d.last_response_status}` : d.last_error ? d.last_error : null;
  if (d.status === "succeeded") return `delivered${answer ? ` (${answer})` : ""}`;
  if (d.status === "failed") return `failed${answer ? `: ${answer}` : ""}`;
  if (d.attempts === 0) return "pending: not tried yet";
  return `pending: ${answer ?? "failed"}${d.next_attempt_at ? `, next try ${when(d.next_attempt_at)}` : ""}`;
}

/** Whether the deliveries list should be polled (something is still on its way). */
export function hasPending(deliveries: readonly WebhookDelivery[]): boolean {
  return deliveries.some((d) => d.status === "pending");
}
