"use client";

import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { loadStripeJs, type StripeCardChange, type StripeCardElement, type StripeConfig, type StripeJs } from "@/lib/stripe";

/** Stripe.js and the mounted card Element, for the page to create a PaymentMethod at submit. */
export interface StripeCardHandle {
  stripe: StripeJs;
  card: StripeCardElement;
}

/**
 * The card field of a Stripe checkout: Stripe.js's `card` Element (its inputs live in Stripe's
 * frame, so card details never reach this app), labelled, with its error below it (role=alert,
 * referenced by aria-describedby). Without a publishable key it says so instead of showing a form
 * that cannot work. `error` is the message to show at the field (the page's: Stripe.js's change
 * errors it is told of through `onChange`, a failed PaymentMethod, a decline); `describedBy` adds
 * ids of other messages about the card. `onReady` gets the handle once the Element is mounted, and
 * null when it goes away.
 */
export function StripeCard({
  config,
  error,
  describedBy,
  onChange,
  onReady,
}: {
  config: StripeConfig;
  error: string | null;
  describedBy?: string;
  onChange: (event: StripeCardChange | undefined) => void;
  onReady: (handle: StripeCardHandle | null) => void;
}) {
  const mountRef = useRef<HTMLDivElement>(null);
  const cardRef = useRef<StripeCardElement | null>(null);
  // The latest callbacks, so that a new function from the page does not remount the Element.
  const callbacks = useRef({ onChange, onReady });
  useLayoutEffect(() => {
    callbacks.current = { onChange, onReady };
  });
  const [load, setLoad] = useState<{ tries: number; state: "loading" | "ready" | "failed" }>({ tries: 0, state: "loading" });
  const { publishableKey, jsUrl } = config;

  useEffect(() => {
    if (!publishableKey) return;
    let cancelled = false;
    let card: StripeCardElement | null = null;
    loadStripeJs(jsUrl)
      .then((factory) => {
        if (cancelled || !mountRef.current) return;
        const stripe = factory(publishableKey);
        card = stripe.elements().create("card");
        card.on("change", (event) => callbacks.current.onChange(event));
        card.mount(mountRef.current);
        cardRef.current = card;
        setLoad((l) => ({ ...l, state: "ready" }));
        callbacks.current.onReady({ stripe, card });
      })
      .catch(() => {
        if (!cancelled) setLoad((l) => ({ ...l, state: "failed" }));
      });
    return () => {
      cancelled = true;
      if (card) {
        callbacks.current.onReady(null);
        card.destroy();
        cardRef.current = null;
      }
    };
  }, [publishableKey, jsUrl, load.tries]);

  if (!publishableKey) {
    return (
      <div className="alert alert-error" role="alert" data-testid="stripe-not-configured">
        <strong>Card payments are not set up.</strong>
        <p>
          This shop takes payments through Stripe, but the web app was built without its publishable key
          (NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY), so no order can be paid here. Please contact the shop.
        </p>
      </div>
    );
  }

  const ids = [error ? "card-error" : null, describedBy, "card-help"].filter(Boolean).join(" ");
  return (
    <div>
      {/* The Element is not a form control of this document: the label names its group and focuses it. */}
      <label id="card-label" onClick={() => cardRef.current?.focus?.()}>
        Card
      </label>
      <div
        ref={mountRef}
        id="card-element"
        className="card-element"
        role="group"
        aria-labelledby="card-label"
        aria-describedby={ids}
        data-invalid={error ? "true" : undefined}
        data-state={load.state}
        data-testid="card-element"
      />
      {load.state === "loading" ? (
        <p className="hint" role="status">
          Loading the card form…
        </p>
      ) : null}
      {load.state === "failed" ? (
        <div className="alert alert-error" role="alert" data-testid="stripe-load-failed">
          <strong>The card form could not be loaded.</strong>
          <p>Stripe, which takes the card, did not answer. Check your connection, then try again.</p>
          <button type="button" className="secondary" onClick={() => setLoad((l) => ({ tries: l.tries + 1, state: "loading" }))}>
            Try again
          </button>
        </div>
      ) : null}
      {error ? (
        <p id="card-error" className="field-error" role="alert" data-testid="card-error">
          {error}
        </p>
      ) : null}
      <p id="card-help" className="hint">
        Card payments go through Stripe: the card&apos;s details go straight to Stripe and never reach this shop.
      </p>
    </div>
  );
}
