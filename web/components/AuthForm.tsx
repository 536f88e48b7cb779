"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { ProblemAlert } from "@/components/ProblemAlert";
import { safeNext, useQueryParam } from "@/lib/query";
import { useSession } from "@/lib/session";

/** The sign-in and sign-up form (same fields, different call). */
export function AuthForm({ mode }: { mode: "signin" | "signup" }) {
  const { signIn, signUp } = useSession();
  const router = useRouter();
  const next = useQueryParam("next");
  const expired = useQueryParam("expired");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const title = mode === "signin" ? "Sign in" : "Create an account";

  return (
    <section className="form">
      <h1>{title}</h1>
      {expired && mode === "signin" ? (
        <div className="alert alert-warn" role="status" data-testid="session-expired">
          Your session has expired. Please sign in again.
        </div>
      ) : null}
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (busy) return;
          setBusy(true);
          setError(null);
          try {
            const user = mode === "signin" ? await signIn(email, password) : await signUp(email, password);
            router.push(safeNext(next, user.role === "ADMIN" ? "/admin" : "/"));
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <label htmlFor="email">Email</label>
        <input id="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="password">Password</label>
        <input
          id="password"
          type="password"
          autoComplete={mode === "signin" ? "current-password" : "new-password"}
          required
          minLength={mode === "signup" ? 8 : undefined}
          maxLength={128}
          aria-describedby={mode === "signup" ? "password-hint" : undefined}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {mode === "signup" ? (
          <p id="password-hint" className="hint">
            8 to 128 characters.
          </p>
        ) : null}
        <ProblemAlert error={error} />
        <div className="form-actions">
          <button type="submit" disabled={busy}>
            {busy ? "Please wait…" : title}
          </button>
          {mode === "signin" ? <Link href="/signup">No account? Sign up</Link> : <Link href="/signin">Have an account? Sign in</Link>}
        </div>
      </form>
    </section>
  );
}
