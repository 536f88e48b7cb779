"use client";

import Link from "next/link";
import { useParams } from "next/navigation";
import { useCallback, useEffect, useRef, useState } from "react";
import { LiveIndicator } from "@/components/LiveIndicator";
import { OrderTotals } from "@/components/OrderTotals";
import { Loading, ProblemAlert } from "@/components/ProblemAlert";
import { StatusBadge } from "@/components/StatusBadge";
import { StripeCard, type StripeCardHandle } from "@/components/StripeCard";
import { TestTokenHelp, paymentTokenLabel } from "@/components/TestTokens";
import { ApiError, api, newIdempotencyKey, type Order, type OrderHistoryEntry, type OrderStatus, type PaymentStatus } from "@/lib/api";
import { paymentProvider } from "@/lib/checkout";
import { dateTime, money } from "@/lib/format";
import { useRequireUser } from "@/lib/session";
import { CardError, CardPaymentMethods, cardErrorMessage, createCardPaymentMethod, stripeConfig, type StripeCardChange } from "@/lib/stripe";
import { useLiveFeed } from "@/lib/useLive";

/**
 * One order, kept up to date live: each event for this order updates the status at once, then the
 * order and its history are refetched (for tracking, totals and the allowed transitions). After
 * every (re)connect and on `stream.reset` the order is refetched too, so no status is missed.
 */
