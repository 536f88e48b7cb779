-- Customers, account security, internal notes and the audit log (API.md version 3: "Customers",
-- "Notes and the audit log").

-- A user's status, the ETag of the admin customer API, and the token generation: every session
-- token carries the generation it was issued under (claim `gen`); raising it (disable, role change,
-- password change) invalidates every older token at once. Each instance keeps the generations raised
-- within the last `JWT_TTL` in memory (`tokens_revoked_at` finds them), refreshed over
-- `LISTEN oms_revocations`, so the check costs no query per request.
ALTER TABLE users
    ADD COLUMN status            TEXT NOT NULL DEFAULT 'active'
                                 CHECK (status IN ('active', 'disabled')),
    ADD COLUMN version           BIGINT NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN token_generation  BIGINT NOT NULL DEFAULT 0 CHECK (token_generation >= 0),
    ADD COLUMN tokens_revoked_at TIMESTAMPTZ;
-- The admin customer list, newest first.
CREATE INDEX users_created_idx ON users (created_at DESC, id DESC);
-- ... and with the `role` or `status` filter (admins and disabled users are few: without these a
-- page of them reads most users).
CREATE INDEX users_role_created_idx ON users (role, created_at DESC, id DESC);
CREATE INDEX users_status_created_idx ON users (status, created_at DESC, id DESC);
-- The generations to load at start-up.
CREATE INDEX users_tokens_revoked_idx ON users (tokens_revoked_at) WHERE tokens_revoked_at IS NOT NULL;
-- The last-admin rule counts these.
CREATE INDEX users_active_admins_idx ON users (id) WHERE role = 'ADMIN' AND status = 'active';

-- A customer's figures (order_count, total_spent, last_order_at) are summed over their orders when
-- a page is read, from this index alone (an index-only scan: no heap visit once vacuumed), so they
-- are exact in every transaction and placement writes no user row. It replaces
-- orders_user_created_idx (same keys, more columns), so an order write maintains as many indexes as
-- before.
CREATE INDEX orders_user_figures_idx ON orders (user_id, created_at DESC, id DESC)
    INCLUDE (total_amount, refunded_amount, payment_collected);
DROP INDEX orders_user_created_idx;

-- Internal order notes: admins only, never an event. Their ids come from the events' sequence, so
-- that an order's history (events and notes) has one id space, in the order things happened.
CREATE TABLE order_notes (
    id          BIGINT PRIMARY KEY DEFAULT nextval(pg_get_serial_sequence('order_events', 'id')),
    order_id    UUID NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    actor_id    BIGINT NOT NULL REFERENCES users (id),
    actor_role  TEXT NOT NULL CHECK (actor_role IN ('CUSTOMER', 'ADMIN')),
    note        TEXT NOT NULL CHECK (length(note) BETWEEN 1 AND 2000),
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX order_notes_order_idx ON order_notes (order_id, id);

-- The audit log: one row per admin write and per security event, inserted in the transaction of
-- the change it records. Append-only: see the triggers below.
CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    action      TEXT NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    -- No foreign key: an entry outlives anything it names, and writing one locks nothing.
    actor_id    BIGINT,
    actor_role  TEXT CHECK (actor_role IN ('CUSTOMER', 'ADMIN')),
    target_type TEXT CHECK (target_type ~ '^[a-z_]+$'),
    target_id   TEXT,
    -- {"field": [old, new]} of an update; NULL when nothing is compared.
    changes     JSONB CHECK (changes IS NULL OR jsonb_typeof(changes) = 'object'),
    request_id  TEXT,
    client_ip   TEXT,
    CONSTRAINT audit_log_actor_whole CHECK ((actor_id IS NULL) = (actor_role IS NULL)),
    CONSTRAINT audit_log_target_whole CHECK ((target_type IS NULL) = (target_id IS NULL))
);
-- Newest first, by id (the list's keyset), with each filter.
CREATE INDEX audit_log_action_idx ON audit_log (action, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id DESC) WHERE actor_id IS NOT NULL;
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, id DESC)
    WHERE target_type IS NOT NULL;
-- created_from / created_to and the retention purge.
CREATE INDEX audit_log_occurred_idx ON audit_log (occurred_at);

-- Every retention purge, kept (append-only too). Inserting a row is how a purge is asked for: the
-- BEFORE INSERT trigger deletes the entries older than `cutoff` and records how many.
CREATE TABLE audit_purges (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cutoff      TIMESTAMPTZ NOT NULL,
    deleted     BIGINT NOT NULL DEFAULT 0,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- UPDATE, DELETE and TRUNCATE are refused for every role, the table's owner included. The one
-- exception is a DELETE made by the purge trigger below (trigger depth 2: an ordinary statement runs
-- at depth 1 and cannot raise it) of an entry older than a day.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_log' AND pg_trigger_depth() = 2
       AND current_setting('oms.audit_purge', true) = 'on'
       AND OLD.occurred_at < now() - interval '1 day' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE FUNCTION audit_purge() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n BIGINT;
BEGIN
    IF NEW.cutoff > now() - interval '1 day' THEN
        RAISE EXCEPTION 'audit entries are kept at least a day (cutoff %)', NEW.cutoff
            USING ERRCODE = 'check_violation';
    END IF;
    PERFORM set_config('oms.audit_purge', 'on', true);
    DELETE FROM audit_log WHERE occurred_at < NEW.cutoff;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('oms.audit_purge', 'off', true);
    NEW.deleted := n;
    NEW.occurred_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_purges_purge BEFORE INSERT ON audit_purges
    FOR EACH ROW EXECUTE FUNCTION audit_purge();
CREATE TRIGGER audit_purges_no_update_delete BEFORE UPDATE OR DELETE ON audit_purges
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_purges_no_truncate BEFORE TRUNCATE ON audit_purges
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- The customer list's `q` (a case-insensitive substring of the email): trigrams find a rare
-- pattern without reading every user (pg_trgm is a trusted extension shipped with PostgreSQL).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_email_trgm_idx ON users USING gin (email gin_trgm_ops);
