"use client";

import { useRef, useState } from "react";
import type { ConfirmOptions } from "@/components/ConfirmDialog";
import { FieldError, invalidProps } from "@/components/FieldError";
import { ProblemAlert } from "@/components/ProblemAlert";
import { ApiError, api, type Order, type OrderStatus, type Restock } from "@/lib/api";
import {
  buildRefund,
  buildShipment,
  isRefundable,
  isShippable,
  lineCounts,
  lineErrorsFromProblem,
  remainingCaptured,
  type FieldErrors,
  type RefundDraft,
  type RefundLineDraft,
  type ShipLineDraft,
} from "@/lib/adminOrder";
import { money, parseMoney } from "@/lib/format";
import { fieldErrors } from "@/lib/problems";
import { RetryKey } from "@/lib/retryKey";

type Confirm = (options: ConfirmOptions) => Promise<boolean>;

interface ActionProps {
  order: Order;
  /** The order's `ETag` as shown: sent as `If-Match`, so a change made meanwhile is refused (412). */
  etag?: string | null;
  confirm: Confirm;
  /** Called after a write succeeded: the page refetches the order and its history. */
  onDone: (message: string) => void;
  /** Called when the order changed meanwhile (412): the page refetches it. */
  onStale?: () => void;
}

/** Problems the form shows next to its fields are not repeated in the alert at the action. */
function actionProblem(error: unknown, shown: FieldErrors): unknown {
  if (error instanceof ApiError && error.status === 412) {
    return new ApiError({
      ...error.problem,
      detail: "The order changed since this page showed it (see above, now up to date). Check it and try again.",
    });
  }
  if (!(error instanceof ApiError) || !error.problem.errors?.length) return error;
  const rest = error.problem.errors.filter((e) => !(e.field in shown));
  return new ApiError({ ...error.problem, errors: rest.length ? rest : undefined });
}

const VISIBLE_NOTE_HINT = "Shown to the customer in their order history.";

// ---------------------------------------------------------------------------------------------

const STATUS_ACTIONS: Record<OrderStatus, string> = {
  PENDING: "Back to pending",
  PAID: "Mark as paid (payment collected offline)",
  FULFILLED: "Mark as fulfilled (ships every open unit)",
  CANCELLED: "Cancel the order",
};

/** Moves the order to one of its `allowed_transitions`, confirmed, with an optional note the customer sees. */
export function StatusAction({ order, etag, confirm, onDone, onStale }: ActionProps) {
  const [to, setTo] = useState<OrderStatus | "">("");
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  if (order.allowed_transitions.length === 0) {
    return (
      <section className="panel" aria-labelledby="act-status">
        <h2 id="act-status">Status</h2>
        <p className="muted">{order.status} is final: no status change is possible.</p>
      </section>
    );
  }
  const errs = fieldErrors(error);
  const describe = (s: OrderStatus): ConfirmOptions => {
    if (s === "CANCELLED") {
      const refund = remainingCaptured(order);
      return {
        title: "Cancel this order?",
        body: (
          <>
            <p>The order becomes CANCELLED (final) and its stock is released.</p>
            {refund > 0 ? (
              <p>
                <strong>{money(refund, order.currency)}</strong> is refunded to the customer through the payment provider.
              </p>
            ) : null}
          </>
        ),
        confirmLabel: refund > 0 ? `Cancel and refund ${money(refund, order.currency)}` : "Cancel the order",
        cancelLabel: "Keep the order",
        danger: true,
      };
    }
    if (s === "FULFILLED") {
      const units = order.items.reduce((n, i) => n + lineCounts(i).open, 0);
      return {
        title: "Mark this order fulfilled?",
        body: <p>Every open unit ({units}) ships in one shipment, without tracking. FULFILLED is final.</p>,
        confirmLabel: "Mark fulfilled",
      };
    }
    return { title: `Move this order to ${s}?`, body: <p>{STATUS_ACTIONS[s]}.</p>, confirmLabel: `Mark ${s}` };
  };
  return (
    <section className="panel" aria-labelledby="act-status">
      <h2 id="act-status">Status</h2>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (!to || busy) return;
          if (!(await confirm(describe(to)))) return;
          setBusy(true);
          setError(null);
          try {
            await api.changeOrderStatus(order.id, { status: to, note: note.trim() || undefined }, etag);
            setTo("");
            setNote("");
            onDone(`The order is now ${to}.`);
          } catch (err) {
            setError(err);
            if (err instanceof ApiError && err.status === 412) onStale?.();
          } finally {
            setBusy(false);
          }
        }}
      >
        <label htmlFor="st-to">New status</label>
        <select id="st-to" value={to} onChange={(e) => setTo(e.target.value as OrderStatus | "")} data-testid="status-select">
          <option value="">Choose…</option>
          {order.allowed_transitions.map((s) => (
            <option key={s} value={s}>
              {STATUS_ACTIONS[s] ?? s}
            </option>
          ))}
        </select>
        <label htmlFor="st-note">
          Note to the customer (optional) <span className="badge badge-visible">visible to the customer</span>
        </label>
        <input id="st-note" value={note} onChange={(e) => setNote(e.target.value)} maxLength={1000} {...invalidProps("st-note-err", errs.note, "st-note-hint")} />
        <p id="st-note-hint" className="hint">
          {VISIBLE_NOTE_HINT} For an internal remark, use “Internal note” below.
        </p>
        <FieldError id="st-note-err" message={errs.note} />
        <div className="form-actions">
          <button type="submit" disabled={!to || busy} className={to === "CANCELLED" ? "danger" : undefined}>
            {busy ? "Saving…" : "Change status…"}
          </button>
        </div>
        <ProblemAlert error={actionProblem(error, { note: "" })} />
      </form>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------

