"use client";

import { ApiError } from "@/lib/api";

/** Shows an error from the API as its problem `title` and `detail` (and field errors), in a live region. */
export function ProblemAlert({ error, testId }: { error: unknown; testId?: string }) {
  if (!error) return null;
  const problem =
    error instanceof ApiError
      ? error.problem
      : { title: "Something went wrong", detail: error instanceof Error ? error.message : String(error), errors: undefined, code: "client_error" };
  return (
    <div className="alert alert-error" role="alert" data-testid={testId ?? "problem"} data-code={problem.code}>
      <strong>{problem.title}</strong>
      {problem.detail ? <p>{problem.detail}</p> : null}
      {problem.errors?.length ? (
        <ul>
          {problem.errors.map((e, i) => (
            <li key={i}>
              <code>{e.field}</code>: {e.message}
              {typeof e.available === "number" ? ` (available: ${e.available})` : ""}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      {label}
    </p>
  );
}

export function Empty({ children }: { children: React.ReactNode }) {
  return <p className="empty">{children}</p>;
}
