/** The admin order filters as typed in the form, and their translation to the API's query. */
import type { AdminOrderFilters, OrderStatus } from "./api";
import { parseMoney } from "./format";

export interface Draft {
  status: OrderStatus[];
  user_id: string;
  email: string;
  created_from: string;
  created_to: string;
  min_total: string;
  max_total: string;
}
export const EMPTY_DRAFT: Draft = { status: [], user_id: "", email: "", created_from: "", created_to: "", min_total: "", max_total: "" };

/** A `datetime-local` value (the admin's local time) as RFC 3339 UTC. */
export function localToRfc3339(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** The draft filters as the API's query; the second member lists the fields that did not parse. */
export function draftToFilters(d: Draft): [AdminOrderFilters, string[]] {
  const bad: string[] = [];
  const f: AdminOrderFilters = {};
  if (d.status.length) f.status = d.status;
  if (d.user_id.trim()) {
    if (/^\d+$/.test(d.user_id.trim())) f.user_id = Number(d.user_id.trim());
    else bad.push("User id");
  }
  if (d.email.trim()) f.email = d.email.trim();
  f.created_from = localToRfc3339(d.created_from);
  f.created_to = localToRfc3339(d.created_to);
  for (const [key, label] of [
    ["min_total", "Minimum total"],
    ["max_total", "Maximum total"],
  ] as const) {
    if (d[key].trim()) {
      const cents = parseMoney(d[key]);
      if (cents === null) bad.push(label);
      else f[key] = cents;
    }
  }
  return [f, bad];
}
