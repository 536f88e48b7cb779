"use client";

import { useState } from "react";
import { Loading, ProblemAlert } from "@/components/ProblemAlert";
import { ApiError, api } from "@/lib/api";
import { passwordDraftErrors, passwordServerErrors, type PasswordDraft, type PasswordField } from "@/lib/account";
import { useRequireUser } from "@/lib/session";

const FIELDS: { key: PasswordField; label: string; autoComplete: string }[] = [
  { key: "current", label: "Current password", autoComplete: "current-password" },
  { key: "next", label: "New password (8 to 128 characters)", autoComplete: "new-password" },
  { key: "confirm", label: "New password again", autoComplete: "new-password" },
];

/** The signed-in user's account: who they are, and a password change (`POST /api/auth/password`). */
export default function AccountPage() {
  const user = useRequireUser();
  const [draft, setDraft] = useState<PasswordDraft>({ current: "", next: "", confirm: "" });
  const [errors, setErrors] = useState<Partial<Record<PasswordField, string>>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);

  if (!user) return <Loading label="Checking your session…" />;

  const focusFirst = (e: Partial<Record<PasswordField, string>>) => {
    const first = FIELDS.find((f) => e[f.key]);
    if (first) setTimeout(() => document.getElementById(`pw-${first.key}`)?.focus(), 0);
  };

  return (
    <section className="form">
      <h1>Your account</h1>
      <p>
        Signed in as <strong>{user.email}</strong> ({user.role === "ADMIN" ? "administrator" : "customer"}).
      </p>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          setDone(false);
          setError(null);
          const local = passwordDraftErrors(draft);
          setErrors(local);
          if (Object.keys(local).length) return focusFirst(local);
          setBusy(true);
          try {
            await api.changePassword(draft.current, draft.next);
            await api.me().catch(() => null); // the fresh session's CSRF token
            setDraft({ current: "", next: "", confirm: "" });
            setDone(true);
          } catch (err) {
            if (err instanceof ApiError && err.code === "invalid_credentials") {
              const e2 = { current: "This is not your current password." };
              setErrors(e2);
              focusFirst(e2);
            } else if (err instanceof ApiError && err.code === "validation_failed") {
              const e2 = passwordServerErrors(err.problem.errors);
              setErrors(e2);
              if (Object.keys(e2).length) focusFirst(e2);
              else setError(err);
            } else {
              setError(err);
            }
          } finally {
            setBusy(false);
          }
        }}
      >
        <fieldset>
          <legend>Change your password</legend>
          {FIELDS.map((f) => (
            <div key={f.key}>
              <label htmlFor={`pw-${f.key}`}>{f.label}</label>
              <input
                id={`pw-${f.key}`}
                type="password"
                autoComplete={f.autoComplete}
                value={draft[f.key]}
                aria-invalid={errors[f.key] ? true : undefined}
                aria-describedby={errors[f.key] ? `pw-${f.key}-error` : undefined}
                onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })}
              />
              {errors[f.key] ? (
                <p id={`pw-${f.key}-error`} className="field-error">
                  {errors[f.key]}
                </p>
              ) : null}
            </div>
          ))}
          <p className="hint">Changing it signs you out everywhere else (other browsers and devices); this page stays signed in.</p>
        </fieldset>
        <ProblemAlert error={error} />
        {done ? (
          <div className="alert alert-ok" role="status" data-testid="password-changed">
            Your password was changed.
          </div>
        ) : null}
        <div className="form-actions">
          <button type="submit" disabled={busy}>
            {busy ? "Changing…" : "Change password"}
          </button>
        </div>
      </form>
    </section>
  );
}
