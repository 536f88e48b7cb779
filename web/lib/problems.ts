/** Field-level problems: the server's `errors` entries, keyed by field path, to show next to each field. */
import { ApiError } from "./api";

/** `{field: message}` of an {@link ApiError}'s `errors` (empty for anything else). */
export function fieldErrors(error: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!(error instanceof ApiError)) return out;
  for (const e of error.problem.errors ?? []) {
    if (e && typeof e.field === "string" && !(e.field in out)) out[e.field] = e.message;
  }
  return out;
}

/**
 * Whether every field error of `error` is shown next to a field in `shown` (then the alert at the
 * action need not list them again).
 */
export function allFieldsShown(error: unknown, shown: readonly string[]): boolean {
  const keys = Object.keys(fieldErrors(error));
  return keys.length > 0 && keys.every((k) => shown.includes(k));
}
