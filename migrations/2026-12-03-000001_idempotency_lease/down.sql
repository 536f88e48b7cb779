DROP INDEX IF EXISTS orders_processing_idx;
ALTER TABLE simulated_charges DROP COLUMN IF EXISTS attempt;
ALTER TABLE orders DROP COLUMN IF EXISTS payment_attempt;
ALTER TABLE idempotency_keys
    DROP COLUMN IF EXISTS leased_until,
    DROP COLUMN IF EXISTS resource_id,
    DROP COLUMN IF EXISTS claim;
