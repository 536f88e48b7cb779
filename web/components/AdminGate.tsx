"use client";

import { Loading } from "@/components/ProblemAlert";
import { useSession } from "@/lib/session";

/** What an admin page shows until its admin is known: "Forbidden" for a customer, else a loading line. */
export function AdminGate() {
  const { user, loading } = useSession();
  if (!loading && user && user.role !== "ADMIN") {
    return (
      <div className="alert alert-error" role="alert">
        <strong>Forbidden</strong>
        <p>This page is for administrators.</p>
      </div>
    );
  }
  return <Loading label="Checking your session…" />;
}
