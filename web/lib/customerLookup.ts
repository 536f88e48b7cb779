/**
 * Customer emails for order lists, and the admin orders' email filter.
 *
 * The orders API filters by `email` only as an exact (case-insensitive) address, and an order
 * carries only its `user_id`. So the table looks the emails up (`GET /api/admin/customers/{id}`, each
 * id once), and a partial email typed in the filter is first searched among customers
 * (`GET /api/admin/customers?q=`, a substring match): one match filters by that user's id, several
 * let the admin choose.
 */
import type { Customer } from "./api";

/** Looks like a whole address (something@something): sent to the API as `email` as typed. */
export function isFullEmail(text: string): boolean {
  return /^[^\s@]+@[^\s@]+$/.test(text.trim());
}

export type EmailFilter =
  | { kind: "none" }
  | { kind: "exact"; email: string }
  | { kind: "user"; user_id: number; email: string }
  | { kind: "no_match"; text: string }
  | { kind: "choose"; text: string; matches: Customer[] };

/**
 * What the email field filters by: nothing, the exact address, or (a partial text, resolved with
 * the customers matching it) one customer's id, no match, or a choice among several.
 */
export function resolveEmailFilter(text: string, matches: Customer[] | null): EmailFilter {
  const t = text.trim();
  if (!t) return { kind: "none" };
  if (isFullEmail(t)) return { kind: "exact", email: t };
  if (!matches || matches.length === 0) return { kind: "no_match", text: t };
  const exact = matches.filter((c) => c.email.toLowerCase() === t.toLowerCase());
  if (matches.length === 1 || exact.length === 1) {
    const c = exact.length === 1 ? exact[0] : matches[0];
    return { kind: "user", user_id: c.id, email: c.email };
  }
  return { kind: "choose", text: t, matches };
}

/** The ids among `ids` whose email is not known yet (each once, in order). */
export function missingIds(ids: readonly number[], known: ReadonlyMap<number, string | null>): number[] {
  const out: number[] = [];
  for (const id of ids) if (!known.has(id) && !out.includes(id)) out.push(id);
  return out;
}
