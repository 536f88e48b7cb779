DROP TABLE IF EXISTS simulated_charges;
DROP TABLE IF EXISTS revoked_tokens;
DROP TABLE IF EXISTS idempotency_keys;
DROP TABLE IF EXISTS order_events;
DROP TABLE IF EXISTS order_items;
DROP TABLE IF EXISTS orders;
DROP TABLE IF EXISTS products;
DROP TABLE IF EXISTS users;
