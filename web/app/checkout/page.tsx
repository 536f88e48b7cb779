"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useRef, useState } from "react";
import { Empty, Loading, ProblemAlert } from "@/components/ProblemAlert";
import { StripeCard, type StripeCardHandle } from "@/components/StripeCard";
import { TEST_TOKENS, TestTokenHelp, paymentTokenLabel } from "@/components/TestTokens";
import { ApiError, CheckoutAttempt, api, type Quote, type ShippingAddress } from "@/lib/api";
import { cart, useCart } from "@/lib/cart";
import { money } from "@/lib/format";
import { COUNTRIES, EMPTY_ADDRESS, buildOrderBody, loadAddress, mapFieldErrors, paymentProvider, quoteAddress, saveAddress, type AddressForm } from "@/lib/checkout";
import { useRequireUser } from "@/lib/session";
import { CardError, CardPaymentMethods, cardErrorMessage, createCardPaymentMethod, stripeConfig, type StripeCardChange } from "@/lib/stripe";

const FIELDS: { key: Exclude<keyof ShippingAddress, "country">; label: string; required: boolean; autoComplete: string; max: number }[] = [
  { key: "name", label: "Full name", required: true, autoComplete: "name", max: 200 },
  { key: "line1", label: "Address line 1", required: true, autoComplete: "address-line1", max: 200 },
  { key: "line2", label: "Address line 2 (optional)", required: false, autoComplete: "address-line2", max: 200 },
  { key: "city", label: "City", required: true, autoComplete: "address-level2", max: 200 },
  { key: "region", label: "Region / state (optional)", required: false, autoComplete: "address-level1", max: 200 },
  { key: "postal_code", label: "Postal code (optional)", required: false, autoComplete: "postal-code", max: 20 },
];

const QUOTE_DEBOUNCE_MS = 350;