/** Ships every open unit or some of them, with carrier and tracking; confirmed. */
export function ShipAction({ order, etag, confirm, onDone, onStale }: ActionProps) {
  const [all, setAll] = useState(true);
  const [lines, setLines] = useState<ShipLineDraft[]>(() => order.items.map((i) => ({ product_id: i.product_id, quantity: "0" })));
  const [carrier, setCarrier] = useState("");
  const [tracking, setTracking] = useState("");
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);
  const key = useRef(new RetryKey());

  if (!isShippable(order)) {
    return (
      <section className="panel panel-wide" aria-labelledby="act-ship">
        <h2 id="act-ship">Ship</h2>
        <p className="muted">{order.status === "PAID" ? "Nothing is left to ship." : `Only a PAID order ships (this one is ${order.status}).`}</p>
      </section>
    );
  }
  const setLine = (index: number, quantity: string) => setLines((ls) => ls.map((l, i) => (i === index ? { ...l, quantity } : l)));
  return (
    <section className="panel panel-wide" aria-labelledby="act-ship">
      <h2 id="act-ship">Ship</h2>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          if (busy) return;
          const built = buildShipment(order, { all, lines, carrier, tracking, note });
          if ("errors" in built) {
            setErrors(built.errors);
            setError(null);
            return;
          }
          setErrors({});
          const ok = await confirm({
            title: `Ship ${built.units} unit${built.units === 1 ? "" : "s"}?`,
            body: (
              <>
                <p>{all ? "Every open unit ships in one shipment." : "The chosen units ship in one shipment."}</p>
                {built.input.carrier ? (
                  <p>
                    {built.input.carrier}, tracking number {built.input.tracking_number}.
                  </p>
                ) : (
                  <p>No tracking number.</p>
                )}
                <p>The customer sees the shipment (and its note) at once.</p>
              </>
            ),
            confirmLabel: `Ship ${built.units} unit${built.units === 1 ? "" : "s"}`,
          });
          if (!ok) return;
          setBusy(true);
          setError(null);
          try {
            await api.createShipment(order.id, built.input, key.current.keyFor(built.input), etag);
            key.current.settle();
            setLines(order.items.map((i) => ({ product_id: i.product_id, quantity: "0" })));
            setCarrier("");
            setTracking("");
            setNote("");
            setAll(true);
            onDone(`Shipped ${built.units} unit${built.units === 1 ? "" : "s"}.`);
          } catch (err) {
            key.current.settle(err);
            const mapped = err instanceof ApiError ? lineErrorsFromProblem(order, err.problem.errors) : {};
            setErrors(mapped);
            setError(err);
            if (err instanceof ApiError && err.status === 412) onStale?.();
          } finally {
            setBusy(false);
          }
        }}
      >
        <fieldset>
          <legend>What ships</legend>
          <label className="inline">
            <input type="radio" name="ship-what" checked={all} onChange={() => setAll(true)} /> Every open unit (
            {order.items.reduce((n, i) => n + lineCounts(i).open, 0)})
          </label>
          <label className="inline">
            <input type="radio" name="ship-what" checked={!all} onChange={() => setAll(false)} /> Some units
          </label>
        </fieldset>
        {!all ? (
          <div className="table-wrap">
            <table className="line-inputs">
              <caption className="sr-only">Units to ship per line</caption>
              <thead>
                <tr>
                  <th scope="col">Product</th>
                  <th scope="col" className="num">
                    Open
                  </th>
                  <th scope="col">Units to ship</th>
                </tr>
              </thead>
              <tbody>
                {order.items.map((item, index) => {
                  const open = lineCounts(item).open;
                  const id = `ship-q-${index}`;
                  const err = errors[`lines[${index}].quantity`];
                  return (
                    <tr key={item.product_id}>
                      <td>
                        {item.name} <span className="muted">({item.sku})</span>
                      </td>
                      <td className="num">{open}</td>
                      <td>
                        <label className="sr-only" htmlFor={id}>
                          Units of {item.name} to ship (0 to {open})
                        </label>
                        <input
                          id={id}
                          inputMode="numeric"
                          value={lines[index]?.quantity ?? "0"}
                          disabled={open === 0}
                          onChange={(e) => setLine(index, e.target.value)}
                          {...invalidProps(`${id}-err`, err)}
                        />
                        <FieldError id={`${id}-err`} message={err} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        ) : null}
        <label htmlFor="ship-carrier">Carrier (optional)</label>
        <input id="ship-carrier" value={carrier} onChange={(e) => setCarrier(e.target.value)} maxLength={100} {...invalidProps("ship-carrier-err", errors.carrier)} />
        <FieldError id="ship-carrier-err" message={errors.carrier} />
        <label htmlFor="ship-tracking">Tracking number (with a carrier)</label>
        <input
          id="ship-tracking"
          value={tracking}
          onChange={(e) => setTracking(e.target.value)}
          maxLength={100}
          {...invalidProps("ship-tracking-err", errors.tracking_number)}
        />
        <FieldError id="ship-tracking-err" message={errors.tracking_number} />
        <label htmlFor="ship-note">
          Note to the customer (optional) <span className="badge badge-visible">visible to the customer</span>
        </label>
        <input id="ship-note" value={note} onChange={(e) => setNote(e.target.value)} maxLength={1000} aria-describedby="ship-note-hint" />
        <p id="ship-note-hint" className="hint">
          {VISIBLE_NOTE_HINT}
        </p>
        {errors.form ? (
          <p className="field-error" role="alert">
            {errors.form}
          </p>
        ) : null}
        <div className="form-actions">
          <button type="submit" disabled={busy}>
            {busy ? "Shipping…" : "Ship…"}
          </button>
        </div>
        <ProblemAlert error={actionProblem(error, errors)} testId="ship-problem" />
      </form>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------

const RESTOCK_LABELS: Record<Restock, string> = {
  cancel: "Not shipped: cancel, back to stock",
  return: "Shipped and returned: back to stock",
  no_restock: "Shipped, not returned: no restock",
};

function initialRefundLines(order: Order): RefundLineDraft[] {
  return order.items.map((i) => ({ product_id: i.product_id, quantity: "0", restock: lineCounts(i).open > 0 ? "cancel" : "return" }));
}

/** Refunds units (and the shipping) or an amount, with the amount previewed and confirmed. */
export function RefundAction({ order, confirm, onDone }: ActionProps) {
  const [mode, setMode] = useState<"items" | "amount">("items");
  const [lines, setLines] = useState<RefundLineDraft[]>(() => initialRefundLines(order));
  const [shipping, setShipping] = useState(false);
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<unknown>(null);
  const key = useRef(new RetryKey());

  if (!isRefundable(order)) {
    return (
      <section className="panel panel-wide" aria-labelledby="act-refund">
        <h2 id="act-refund">Refund</h2>
        <p className="muted">Nothing to refund: the payment is {order.payment_status}.</p>
      </section>
    );
  }
  const draft: RefundDraft = mode === "items" ? { mode, lines, shipping, reason } : { mode, amount, reason };
  // The preview ignores the reason (it does not change the amount).
  const previewed = buildRefund(order, { ...draft, reason: "x" }, parseMoney);
  const preview = "preview" in previewed ? previewed.preview : null;
  const setLine = (index: number, patch: Partial<RefundLineDraft>) => setLines((ls) => ls.map((l, i) => (i === index ? { ...l, ...patch } : l)));

  return (
    <section className="panel panel-wide" aria-labelledby="act-refund">
      <h2 id="act-refund">Refund</h2>
      <p className="hint">
        {money(remainingCaptured(order), order.currency)} of {money(order.total_amount, order.currency)} remains captured.
      </p>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          if (busy) return;
          const built = buildRefund(order, draft, parseMoney);
          if ("errors" in built) {
            setErrors(built.errors);
            setError(null);
            return;
          }
          setErrors({});
          const value = money(built.preview.amount, order.currency);
          const ok = await confirm({
            title: `Refund ${value}?`,
            body: (
              <>
                <p>
                  <strong>{value}</strong> goes back to the customer through the payment provider. This cannot be undone.
                </p>
                {built.input.items?.length ? (
                  <p>
                    {built.input.items.map((i) => `${i.quantity} × ${order.items.find((x) => x.product_id === i.product_id)?.name} (${i.restock})`).join(", ")}
                    {built.input.shipping ? ", and the shipping" : ""}.
                  </p>
                ) : built.input.shipping ? (
                  <p>The shipping.</p>
                ) : null}
                {built.preview.capped ? <p>Capped at what remains captured.</p> : null}
              </>
            ),
            confirmLabel: `Refund ${value}`,
            cancelLabel: "Do not refund",
            danger: true,
          });
          if (!ok) return;
          setBusy(true);
          setError(null);
          try {
            const refund = await api.createRefund(order.id, built.input, key.current.keyFor(built.input));
            key.current.settle();
            setLines(initialRefundLines(order));
            setShipping(false);
            setAmount("");
            setReason("");
            onDone(
              refund.status === "pending"
                ? `Refund of ${money(refund.amount, order.currency)} is pending at the payment provider.`
                : `Refunded ${money(refund.amount, order.currency)}.`,
            );
          } catch (err) {
            key.current.settle(err);
            const mapped = err instanceof ApiError ? lineErrorsFromProblem(order, err.problem.errors) : {};
            setErrors(mapped);
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <fieldset>
          <legend>What to refund</legend>
          <label className="inline">
            <input type="radio" name="refund-mode" checked={mode === "items"} onChange={() => setMode("items")} /> Units and shipping
          </label>
          <label className="inline">
            <input type="radio" name="refund-mode" checked={mode === "amount"} onChange={() => setMode("amount")} /> An amount only (goodwill)
          </label>
        </fieldset>
        {mode === "items" ? (
          <>
            <div className="table-wrap">
              <table className="line-inputs">
                <caption className="sr-only">Units to refund per line</caption>
                <thead>
                  <tr>
                    <th scope="col">Product</th>
                    <th scope="col" className="num">
                      Not shipped
                    </th>
                    <th scope="col" className="num">
                      Shipped, not refunded
                    </th>
                    <th scope="col">Units</th>
                    <th scope="col">Kind</th>
                  </tr>
                </thead>
                <tbody>
                  {order.items.map((item, index) => {
                    const c = lineCounts(item);
                    const id = `refund-q-${index}`;
                    const err = errors[`lines[${index}].quantity`];
                    const line = lines[index];
                    return (
                      <tr key={item.product_id}>
                        <td>
                          {item.name} <span className="muted">({money(item.unit_price, order.currency)} each)</span>
                        </td>
                        <td className="num">{c.open}</td>
                        <td className="num">{c.shippedRefundable}</td>
                        <td>
                          <label className="sr-only" htmlFor={id}>
                            Units of {item.name} to refund
                          </label>
                          <input
                            id={id}
                            inputMode="numeric"
                            value={line?.quantity ?? "0"}
                            disabled={c.open === 0 && c.shippedRefundable === 0}
                            onChange={(e) => setLine(index, { quantity: e.target.value })}
                            {...invalidProps(`${id}-err`, err)}
                          />
                          <FieldError id={`${id}-err`} message={err} />
                        </td>
                        <td>
                          <label className="sr-only" htmlFor={`refund-k-${index}`}>
                            Kind of refund for {item.name}
                          </label>
                          <select
                            id={`refund-k-${index}`}
                            value={line?.restock ?? "cancel"}
                            disabled={c.open === 0 && c.shippedRefundable === 0}
                            onChange={(e) => setLine(index, { restock: e.target.value as Restock })}
                          >
                            {(Object.keys(RESTOCK_LABELS) as Restock[]).map((r) => (
                              <option key={r} value={r}>
                                {RESTOCK_LABELS[r]}
                              </option>
                            ))}
                          </select>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
            {order.shipping_amount > 0 ? (
              <label className="inline refund-shipping">
                <input type="checkbox" checked={shipping} onChange={(e) => setShipping(e.target.checked)} /> Refund the shipping (
                {money(order.shipping_amount, order.currency)})
              </label>
            ) : null}
          </>
        ) : (
          <>
            <label htmlFor="refund-amount">Amount ({order.currency})</label>
            <input
              id="refund-amount"
              inputMode="decimal"
              value={amount}
              onChange={(e) => setAmount(e.target.value)}
              {...invalidProps("refund-amount-err", errors.amount, "refund-amount-hint")}
            />
            <p id="refund-amount-hint" className="hint">
              E.g. 5 or 12.50; touches no unit.
            </p>
            <FieldError id="refund-amount-err" message={errors.amount} />
          </>
        )}
        <label htmlFor="refund-reason">
          Reason <span className="badge badge-internal">admins only</span>
        </label>
        <input
          id="refund-reason"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          maxLength={500}
          required
          {...invalidProps("refund-reason-err", errors.reason, "refund-reason-hint")}
        />
        <p id="refund-reason-hint" className="hint">
          Kept with the refund; the customer does not see it.
        </p>
        <FieldError id="refund-reason-err" message={errors.reason} />
        <p className="refund-preview" aria-live="polite" data-testid="refund-preview">
          {preview ? (
            <>
              Refund amount: <strong data-testid="refund-preview-amount">{money(preview.amount, order.currency)}</strong>
              {mode === "items" && preview.tax ? ` (${money(preview.base, order.currency)} + tax ${money(preview.tax, order.currency)})` : ""}
              {preview.capped ? " — capped at what remains captured" : ""}
            </>
          ) : (
            <span className="muted">Refund amount: choose units, the shipping or an amount.</span>
          )}
        </p>
        {errors.form ? (
          <p className="field-error" role="alert">
            {errors.form}
          </p>
        ) : null}
        <div className="form-actions">
          <button type="submit" className="danger" disabled={busy}>
            {busy ? "Refunding…" : "Refund…"}
          </button>
        </div>
        <ProblemAlert error={actionProblem(error, errors)} testId="refund-problem" />
      </form>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------

/** Adds an internal note: admins only, never shown to the customer (the API's notes are internal). */
export function NoteAction({ order, onDone }: Omit<ActionProps, "confirm">) {
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [localError, setLocalError] = useState<string | null>(null);
  const errs = fieldErrors(error);
  const message = localError ?? errs.note;
  return (
    <section className="panel" aria-labelledby="act-note">
      <h2 id="act-note">
        Internal note <span className="badge badge-internal">internal</span>
      </h2>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (busy) return;
          const text = note.trim();
          if (!text) {
            setLocalError("Write the note first.");
            return;
          }
          setLocalError(null);
          setBusy(true);
          setError(null);
          try {
            await api.addOrderNote(order.id, text);
            setNote("");
            onDone("Internal note added.");
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <label htmlFor="note-text">Internal note (admins only)</label>
        <textarea
          id="note-text"
          rows={3}
          value={note}
          maxLength={2000}
          onChange={(e) => setNote(e.target.value)}
          {...invalidProps("note-text-err", message, "note-text-hint")}
        />
        <p id="note-text-hint" className="hint">
          Only admins see it, in this order&apos;s history. It is never shown or sent to the customer. To tell the customer
          something, use the note of a status change or a shipment.
        </p>
        <FieldError id="note-text-err" message={message} />
        <div className="form-actions">
          <button type="submit" disabled={busy}>
            {busy ? "Saving…" : "Add internal note"}
          </button>
        </div>
        <ProblemAlert error={actionProblem(error, { note: "" })} />
      </form>
    </section>
  );
}
