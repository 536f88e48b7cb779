/** The audit log page's pure logic: its filters as typed, and how an entry reads. */
import type { AuditEntry, AuditFilters } from "./api";
import { localToRfc3339 } from "./adminFilters";

/** Actions the server records (ports/audit.rs), offered as suggestions; any `word.word` is accepted. */
export const AUDIT_ACTIONS: readonly string[] = [
  "product.created",
  "product.updated",
  "product.archived",
  "order.status_changed",
  "order.shipped",
  "order.refunded",
  "order.note_added",
  "customer.updated",
  "auth.login",
  "auth.login_failed",
  "auth.account_disabled",
  "auth.logout",
  "auth.password_changed",
  "auth.password_change_failed",
  "auth.csrf_failed",
  "webhook.created",
  "webhook.updated",
  "webhook.deleted",
  "webhook.secret_rotated",
  "webhook.test_sent",
  "webhook.redelivered",
  "webhook.disabled",
];
export const AUDIT_TARGET_TYPES: readonly string[] = ["product", "order", "user", "webhook", "webhook_delivery"];

export interface AuditDraft {
  action: string;
  actor_id: string;
  target_type: string;
  target_id: string;
  created_from: string;
  created_to: string;
}
export const EMPTY_AUDIT_DRAFT: AuditDraft = { action: "", actor_id: "", target_type: "", target_id: "", created_from: "", created_to: "" };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The draft as the API's query, and the fields (API names) that do not parse, with why. */
export function auditDraftToFilters(d: AuditDraft): [AuditFilters, Record<string, string>] {
  const f: AuditFilters = {};
  const errors: Record<string, string> = {};
  const action = d.action.trim();
  if (action) {
    if (/^[a-z_]+\.[a-z_]+$/.test(action) && action.length <= 64) f.action = action;
    else errors.action = "An action such as product.updated.";
  }
  const actor = d.actor_id.trim();
  if (actor) {
    if (/^[1-9]\d{0,17}$/.test(actor)) f.actor_id = Number(actor);
    else errors.actor_id = "A user id (a whole number of 1 or more).";
  }
  const type = d.target_type.trim();
  if (type) {
    if (/^[a-z_]{1,64}$/.test(type)) f.target_type = type;
    else errors.target_type = "A kind of target such as order.";
  }
  const tid = d.target_id.trim();
  if (tid) {
    if (!type) errors.target_id = "Choose the target type too.";
    else if ((type === "product" || type === "user") && !/^[1-9]\d{0,17}$/.test(tid)) errors.target_id = `A ${type} id is a whole number.`;
    else if (type === "order" && !UUID.test(tid)) errors.target_id = "An order id is a UUID.";
    else if (tid.length > 100) errors.target_id = "At most 100 characters.";
    else f.target_id = tid;
  }
  for (const key of ["created_from", "created_to"] as const) {
    if (d[key]) {
      const v = localToRfc3339(d[key]);
      if (v) f[key] = v;
      else errors[key] = "A date and time.";
    }
  }
  return [f, errors];
}

/** The filters of a page URL's query (e.g. `?target_type=order&target_id=…` from an order's page). */
export function draftFromSearch(search: string): AuditDraft {
  const p = new URLSearchParams(search);
  return {
    ...EMPTY_AUDIT_DRAFT,
    action: p.get("action") ?? "",
    actor_id: p.get("actor_id") ?? "",
    target_type: p.get("target_type") ?? "",
    target_id: p.get("target_id") ?? "",
  };
}

/** One value of a change, short and readable. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** An entry's `changes` as `field: old → new` lines. */
export function changeLines(entry: Pick<AuditEntry, "changes">): string[] {
  if (!entry.changes || typeof entry.changes !== "object") return [];
  return Object.entries(entry.changes).map(([field, pair]) => {
    if (Array.isArray(pair) && pair.length === 2) return `${field}: ${formatValue(pair[0])} → ${formatValue(pair[1])}`;
    return `${field}: ${formatValue(pair)}`;
  });
}

/** Where an entry's target lives in the back office, if it has a page. */
export function targetHref(target: AuditEntry["target"]): string | null {
  if (!target) return null;
  if (target.type === "order") return `/admin/orders/${encodeURIComponent(String(target.id))}`;
  if (target.type === "user") return `/admin/customers/${encodeURIComponent(String(target.id))}`;
  if (target.type === "webhook") return `/admin/webhooks#webhook-${encodeURIComponent(String(target.id))}`;
  return null;
}
