/** The account page's pure logic: checks made before asking the server to change the password. */
import type { ProblemFieldError } from "./api";

export interface PasswordDraft {
  current: string;
  next: string;
  confirm: string;
}
export type PasswordField = keyof PasswordDraft;

/** Field messages for a draft (empty when it may be sent); the API wants 8 to 128 characters. */
export function passwordDraftErrors(d: PasswordDraft): Partial<Record<PasswordField, string>> {
  const out: Partial<Record<PasswordField, string>> = {};
  if (!d.current) out.current = "Enter your current password.";
  if ([...d.next].length < 8) out.next = "The new password needs at least 8 characters.";
  else if ([...d.next].length > 128) out.next = "The new password can have at most 128 characters.";
  else if (d.next === d.current) out.next = "The new password must differ from the current one.";
  if (!out.next && d.confirm !== d.next) out.confirm = "The two new passwords differ.";
  return out;
}

/** The server's field errors (`current_password`, `new_password`) onto the form's fields. */
export function passwordServerErrors(errors: readonly ProblemFieldError[] | undefined): Partial<Record<PasswordField, string>> {
  const out: Partial<Record<PasswordField, string>> = {};
  for (const e of errors ?? []) {
    if (e.field === "current_password") out.current ??= e.message;
    else if (e.field === "new_password") out.next ??= e.message;
  }
  return out;
}
