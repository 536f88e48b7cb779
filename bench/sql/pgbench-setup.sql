-- The rows the pgbench scripts need, in their own database (freshly migrated): the same users
-- and products, with the same ids, that `oms-bench setup` makes through the API in the
-- server's database (an admin first, then the customers; the spread products, then the hot
-- ones). Run with psql -v customers=N -v products=N -v hot=N -v stock=N -v hot_stock=N.
-- pgbench's NOTIFYs go to this database's channel, which no server listens to.
INSERT INTO users (email, password_hash, role)
VALUES ('admin@bench.local', 'not-a-hash', 'ADMIN');
INSERT INTO users (email, password_hash)
SELECT format('bench-customer-%s@bench.local', g), 'not-a-hash'
  FROM generate_series(1, :customers) AS g;
INSERT INTO products (name, description, price, stock_quantity, sku)
SELECT format('Bench product %s', g), 'A product for the benchmark', 1500, :stock,
       format('BENCH-P%s', lpad(g::text, 4, '0'))
  FROM generate_series(1, :products) AS g;
INSERT INTO products (name, description, price, stock_quantity, sku)
SELECT format('Bench product %s', g), 'A product for the benchmark', 1500, :hot_stock,
       format('BENCH-HOT%s', g)
  FROM generate_series(1, :hot) AS g;
