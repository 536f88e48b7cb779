-- 1,000,000 audit entries over the last 360 days, oldest first (ids rise with time as in a live
-- system), for the admin audit-log figures (bench/customers-audit.sh). Not a test.
-- Admin actions are by the database's first admin, sign-ins by its customers; order targets are
-- 10,000 real orders, product targets real product ids.
CREATE TEMP TABLE sample_orders AS
    SELECT row_number() OVER () - 1 AS n, id FROM (SELECT id FROM orders LIMIT 10000) s;
CREATE TEMP TABLE sample_users AS
    SELECT row_number() OVER () - 1 AS n, id FROM (SELECT id FROM users WHERE role = 'CUSTOMER' LIMIT 50000) s;
INSERT INTO audit_log (occurred_at, action, actor_id, actor_role, target_type, target_id, changes,
                       request_id, client_ip)
SELECT now() - interval '360 days' + (g * interval '360 days' / 1000000),
       a.action,
       CASE WHEN a.action = 'auth.login_failed' THEN NULL
            WHEN a.action LIKE 'auth.%' THEN u.id ELSE adm.id END,
       CASE WHEN a.action = 'auth.login_failed' THEN NULL
            WHEN a.action LIKE 'auth.%' THEN 'CUSTOMER' ELSE 'ADMIN' END,
       CASE WHEN a.action LIKE 'auth.%' THEN 'user'
            WHEN a.action LIKE 'product.%' THEN 'product' ELSE 'order' END,
       CASE WHEN a.action LIKE 'auth.%' THEN u.id::text
            WHEN a.action LIKE 'product.%' THEN (1 + g % 40)::text ELSE o.id::text END,
       CASE WHEN a.action = 'order.status_changed' THEN '{"status": ["PAID", "FULFILLED"]}'::jsonb
            WHEN a.action = 'product.updated' THEN '{"price": [1200, 1350]}'::jsonb END,
       'bench-' || g,
       '10.0.' || (g % 250) || '.' || (g % 200)
FROM generate_series(1::bigint, 1000000) AS g
CROSS JOIN (SELECT id FROM users WHERE role = 'ADMIN' ORDER BY id LIMIT 1) adm
CROSS JOIN LATERAL (SELECT (ARRAY['auth.login', 'auth.login', 'auth.login', 'auth.login',
                                  'auth.login_failed', 'auth.logout', 'order.status_changed',
                                  'order.status_changed', 'order.shipped', 'order.refunded',
                                  'order.note_added', 'product.updated'])[1 + (g * 7919) % 12]
                           AS action) a
JOIN sample_users u ON u.n = (g * 104729) % 50000
JOIN sample_orders o ON o.n = (g * 7) % 10000;
