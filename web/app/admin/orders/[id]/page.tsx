"use client";

import Link from "next/link";
import { useParams } from "next/navigation";
import { useCallback, useEffect, useState } from "react";
import { AdminGate } from "@/components/AdminGate";
import { NoteAction, RefundAction, ShipAction, StatusAction } from "@/components/AdminOrderActions";
import { useConfirm } from "@/components/ConfirmDialog";
import { LiveIndicator } from "@/components/LiveIndicator";
import { OrderTotals } from "@/components/OrderTotals";
import { Loading, ProblemAlert } from "@/components/ProblemAlert";
import { StatusBadge } from "@/components/StatusBadge";
import { Toasts, useToasts } from "@/components/Toasts";
import { api, type Customer, type Order, type OrderHistoryEntry } from "@/lib/api";
import { historyLabel, lineCounts, remainingCaptured } from "@/lib/adminOrder";
import { dateTime, money } from "@/lib/format";
import { useRequireUser } from "@/lib/session";
import { useLiveFeed } from "@/lib/useLive";

/**
 * The back office's view of one order: the customer, lines with their shipped / cancelled /
 * returned counts, address, payment and refunds, shipments, the history (internal notes marked),
 * and the actions the order allows now. Every event of this order refetches it (live).
 */
export default function AdminOrderPage() {
  const params = useParams<{ id: string }>();
  const id = params.id;
  const user = useRequireUser("ADMIN");
  const [order, setOrder] = useState<Order | null>(null);
  const [etag, setEtag] = useState<string | null>(null);
  const [history, setHistory] = useState<OrderHistoryEntry[]>([]);
  const [customer, setCustomer] = useState<Customer | null>(null);
  const [error, setError] = useState<unknown>(null);
  const { confirm, dialog } = useConfirm();
  const { toasts, push } = useToasts();

  const refetch = useCallback(async () => {
    try {
      const [o, h] = await Promise.all([api.getOrderWithEtag(id), api.orderHistory(id)]);
      setOrder(o.order);
      setEtag(o.etag);
      setHistory(h.items);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [id]);

  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect -- loading data from the API
    if (user) void refetch();
  }, [user, refetch]);

  const userId = order?.user_id;
  useEffect(() => {
    if (!user || userId === undefined) return;
    let live = true;
    api
      .getCustomer(userId)
      .then((c) => live && setCustomer(c))
      .catch(() => live && setCustomer(null));
    return () => {
      live = false;
    };
  }, [user, userId]);

  const live = useLiveFeed(Boolean(user), {
    onEvent: (event) => {
      if (event.order_id === id) void refetch();
    },
    onConnected: () => void refetch(),
    onReset: () => void refetch(),
  });

  if (!user) return <AdminGate />;
  if (error && !order) {
    return (
      <section>
        <h1>Order</h1>
        <ProblemAlert error={error} />
        <Link href="/admin/orders">Back to the orders</Link>
      </section>
    );
  }
  if (!order) return <Loading label="Loading the order…" />;

  const done = (message: string) => {
    push(message);
    void refetch();
  };
  const a = order.shipping_address;
  const names = new Map(order.items.map((i) => [i.product_id, i.name]));
  const shipments = order.shipments ?? [];
  const refunds = order.refunds ?? [];

  return (
    <section data-testid="admin-order">
      <p>
        <Link href="/admin/orders">← All orders</Link>
      </p>
      <h1>
        Order <code className="cell-wrap">{order.id}</code>
      </h1>
      <LiveIndicator state={live.state} transport={live.transport} />
      <p>
        Status: <StatusBadge status={order.status} testId="order-status" /> · payment{" "}
        <span data-testid="payment-status">{order.payment_status.replace("_", " ")}</span> · fulfilment{" "}
        <span data-testid="fulfillment-status">{(order.fulfillment_status ?? "unfulfilled").replace("_", " ")}</span>
      </p>
      <p className="muted">
        Placed {dateTime(order.created_at)} · updated {dateTime(order.updated_at)}
      </p>
      <ProblemAlert error={error} />

      <div className="two-col">
        <div>
          <h2>Customer</h2>
          <p data-testid="order-customer">
            <Link href={`/admin/customers/${order.user_id}`}>{customer?.email ?? `Customer #${order.user_id}`}</Link>
            {customer ? (
              <>
                {" "}
                <span className="muted">
                  (#{customer.id}, {customer.status}, {customer.order_count} order{customer.order_count === 1 ? "" : "s"})
                </span>
              </>
            ) : null}
          </p>
          <h2>Ship to</h2>
          <address>
            {a.name}
            <br />
            {a.line1}
            {a.line2 ? (
              <>
                <br />
                {a.line2}
              </>
            ) : null}
            <br />
            {a.postal_code} {a.city}
            {a.region ? `, ${a.region}` : ""}
            <br />
            {a.country}
          </address>
        </div>
        <div>
          <h2>Payment</h2>
          <OrderTotals order={order}>
            <dt>Refunded</dt>
            <dd data-testid="refunded-amount">{money(order.refunded_amount ?? 0, order.currency)}</dd>
            <dt>Remains captured</dt>
            <dd>{money(remainingCaptured(order), order.currency)}</dd>
            <dt>Collected</dt>
            <dd>{order.payment_collected ? "yes" : "no"}</dd>
          </OrderTotals>
        </div>
      </div>

      <h2 id="items-heading">Items</h2>
      {/* Focusable so that a keyboard can scroll it sideways on a narrow screen. */}
      <div className="table-wrap" tabIndex={0} role="region" aria-labelledby="items-heading">
        <table data-testid="order-items">
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col" className="num">
                Unit price
              </th>
              <th scope="col" className="num">
                Ordered
              </th>
              <th scope="col" className="num">
                Shipped
              </th>
              <th scope="col" className="num">
                Cancelled
              </th>
              <th scope="col" className="num">
                Returned
              </th>
              <th scope="col" className="num">
                To ship
              </th>
              <th scope="col" className="num">
                Line total
              </th>
            </tr>
          </thead>
          <tbody>
            {order.items.map((i) => {
              const c = lineCounts(i);
              return (
                <tr key={i.product_id} data-testid={`line-${i.sku}`}>
                  <td>
                    {i.name} <span className="muted">({i.sku})</span>
                  </td>
                  <td className="num">{money(i.unit_price, order.currency)}</td>
                  <td className="num">{c.quantity}</td>
                  <td className="num" data-testid="line-shipped">
                    {c.shipped}
                  </td>
                  <td className="num" data-testid="line-cancelled">
                    {c.cancelled}
                  </td>
                  <td className="num" data-testid="line-returned">
                    {c.returned}
                  </td>
                  <td className="num" data-testid="line-open">
                    {c.open}
                  </td>
                  <td className="num">{money(i.line_total, order.currency)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>

      <h2>Shipments</h2>
      {shipments.length === 0 ? (
        <p className="muted">No shipment yet.</p>
      ) : (
        <ol data-testid="shipments">
          {shipments.map((s) => (
            <li key={s.id}>
              {dateTime(s.created_at)}: {s.items.map((i) => `${i.quantity} × ${names.get(i.product_id) ?? `product ${i.product_id}`}`).join(", ")}
              {s.carrier ? (
                <>
                  {" "}
                  — {s.carrier}, tracking <strong>{s.tracking_number}</strong>
                </>
              ) : (
                " — no tracking"
              )}
            </li>
          ))}
        </ol>
      )}

      <h2>Refunds</h2>
      {refunds.length === 0 ? (
        <p className="muted">No refund yet.</p>
      ) : (
        <ol data-testid="refunds">
          {refunds.map((r) => (
            <li key={r.id}>
              {dateTime(r.created_at)}: <strong>{money(r.amount, order.currency)}</strong> ({r.status})
              {r.items.length ? ` — ${r.items.map((i) => `${i.quantity} × ${names.get(i.product_id) ?? i.product_id} (${i.restock})`).join(", ")}` : ""}
              {r.shipping ? " + shipping" : ""}
              {!r.items.length && !r.shipping ? " — amount only" : ""}
              {r.reason ? <span className="muted"> · reason (admins only): {r.reason}</span> : null}
            </li>
          ))}
        </ol>
      )}

      <h2>Actions</h2>
      <div className="actions-grid">
        <StatusAction order={order} etag={etag} confirm={confirm} onDone={done} onStale={() => void refetch()} />
        <NoteAction order={order} onDone={done} />
        <ShipAction order={order} etag={etag} confirm={confirm} onDone={done} onStale={() => void refetch()} />
        <RefundAction order={order} confirm={confirm} onDone={done} />
      </div>

      <h2>History</h2>
      <p>
        <Link href={`/admin/audit?target_type=order&target_id=${order.id}`}>This order in the audit log</Link>
      </p>
      <ol className="history" data-testid="history">
        {history.map((h) => {
          const label = historyLabel(h);
          return (
            <li key={`${h.type}-${h.id}`} className={label.internal ? "internal" : undefined} data-internal={label.internal ? "true" : undefined}>
              {dateTime(h.occurred_at)}: {label.internal ? <span className="badge badge-internal">Internal note</span> : label.text}
              {h.actor ? ` (by ${h.actor.role.toLowerCase()} #${h.actor.id})` : " (system)"}
              {h.note ? (
                <>
                  {" "}
                  {!label.internal ? <span className="badge badge-visible">visible to the customer</span> : null}{" "}
                  <span className="note-text">{h.note}</span>
                </>
              ) : null}
              {label.internal ? <span className="sr-only"> (admins only, never shown to the customer)</span> : null}
            </li>
          );
        })}
      </ol>
      {dialog}
      <Toasts toasts={toasts} />
    </section>
  );
}