export default function CheckoutPage() {
  const user = useRequireUser();
  const lines = useCart();
  const router = useRouter();
  const attempt = useRef(new CheckoutAttempt());
  const provider = paymentProvider();
  // The last address used here (localStorage is browser-only; the form renders only in the browser,
  // once the session is known, so the server's empty state never meets this one in hydration).
  const [address, setAddress] = useState<AddressForm>(() => (typeof window === "undefined" ? EMPTY_ADDRESS : (loadAddress() ?? EMPTY_ADDRESS)));
  const [token, setToken] = useState(provider === "simulated" ? "tok_visa" : "");
  // With Stripe: Stripe.js and its card Element once mounted, the message shown at the card field,
  // and the PaymentMethod made from the card as typed (reused by a retry while the card is unchanged).
  const stripe = provider === "stripe" ? stripeConfig() : null;
  const [stripeCard, setStripeCard] = useState<StripeCardHandle | null>(null);
  const [cardError, setCardError] = useState<string | null>(null);
  const paymentMethods = useRef(new CardPaymentMethods());
  const submitting = useRef(false);
  const onCardChange = useCallback((event: StripeCardChange | undefined) => {
    paymentMethods.current.cardChanged();
    setCardError(event?.error ? cardErrorMessage(event.error) : null);
  }, []);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // The last quote answer and the request (cart and country) it answered.
  const [quoted, setQuoted] = useState<{ key: string; quote: Quote | null; error: unknown } | null>(null);
  // A Stripe charge that the customer's bank must still confirm (3-D Secure): the placed order, and
  // whether the confirmation is on screen (Stripe.js) or failed (its message).
  const [awaitingAction, setAwaitingAction] = useState<{ orderId: string; failure: string | null; confirming: boolean } | null>(null);
  const formRef = useRef<HTMLFormElement>(null);

  // The quote: what placement would charge now for the cart and the destination country, asked
  // again (debounced, the previous request aborted) whenever either changes.
  const country = address.country;
  const wanted = user && lines.length > 0 && /^[A-Z]{2}$/.test(country);
  const quoteKey = wanted ? JSON.stringify([country, lines.map((l) => [l.product_id, l.quantity])]) : null;
  useEffect(() => {
    if (!quoteKey) return;
    const [c, items] = JSON.parse(quoteKey) as [string, [number, number][]];
    const controller = new AbortController();
    const timer = setTimeout(() => {
      api
        .quote(buildOrderBody(items.map(([product_id, quantity]) => ({ product_id, quantity })), quoteAddress(c)), controller.signal)
        .then((quote) => setQuoted({ key: quoteKey, quote, error: null }))
        .catch((e: unknown) => {
          if (e instanceof DOMException && e.name === "AbortError") return;
          setQuoted({ key: quoteKey, quote: null, error: e });
        });
    }, QUOTE_DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [quoteKey]);
  const current = quoteKey !== null && quoted !== null;
  // While a new quote is on its way the previous one stays on screen, marked as updating.
  const quote = current ? quoted.quote : null;
  const quoteError = current && quoted.key === quoteKey ? quoted.error : null;
  const quoting = quoteKey !== null && quoted?.key !== quoteKey;

  if (!user) return <Loading label="Checking your session…" />;
  if (awaitingAction) {
    return (
      <section>
        <h1>Checkout</h1>
        {awaitingAction.failure ? (
          <div className="alert alert-error" role="alert" data-testid="payment-action-failed">
            <strong>Your bank did not confirm this payment.</strong>
            <p>
              {awaitingAction.failure} Your order is placed but not paid: nothing was charged. You may pay it from the
              order&apos;s page until it expires.
            </p>
            <p>
              <Link href={`/orders/${awaitingAction.orderId}`}>See your order</Link>
            </p>
          </div>
        ) : (
          <div className="alert alert-warn" role="status" data-testid="payment-action">
            <strong>Your bank must confirm this payment.</strong>
            <p>
              Your order is placed and waits for the payment to be confirmed (3-D Secure).{" "}
              {awaitingAction.confirming
                ? "Finish the confirmation your bank shows; the order's page opens once it is done."
                : "The order turns paid by itself once it is confirmed, and is cancelled if it never is."}
            </p>
            <p>
              <Link href={`/orders/${awaitingAction.orderId}`}>Follow your order</Link>
            </p>
          </div>
        )}
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

  const problem = error instanceof ApiError ? error.problem : null;
  const declined = problem?.code === "payment_declined";
  const shortStockProblem =
    problem?.code === "insufficient_stock"
      ? problem
      : quoteError instanceof ApiError && quoteError.problem.code === "insufficient_stock"
        ? quoteError.problem
        : null;
  const fieldErrors = mapFieldErrors(problem?.code === "validation_failed" ? problem.errors : undefined);
  const quoteFieldErrors = mapFieldErrors(
    quoteError instanceof ApiError && quoteError.problem.code === "validation_failed" ? quoteError.problem.errors : undefined,
  );
  const countryError = fieldErrors.address.country ?? quoteFieldErrors.address.country;
  // The general alert shows the problem without the field errors that are shown at their inputs.
  const generalError =
    problem?.code === "validation_failed"
      ? fieldErrors.other.length > 0 || Object.keys(fieldErrors.items).length > 0
        ? new ApiError({ ...problem, errors: [...fieldErrors.other, ...Object.entries(fieldErrors.items).map(([i, m]) => ({ field: `${lines[Number(i)]?.name ?? `Line ${Number(i) + 1}`}`, message: m }))] })
        : new ApiError({ ...problem, errors: undefined, detail: "Please correct the fields marked below." })
      : error;

  const submit = async () => {
    // One submission at a time: with Stripe each one first makes a PaymentMethod, and two of them
    // would be two order bodies (two keys, two orders).
    if (submitting.current) return;
    submitting.current = true;
    setBusy(true);
    setError(null);
    saveAddress(address);
    try {
      let paymentToken = token;
      if (stripe) {
        const handle = stripeCard;
        if (!handle) throw new CardError({ message: "The card form is not ready yet. Please wait a moment and try again." });
        setCardError(null);
        paymentToken = await paymentMethods.current.get(() => createCardPaymentMethod(handle.stripe, handle.card, address.name.trim()));
      }
      // The same attempt (same key) while the body is unchanged and no final answer came back, so
      // a double click or a retry after a network error never makes a second order.
      const result = await attempt.current.place(api, buildOrderBody(lines, address, paymentToken));
      paymentMethods.current.forget();
      cart.clear();
      const clientSecret = result.order.payment?.client_secret;
      if (clientSecret) {
        // 3-D Secure: Stripe.js shows the bank's confirmation; the server learns the outcome from
        // Stripe (webhook, reconciler) and the order's page follows it live.
        setAwaitingAction({ orderId: result.order.id, failure: null, confirming: Boolean(stripeCard) });
        if (!stripeCard) return;
        const confirmed = await stripeCard.stripe.confirmCardPayment(clientSecret).catch((e: unknown) => ({ error: { message: e instanceof Error ? e.message : undefined } }));
        if (confirmed?.error || !confirmed) {
          setAwaitingAction({ orderId: result.order.id, failure: cardErrorMessage(confirmed?.error), confirming: false });
          return;
        }
        router.push(`/orders/${result.order.id}?processing=1`);
        return;
      }
      router.push(`/orders/${result.order.id}${result.status === 202 ? "?processing=1" : ""}`);
    } catch (e) {
      submitting.current = false;
      setBusy(false);
      if (e instanceof CardError) {
        setCardError(e.message);
        stripeCard?.card.focus?.();
        return;
      }
      if (e instanceof ApiError && e.problem.code === "payment_declined") paymentMethods.current.forget();
      setError(e);
      // Focus the first field the server refused, so keyboard and screen-reader users land on it.
      if (e instanceof ApiError && e.problem.code === "validation_failed") {
        const mapped = mapFieldErrors(e.problem.errors);
        const first = [...FIELDS.map((f) => f.key), "country" as const].find((k) => mapped.address[k]);
        const id = first ? `addr-${first}` : mapped.payment && !stripe ? "payment-token" : null;
        if (id) setTimeout(() => document.getElementById(id)?.focus(), 0);
      }
    }
  };

  const describedBy = (...ids: (string | false | undefined)[]) => ids.filter(Boolean).join(" ") || undefined;

  return (
    <section>
      <h1>Checkout</h1>
      <div className="two-col">
        <form
          ref={formRef}
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
          aria-describedby="checkout-summary"
        >
          <fieldset>
            <legend>Shipping address</legend>
            {FIELDS.map((f) => {
              const message = fieldErrors.address[f.key];
              return (
                <div key={f.key}>
                  <label htmlFor={`addr-${f.key}`}>{f.label}</label>
                  <input
                    id={`addr-${f.key}`}
                    name={f.key}
                    required={f.required}
                    maxLength={f.max}
                    autoComplete={f.autoComplete}
                    value={address[f.key]}
                    aria-invalid={message ? true : undefined}
                    aria-describedby={describedBy(message && `addr-${f.key}-error`)}
                    onChange={(e) => setAddress({ ...address, [f.key]: e.target.value })}
                  />
                  {message ? (
                    <p id={`addr-${f.key}-error`} className="field-error" data-testid={`error-${f.key}`}>
                      {message}
                    </p>
                  ) : null}
                </div>
              );
            })}
            <label htmlFor="addr-country">Country</label>
            <select
              id="addr-country"
              name="country"
              required
              autoComplete="country"
              value={address.country}
              aria-invalid={countryError ? true : undefined}
              aria-describedby={describedBy(countryError && "addr-country-error")}
              onChange={(e) => setAddress({ ...address, country: e.target.value })}
            >
              <option value="">Choose a country…</option>
              {address.country && !COUNTRIES.some((c) => c.code === address.country) ? (
                <option value={address.country}>{address.country}</option>
              ) : null}
              {COUNTRIES.map((c) => (
                <option key={c.code} value={c.code}>
                  {c.name} ({c.code})
                </option>
              ))}
            </select>
            {countryError ? (
              <p id="addr-country-error" className="field-error" data-testid="error-country">
                {countryError}
              </p>
            ) : null}
            <p className="hint">This address is remembered on this device for your next order.</p>
          </fieldset>
          <fieldset>
            <legend>Payment</legend>
            {stripe ? (
              <>
                <StripeCard
                  config={stripe}
                  error={cardError ?? fieldErrors.payment ?? null}
                  describedBy={declined ? "payment-declined" : undefined}
                  onChange={onCardChange}
                  onReady={setStripeCard}
                />
                {declined ? (
                  <div id="payment-declined" className="alert alert-error" role="alert" data-testid="payment-declined">
                    <strong>Your card was declined.</strong>
                    <p>
                      The payment was not accepted{problem?.detail ? ` (${problem.detail})` : ""}. Nothing was charged, the order
                      was cancelled and its items were put back in stock. Your cart is unchanged: try another card.
                    </p>
                    {typeof problem?.order_id === "string" ? (
                      <p>
                        <Link href={`/orders/${problem.order_id}`}>See the cancelled order</Link>
                      </p>
                    ) : null}
                  </div>
                ) : null}
              </>
            ) : (
              <>
                <label htmlFor="payment-token">{paymentTokenLabel()}</label>
                <input
                  id="payment-token"
                  required
                  value={token}
                  list="test-tokens"
                  aria-invalid={fieldErrors.payment ? true : undefined}
                  aria-describedby={describedBy(fieldErrors.payment && "payment-token-error", "token-help")}
                  onChange={(e) => setToken(e.target.value)}
                />
                <datalist id="test-tokens">
                  {TEST_TOKENS.map((t) => (
                    <option key={t.token} value={t.token} />
                  ))}
                </datalist>
                {fieldErrors.payment ? (
                  <p id="payment-token-error" className="field-error">
                    {fieldErrors.payment}
                  </p>
                ) : null}
                <TestTokenHelp id="token-help" />
              </>
            )}
          </fieldset>
          {declined && stripe ? null : declined ? (
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
          ) : shortStockProblem ? (
            <div className="alert alert-error" role="alert" data-testid="insufficient-stock">
              <strong>Not enough stock.</strong>
              <ul>
                {(shortStockProblem.errors ?? []).map((e, i) => {
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
                  for (const e of shortStockProblem.errors ?? []) {
                    if (typeof e.product_id === "number") cart.setQuantity(e.product_id, e.available ?? 0);
                  }
                  setError(null);
                }}
              >
                Reduce my cart to what is available
              </button>
            </div>
          ) : (
            <ProblemAlert error={generalError} />
          )}
          <div className="form-actions">
            <button type="submit" disabled={busy || (stripe !== null && !stripeCard)} data-testid="place-order">
              {busy ? "Placing your order…" : quote && !quoting ? `Place order (${money(quote.total_amount, quote.currency)})` : "Place order"}
            </button>
            <Link href="/cart">Back to cart</Link>
          </div>
        </form>
        <aside id="checkout-summary" aria-label="Order summary" data-testid="quote" aria-busy={quoting}>
          <h2>Summary</h2>
          {quote ? (
            <>
              <ul className="quote-lines">
                {quote.items.map((l) => (
                  <li key={l.product_id}>
                    {l.quantity} × {l.name} — {money(l.line_total, quote.currency)}
                  </li>
                ))}
              </ul>
              <dl className="summary">
                <dt>Subtotal</dt>
                <dd data-testid="quote-subtotal">{money(quote.subtotal, quote.currency)}</dd>
                <dt>Shipping</dt>
                <dd data-testid="quote-shipping">{quote.shipping_amount === 0 ? "Free" : money(quote.shipping_amount, quote.currency)}</dd>
                <dt>Tax</dt>
                <dd data-testid="quote-tax">{money(quote.tax_amount, quote.currency)}</dd>
                <dt>
                  <strong>Total</strong>
                </dt>
                <dd>
                  <strong data-testid="quote-total" aria-live="polite" aria-atomic="true">
                    {money(quote.total_amount, quote.currency)}
                  </strong>
                </dd>
              </dl>
              <p className="hint">{quoting ? "Updating…" : "Priced by the shop just now; the order is charged this amount."}</p>
            </>
          ) : (
            <>
              <ul>
                {lines.map((l) => (
                  <li key={l.product_id}>
                    {l.quantity} × {l.name} — {money(l.price * l.quantity)}
                  </li>
                ))}
              </ul>
              <p className="hint" role="status">
                {quoting
                  ? "Pricing your order…"
                  : address.country
                    ? quoteError && !shortStockProblem
                      ? "The shop could not price this order; see the message beside the form."
                      : ""
                    : "Choose the country to see shipping, tax and the total."}
              </p>
              {quoteError && !shortStockProblem && !countryError ? <ProblemAlert error={quoteError} testId="quote-problem" /> : null}
            </>
          )}
        </aside>
      </div>
    </section>
  );
}
