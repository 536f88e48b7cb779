-- Stripe as a payment provider (API.md version 3, "Stripe").

-- One row per charge attempt of an order made through Stripe: noted before the PaymentIntent is
-- created (so a crash or a timeout between the creation and the answer leaves a trace the
-- reconciler follows), its id recorded once Stripe answered with it.
CREATE TABLE stripe_payment_intents (
    order_id    UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL CHECK (attempt >= 1),
    -- `pi_...`; NULL while the creation is in flight or when its answer was lost.
    intent_id   TEXT UNIQUE CHECK (length(intent_id) BETWEEN 1 AND 255),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, attempt)
);

-- Every Stripe event applied, stored in the transaction of the change it made: a replay finds
-- its id here and changes nothing.
CREATE TABLE stripe_events (
    event_id    TEXT PRIMARY KEY CHECK (length(event_id) BETWEEN 1 AND 255),
    type        TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
