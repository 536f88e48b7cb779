"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useRef, useState } from "react";
import { Empty, Loading, ProblemAlert } from "@/components/ProblemAlert";
import { TestTokenHelp } from "@/components/TestTokens";
import { ApiError, CheckoutAttempt, api, type PlaceOrderBody, type ShippingAddress } from "@/lib/api";
import { cart, useCart } from "@/lib/cart";
import { money } from "@/lib/format";
import { useRequireUser } from "@/lib/session";

const FIELDS: { key: keyof ShippingAddress; label: string; required: boolean; autoComplete: string; max: number }[] = [
  { key: "name", label: "Full name", required: true, autoComplete: "name", max: 200 },
  { key: "line1", label: "Address line 1", required: true, autoComplete: "address-line1", max: 200 },
  { key: "line2", label: "Address line 2 (optional)", required: false, autoComplete: "address-line2", max: 200 },
  { key: "city", label: "City", required: true, autoComplete: "address-level2", max: 200 },
  { key: "region", label: "Region / state (optional)", required: false, autoComplete: "address-level1", max: 200 },
  { key: "postal_code", label: "Postal code (optional)", required: false, autoComplete: "postal-code", max: 20 },
  { key: "country", label: "Country (2-letter code, e.g. GB, US)", required: true, autoComplete: "country", max: 2 },
];

type Address = Record<keyof ShippingAddress, string>;

export default function CheckoutPage() {
  const user = useRequireUser();
  const lines = useCart();
  const router = useRouter();
  const attempt = useRef(new CheckoutAttempt());
  const [address, setAddress] = useState<Address>({ name: "", line1: "", line2: "", city: "", region: "", postal_code: "", country: "" });
  const [token, setToken] = useState("tok_visa");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // A Stripe charge that the customer's bank must still confirm (3-D Secure): the placed order.
  const [awaitingAction, setAwaitingAction] = useState<string | null>(null);

  if (!user) return <Loading label="Checking your session…" />;
  if (awaitingAction) {
    return (
      <section>
        <h1>Checkout</h1>
        <div className="alert alert-warn" role="status" data-testid="payment-action">
          <strong>Your bank must confirm this payment.</strong>
          <p>
            Your order is placed and waits for the payment to be confirmed (3-D Secure). Finish the confirmation your
            bank asks for; the order turns paid by itself once it is confirmed, and is cancelled if it never is.
          </p>
          <p>
            <Link href={`/orders/${awaitingAction}`}>Follow your order</Link>
          </p>
        </div>
      </section>
    );
  }
  if (lines.length === 0) {
    return (
      <section>
        <h1>Checkout</h1>
        <Empty>
          Your cart is empty. <Link href="/">Browse the catalogue</Link>.
        </Empty>
      </section>
    );
  }

  const subtotal = lines.reduce((s, l) => s + l.price * l.quantity, 0);
  const problem = error instanceof ApiError ? error.problem : null;
  const declined = problem?.code === "payment_declined";
  const shortStock = problem?.code === "insufficient_stock";

  const body = (): PlaceOrderBody => ({
    items: lines.map((l) => ({ product_id: l.product_id, quantity: l.quantity })),
    shipping_address: {
      name: address.name.trim(),
      line1: address.line1.trim(),
      line2: address.line2.trim() || null,
      city: address.city.trim(),
      region: address.region.trim() || null,
      postal_code: address.postal_code.trim() || null,
      country: address.country.trim().toUpperCase(),
    },
    payment: { token: token.trim() },
  });

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      // The same attempt (same key) while the body is unchanged and no final answer came back, so
      // a double click or a retry after a network error never makes a second order.
      const result = await attempt.current.place(api, body());
      cart.clear();
      if (result.order.payment?.client_secret) {
        // A shop that loads Stripe.js passes the secret to stripe.handleNextAction() here.
        setAwaitingAction(result.order.id);
        return;
      }
      router.push(`/orders/${result.order.id}${result.status === 202 ? "?processing=1" : ""}`);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  return (
    <section>
      <h1>Checkout</h1>
      <div className="two-col">
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
          aria-describedby="checkout-summary"
        >
          <fieldset>
            <legend>Shipping address</legend>
            {FIELDS.map((f) => (
              <div key={f.key}>
                <label htmlFor={`addr-${f.key}`}>{f.label}</label>
                <input
                  id={`addr-${f.key}`}
                  name={f.key}
                  required={f.required}
                  maxLength={f.max}
                  minLength={f.key === "country" ? 2 : undefined}
                  autoComplete={f.autoComplete}
                  value={address[f.key]}
                  onChange={(e) => setAddress({ ...address, [f.key]: e.target.value })}
                />
              </div>
            ))}
          </fieldset>
          <fieldset>
            <legend>Payment</legend>
            <label htmlFor="payment-token">Payment token</label>
            <input
              id="payment-token"
              required
              value={token}
              list="test-tokens"
              aria-describedby="token-help"
              onChange={(e) => setToken(e.target.value)}
            />
            <datalist id="test-tokens">
              <option value="tok_visa" />
              <option value="tok_chargeDeclined" />
              <option value="tok_timeout" />
              <option value="tok_error" />
              <option value="pm_card_visa" />
            </datalist>
            <TestTokenHelp id="token-help" />
          </fieldset>
          {declined ? (
            <div className="alert alert-error" role="alert" data-testid="payment-declined">
              <strong>Payment declined.</strong>
              <p>
                Your payment was not accepted{problem?.detail ? ` (${problem.detail})` : ""}. Nothing was charged, the order was
                cancelled and its items were put back in stock. Your cart is unchanged: try another payment token.
              </p>
              {typeof problem?.order_id === "string" ? (
                <p>
                  <Link href={`/orders/${problem.order_id}`}>See the cancelled order</Link>
                </p>
              ) : null}
            </div>
          ) : shortStock ? (
            <div className="alert alert-error" role="alert" data-testid="insufficient-stock">
              <strong>Not enough stock.</strong>
              <ul>
                {(problem?.errors ?? []).map((e, i) => {
                  const line = lines.find((l) => l.product_id === e.product_id);
                  return (
                    <li key={i}>
                      {line?.name ?? `Product ${e.product_id}`}: only {e.available ?? 0} available
                    </li>
                  );
                })}
              </ul>
              <button
                type="button"
                className="secondary"
                onClick={() => {
                  for (const e of problem?.errors ?? []) {
                    if (typeof e.product_id === "number") cart.setQuantity(e.product_id, e.available ?? 0);
                  }
                  setError(null);
                }}
              >
                Reduce my cart to what is available
              </button>
            </div>
          ) : (
            <ProblemAlert error={error} />
          )}
          <div className="form-actions">
            <button type="submit" disabled={busy} data-testid="place-order">
              {busy ? "Placing your order…" : `Place order`}
            </button>
            <Link href="/cart">Back to cart</Link>
          </div>
        </form>
        <aside id="checkout-summary" aria-label="Order summary">
          <h2>Summary</h2>
          <ul>
            {lines.map((l) => (
              <li key={l.product_id}>
                {l.quantity} × {l.name} — {money(l.price * l.quantity)}
              </li>
            ))}
          </ul>
          <p>
            Subtotal <strong>{money(subtotal)}</strong>
          </p>
          <p className="hint">Shipping and tax are computed by the shop when the order is placed.</p>
        </aside>
      </div>
    </section>
  );
}
