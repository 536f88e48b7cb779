-- Email (API.md version 3, "Email"): the durable queue of emails made from committed events, and
-- the position up to which events have been turned into emails. Delivered by the same leased,
-- retried machinery as webhooks (see crates/app/src/delivery.rs).

-- One row per (event, recipient): that email, all its attempts.
CREATE TABLE email_deliveries (
    id              UUID PRIMARY KEY,
    event_id        BIGINT NOT NULL,
    -- domain::email::MailKind (also the template's name).
    kind            TEXT NOT NULL
                    CHECK (kind IN ('order_paid', 'new_order', 'shipped', 'refunded', 'cancelled')),
    -- The address as it was when the event was turned into emails.
    recipient       TEXT NOT NULL CHECK (length(recipient) BETWEEN 3 AND 320),
    order_id        UUID NOT NULL,
    shipment_id     UUID,
    refund_id       UUID,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TIMESTAMPTZ,
    last_attempt_at TIMESTAMPTZ,
    last_error      TEXT,
    -- An attempt in flight: the claim that holds it and until when (then another instance may
    -- take it over: the holder crashed).
    lease_token     UUID,
    leased_until    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The Message-ID is fixed per event and recipient: so is the row.
    CONSTRAINT email_deliveries_once UNIQUE (event_id, recipient),
    CONSTRAINT email_deliveries_due CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
);
-- The claim: pending emails in the claim's order (due time, then event id).
CREATE INDEX email_deliveries_due_idx ON email_deliveries (next_attempt_at, event_id)
    WHERE status = 'pending';
-- The retention purge.
CREATE INDEX email_deliveries_created_idx ON email_deliveries (created_at);

-- Up to which event id committed events have been turned into emails (one row). Starts at the
-- newest event: emails are for what happens from now on.
CREATE TABLE email_fanout (
    singleton     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    last_event_id BIGINT NOT NULL
);
INSERT INTO email_fanout (last_event_id) SELECT COALESCE(max(id), 0) FROM order_events;
