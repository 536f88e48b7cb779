"use client";

import { useState } from "react";
import { ProblemAlert } from "@/components/ProblemAlert";
import { api, type Order, type OrderStatus } from "@/lib/api";

/**
 * Moves an order to one of its `allowed_transitions` (never a status the server did not offer),
 * with a tracking number when fulfilling and an optional note.
 */
export function StatusChanger({ order, onChanged }: { order: Order; onChanged: (order: Order) => void }) {
  const [to, setTo] = useState<OrderStatus | "">("");
  const [carrier, setCarrier] = useState("");
  const [tracking, setTracking] = useState("");
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const base = `st-${order.id}`;

  if (order.allowed_transitions.length === 0) return <span className="muted">final</span>;
  return (
    <form
      className="status-changer"
      onSubmit={async (e) => {
        e.preventDefault();
        if (!to || busy) return;
        setBusy(true);
        setError(null);
        try {
          const changed = await api.changeOrderStatus(order.id, {
            status: to,
            note: note.trim() || undefined,
            tracking: to === "FULFILLED" && carrier.trim() && tracking.trim() ? { carrier: carrier.trim(), tracking_number: tracking.trim() } : undefined,
          });
          setTo("");
          setNote("");
          onChanged(changed);
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <label className="sr-only" htmlFor={`${base}-to`}>
        New status for order {order.id}
      </label>
      <select id={`${base}-to`} value={to} onChange={(e) => setTo(e.target.value as OrderStatus | "")} data-testid="status-select">
        <option value="">Change status…</option>
        {order.allowed_transitions.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
      {to === "FULFILLED" ? (
        <>
          <label htmlFor={`${base}-carrier`}>Carrier</label>
          <input id={`${base}-carrier`} value={carrier} onChange={(e) => setCarrier(e.target.value)} maxLength={200} />
          <label htmlFor={`${base}-tracking`}>Tracking number</label>
          <input id={`${base}-tracking`} value={tracking} onChange={(e) => setTracking(e.target.value)} maxLength={200} />
        </>
      ) : null}
      {to ? (
        <>
          <label htmlFor={`${base}-note`}>Note (optional)</label>
          <input id={`${base}-note`} value={note} onChange={(e) => setNote(e.target.value)} maxLength={1000} />
          <button type="submit" disabled={busy} data-testid="status-apply">
            {busy ? "Saving…" : `Mark ${to}`}
          </button>
        </>
      ) : null}
      <ProblemAlert error={error} />
    </form>
  );
}