export default function OrderPage() {
  const params = useParams<{ id: string }>();
  const id = params.id;
  const user = useRequireUser();
  const [order, setOrder] = useState<Order | null>(null);
  const [history, setHistory] = useState<OrderHistoryEntry[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [token, setToken] = useState("tok_visa");
  const payKey = useRef<{ token: string; key: string } | null>(null);
  // With Stripe the pay form takes a card, as the checkout does (components/StripeCard.tsx).
  const stripe = paymentProvider() === "stripe" ? stripeConfig() : null;
  const [stripeCard, setStripeCard] = useState<StripeCardHandle | null>(null);
  const [cardError, setCardError] = useState<string | null>(null);
  const paymentMethods = useRef(new CardPaymentMethods());
  const onCardChange = useCallback((event: StripeCardChange | undefined) => {
    paymentMethods.current.cardChanged();
    setCardError(event?.error ? cardErrorMessage(event.error) : null);
  }, []);
  // History entries are the order's events: the newest id is where a reconnect resumes from.
  const resumeRef = useRef<(id: number) => void>(() => undefined);

  const refetch = useCallback(async () => {
    try {
      const [o, h] = await Promise.all([api.getOrder(id), api.orderHistory(id)]);
      setOrder(o);
      setHistory(h.items);
      if (h.items.length) resumeRef.current(Math.max(...h.items.map((e) => e.id)));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [id]);

  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect -- loading data from the API
    if (user) void refetch();
  }, [user, refetch]);

  const live = useLiveFeed(Boolean(user), {
    onEvent: (event) => {
      if (event.order_id !== id) return;
      setOrder((o) =>
        o ? { ...o, status: event.to_status as OrderStatus, payment_status: event.payment_status as PaymentStatus } : o,
      );
      void refetch();
    },
    onConnected: () => void refetch(),
    onReset: () => void refetch(),
  });
  useEffect(() => {
    resumeRef.current = live.resumeFrom;
  }, [live.resumeFrom]);

  if (!user) return <Loading label="Checking your session…" />;
  if (error && !order) {
    return (
      <section>
        <h1>Order</h1>
        <ProblemAlert error={error} />
        <Link href="/orders">Back to my orders</Link>
      </section>
    );
  }
  if (!order) return <Loading label="Loading the order…" />;

  const payable = order.status === "PENDING" && (order.payment_status === "unpaid" || order.payment_status === "failed");
  const declined = actionError instanceof ApiError && actionError.code === "payment_declined";

  return (
    <section>
      <h1>
        Order <code>{order.id}</code>
      </h1>
      <LiveIndicator state={live.state} transport={live.transport} />
      <p>
        Status: <StatusBadge status={order.status} testId="order-status" /> · payment{" "}
        <span data-testid="payment-status">{order.payment_status}</span>
      </p>
      {order.payment_status === "processing" ? (
        <div className="alert alert-warn" role="status">
          Your payment is being processed. This page updates by itself when it completes.
        </div>
      ) : null}
      {order.tracking ? (
        <p data-testid="tracking">
          Shipped with {order.tracking.carrier}, tracking number <strong>{order.tracking.tracking_number}</strong>
        </p>
      ) : null}
      <ProblemAlert error={error} />
      <div className="two-col">
        <div>
          <h2>Items</h2>
          <ul>
            {order.items.map((i) => (
              <li key={i.product_id}>
                {i.quantity} × {i.name} <span className="muted">({i.sku})</span> — {money(i.line_total, order.currency)}
              </li>
            ))}
          </ul>
          <OrderTotals order={order} />
        </div>
        <div>
          <h2>Ship to</h2>
          <address>
            {order.shipping_address.name}
            <br />
            {order.shipping_address.line1}
            {order.shipping_address.line2 ? (
              <>
                <br />
                {order.shipping_address.line2}
              </>
            ) : null}
            <br />
            {order.shipping_address.postal_code} {order.shipping_address.city}
            {order.shipping_address.region ? `, ${order.shipping_address.region}` : ""}
            <br />
            {order.shipping_address.country}
          </address>
          <p className="muted">Placed {dateTime(order.created_at)}</p>
        </div>
      </div>

      {payable ? (
        <form
          className="form"
          onSubmit={async (e) => {
            e.preventDefault();
            if (busy) return;
            setBusy(true);
            setActionError(null);
            setCardError(null);
            try {
              let payToken = token;
              if (stripe) {
                const handle = stripeCard;
                if (!handle) throw new CardError({ message: "The card form is not ready yet. Please wait a moment and try again." });
                payToken = await paymentMethods.current.get(() => createCardPaymentMethod(handle.stripe, handle.card));
              }
              // One key per payment attempt with this token, kept for a retry after a network error.
              if (!payKey.current || payKey.current.token !== payToken) payKey.current = { token: payToken, key: newIdempotencyKey() };
              const paid = await api.payOrder(order.id, payToken, payKey.current.key);
              payKey.current = null;
              paymentMethods.current.forget();
              setOrder(paid);
              const clientSecret = paid.payment?.client_secret;
              if (clientSecret && stripeCard) {
                // 3-D Secure: the bank's confirmation in the page; the order turns paid live.
                const confirmed = await stripeCard.stripe.confirmCardPayment(clientSecret).catch(() => undefined);
                if (!confirmed || confirmed.error) setCardError(`Your bank did not confirm this payment. ${cardErrorMessage(confirmed?.error)}`);
              }
            } catch (err) {
              if (err instanceof CardError) {
                setCardError(err.message);
              } else {
                if (err instanceof ApiError && err.status !== 0 && err.status < 500) {
                  payKey.current = null;
                  paymentMethods.current.forget();
                }
                setActionError(err);
              }
            } finally {
              setBusy(false);
              void refetch();
            }
          }}
        >
          <h2>Pay for this order</h2>
          {stripe ? (
            <StripeCard config={stripe} error={cardError} onChange={onCardChange} onReady={setStripeCard} />
          ) : (
            <>
              <label htmlFor="pay-token">{paymentTokenLabel()}</label>
              <input id="pay-token" value={token} onChange={(e) => setToken(e.target.value)} aria-describedby="pay-help" required />
              <TestTokenHelp id="pay-help" />
            </>
          )}
          <button type="submit" disabled={busy || (stripe !== null && !stripeCard)}>
            {busy ? "Paying…" : "Pay now"}
          </button>
        </form>
      ) : null}
      {declined ? (
        <div className="alert alert-error" role="alert" data-testid="payment-declined">
          <strong>Payment declined.</strong> <p>{(actionError as ApiError).problem.detail}</p>
        </div>
      ) : (
        <ProblemAlert error={actionError} />
      )}
      {order.allowed_transitions.includes("CANCELLED") ? (
        <div className="form-actions">
          <button
            type="button"
            className="danger"
            disabled={busy}
            onClick={async () => {
              if (!window.confirm("Cancel this order?")) return;
              setBusy(true);
              setActionError(null);
              try {
                setOrder(await api.cancelOrder(order.id));
              } catch (err) {
                setActionError(err);
              } finally {
                setBusy(false);
                void refetch();
              }
            }}
          >
            Cancel order
          </button>
        </div>
      ) : null}

      <h2>History</h2>
      <ol data-testid="history">
        {history.map((h) => (
          <li key={h.id}>
            {dateTime(h.occurred_at)}: {h.from_status ? `${h.from_status} → ` : ""}
            {h.type === "note" ? "Note" : h.to_status}
            {h.actor ? ` (by ${h.actor.role.toLowerCase()})` : " (system)"}
            {h.note ? ` — ${h.note}` : ""}
          </li>
        ))}
      </ol>
      <p>
        <Link href="/orders">Back to my orders</Link>
      </p>
    </section>
  );
}
