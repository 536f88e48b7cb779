-- The order management system's schema.
--
-- Conventions:
-- * Ids are BIGINT identities, except orders.id: a UUID v7 made by the application, so that an
--   order's id exists before its row (idempotency, payment keys) and sorts by creation time.
-- * Every timestamp is timestamptz. Defaults use now(), the transaction's start: every row one
--   transaction writes carries the same instant.
-- * Money is BIGINT cents; prices and stock are limited to 0..=2147483647 (the API's range), so
--   quantity × price never overflows a BIGINT for any order the API accepts.
-- * Enumerations are TEXT with CHECK ... IN lists rather than PostgreSQL enum types: adding a value
--   is a constraint swap in one migration, and the driver needs no custom type mapping.
-- * CHECK constraints are the backstop for what must never be stored, whatever the code does.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'CUSTOMER' CHECK (role IN ('CUSTOMER', 'ADMIN')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Unique case-insensitively; lookups use `lower(email) = lower($1)` and so this index.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE products (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description    TEXT CHECK (length(description) <= 5000),
    price          BIGINT NOT NULL CHECK (price BETWEEN 0 AND 2147483647),
    -- The backstop against overselling: no code path can store a negative stock.
    stock_quantity BIGINT NOT NULL CHECK (stock_quantity BETWEEN 0 AND 2147483647),
    sku            TEXT NOT NULL CHECK (length(sku) BETWEEN 2 AND 64),
    -- Products are never deleted (order items point at them); archived ones are hidden from
    -- customers and cannot be ordered.
    archived       BOOLEAN NOT NULL DEFAULT false,
    -- Goes up by one on every change (stock included): the admin API's ETag.
    version        BIGINT NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX products_sku_lower_key ON products (lower(sku));

CREATE TABLE orders (
    id                   UUID PRIMARY KEY,
    user_id              BIGINT NOT NULL REFERENCES users (id),
    status               TEXT NOT NULL DEFAULT 'PENDING'
                         CHECK (status IN ('PENDING', 'PAID', 'FULFILLED', 'CANCELLED')),
    payment_status       TEXT NOT NULL DEFAULT 'unpaid'
                         CHECK (payment_status IN ('unpaid', 'processing', 'captured', 'refunded', 'failed')),
    payment_collected    BOOLEAN NOT NULL DEFAULT false,
    -- The provider's charge reference, once captured.
    payment_reference    TEXT,
    -- When the payment status last became `processing` (a charge in flight), for the reconciler.
    payment_attempted_at TIMESTAMPTZ,
    subtotal             BIGINT NOT NULL CHECK (subtotal >= 0),
    shipping_amount      BIGINT NOT NULL CHECK (shipping_amount >= 0),
    tax_amount           BIGINT NOT NULL CHECK (tax_amount >= 0),
    total_amount         BIGINT NOT NULL CHECK (total_amount >= 0),
    currency             TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- {name, line1, line2, city, region, postal_code, country}, validated by the domain.
    shipping_address     JSONB NOT NULL CHECK (jsonb_typeof(shipping_address) = 'object'),
    tracking_carrier     TEXT,
    tracking_number      TEXT,
    version              BIGINT NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT orders_total_adds_up CHECK (total_amount = subtotal + shipping_amount + tax_amount),
    CONSTRAINT orders_tracking_whole
        CHECK ((tracking_carrier IS NULL) = (tracking_number IS NULL)),
    -- An order past PENDING was paid: money was collected (refunds keep the flag, the money was
    -- taken once), except an order cancelled while PENDING.
    CONSTRAINT orders_paid_is_collected
        CHECK (status NOT IN ('PAID', 'FULFILLED') OR payment_collected)
);
-- Keyset pagination, newest first: the admin list without filters and the CSV export.
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
-- A customer's own orders, newest first (also serves the admin `user_id` filter and the FK).
CREATE INDEX orders_user_created_idx ON orders (user_id, created_at DESC, id DESC);
-- The admin `status` filter, newest first.
CREATE INDEX orders_status_created_idx ON orders (status, created_at DESC, id DESC);
-- The admin `min_total` / `max_total` filters.
CREATE INDEX orders_total_idx ON orders (total_amount);
-- The reconciler's scan: only PENDING orders are in it, and few orders are PENDING at any time, so
-- a partial index stays small however many orders there are.
CREATE INDEX orders_pending_idx ON orders (created_at) WHERE status = 'PENDING';

CREATE TABLE order_items (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id BIGINT NOT NULL REFERENCES products (id),
    -- Snapshots at placement: the order shows what was bought even if the product changes later.
    sku        TEXT NOT NULL,
    name       TEXT NOT NULL,
    quantity   BIGINT NOT NULL CHECK (quantity >= 1),
    unit_price BIGINT NOT NULL CHECK (unit_price BETWEEN 0 AND 2147483647),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Lines of the same product are merged before they are stored. Also serves lookups by order.
    CONSTRAINT order_items_order_product_key UNIQUE (order_id, product_id)
);
-- For the foreign key (and "which orders hold this product").
CREATE INDEX order_items_product_idx ON order_items (product_id);

-- The event log and every order's status history. Rows are written in the transaction of the
-- change they report. Ids are handed out in commit order: each writer takes a transaction-level
-- advisory lock right before inserting its events (see the adapter's `events.rs`), so a reader
-- that has seen id N finds everything committed later with `id > N`.
CREATE TABLE order_events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id       UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    -- The order's owner (copied, so that per-user replay needs no join): who besides admins sees it.
    user_id        BIGINT NOT NULL REFERENCES users (id),
    type           TEXT NOT NULL CHECK (type IN ('order.created', 'order.paid',
                                                 'order.status_changed', 'order.cancelled')),
    from_status    TEXT CHECK (from_status IN ('PENDING', 'PAID', 'FULFILLED', 'CANCELLED')),
    to_status      TEXT NOT NULL CHECK (to_status IN ('PENDING', 'PAID', 'FULFILLED', 'CANCELLED')),
    -- The order's payment status and total after the change, as the real-time JSON shows them.
    payment_status TEXT NOT NULL
                   CHECK (payment_status IN ('unpaid', 'processing', 'captured', 'refunded', 'failed')),
    total_amount   BIGINT NOT NULL CHECK (total_amount >= 0),
    -- Who made the change; both NULL for the system (payment, expiry).
    actor_id       BIGINT REFERENCES users (id),
    actor_role     TEXT CHECK (actor_role IN ('CUSTOMER', 'ADMIN')),
    note           TEXT,
    occurred_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT order_events_actor_whole CHECK ((actor_id IS NULL) = (actor_role IS NULL))
);
-- An order's history, oldest first.
CREATE INDEX order_events_order_idx ON order_events (order_id, id);
-- A customer's replay after a given id.
CREATE INDEX order_events_user_idx ON order_events (user_id, id);
-- Retention purge.
CREATE INDEX order_events_occurred_idx ON order_events (occurred_at);

-- The first answer to a request sent with an `Idempotency-Key`, replayed for repeats.
CREATE TABLE idempotency_keys (
    user_id           BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The route the key was used on (a key is the user's, per route).
    scope             TEXT NOT NULL,
    key               TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- Hash of the canonical request: the same key with another request is refused.
    request_hash      TEXT NOT NULL,
    -- NULL while the first request is in flight; then the answer to replay.
    response_status   INTEGER CHECK (response_status BETWEEN 100 AND 599),
    response_body     TEXT,
    response_location TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, scope, key),
    CONSTRAINT idempotency_keys_response_whole
        CHECK (response_status IS NOT NULL OR (response_body IS NULL AND response_location IS NULL))
);
-- Purge of keys past their 24 hours.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Tokens revoked at logout, until they expire anyway.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 255),
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (expires_at);

-- The simulated payment provider's own books (PAYMENT_PROVIDER=simulated). No foreign key to
-- orders on purpose: it stands for an external system that knows orders only by id.
CREATE TABLE simulated_charges (
    order_id   UUID PRIMARY KEY,
    token      TEXT NOT NULL,
    amount     BIGINT NOT NULL CHECK (amount >= 0),
    currency   TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('captured', 'declined', 'refunded')),
    reference  TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
