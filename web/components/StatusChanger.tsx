"use client";

import { useState } from "react";
import { useConfirm } from "@/components/ConfirmDialog";
import { ProblemAlert } from "@/components/ProblemAlert";
import { api, type Order, type OrderStatus } from "@/lib/api";

/**
 * Moves an order to one of its `allowed_transitions` (never a status the server did not offer),
 * with a tracking number when fulfilling and an optional note (which the customer sees in the
 * order's history). Cancelling is confirmed first: it is final and refunds a captured payment.
 */
export function StatusChanger({ order, onChanged }: { order: Order; onChanged: (order: Order) => void }) {
  const [to, setTo] = useState<OrderStatus | "">("");
  const [carrier, setCarrier] = useState("");
  const [tracking, setTracking] = useState("");
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const base = `st-${order.id}`;
  const { confirm, dialog } = useConfirm();

  if (order.allowed_transitions.length === 0) return <span className="muted">final</span>;
  return (
    <form
      className="status-changer"
      onSubmit={async (e) => {
        e.preventDefault();
        if (!to || busy) return;
        if (to === "CANCELLED") {
          const captured = order.payment_status === "captured" || order.payment_status === "partially_refunded";
          const ok = await confirm({
            title: `Cancel order #${order.id.slice(-8)}?`,
            body: (
              <p>
                The order becomes CANCELLED (final) and its stock is released.
                {captured ? " Its captured payment is refunded to the customer through the payment provider." : ""}
              </p>
            ),
            confirmLabel: captured ? "Cancel and refund" : "Cancel the order",
            cancelLabel: "Keep the order",
            danger: true,
          });
          if (!ok) return;
        }
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
          <label htmlFor={`${base}-note`}>Note to the customer (optional)</label>
          <input
            id={`${base}-note`}
            value={note}
            onChange={(e) => setNote(e.target.value)}
            maxLength={1000}
            aria-describedby={`${base}-note-hint`}
          />
          <span id={`${base}-note-hint`} className="hint">
            Visible to the customer in the order&apos;s history. Internal notes: on the order&apos;s page.
          </span>
          <button type="submit" disabled={busy} data-testid="status-apply">
            {busy ? "Saving…" : `Mark ${to}`}
          </button>
        </>
      ) : null}
      <ProblemAlert error={error} />
      {dialog}
    </form>
  );
}
