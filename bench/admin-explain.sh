#!/usr/bin/env bash
# EXPLAIN (ANALYZE, BUFFERS) of the admin order list on a database made by the generator
# (`oms seed-demo --orders 1000000`), for docs/admin-queries.md. Not a test.
#
# usage: bench/admin-explain.sh postgres://postgres@127.0.0.1:5432/oms_explain [user_id] [email]
# The statements are the ones the adapter sends (diesel's SQL, parameters inlined), first page
# (limit 51 = 50 + 1) and a deep page (after a cursor in the middle of the set).
set -euo pipefail
url=${1:?database URL}
user_id=${2:-11274}
email=${3:-}
if [[ -z $email ]]; then
  email=$(psql "$url" -Atc "SELECT email FROM users WHERE id = $user_id")
fi
cols='orders.id, orders.user_id, orders.status, orders.payment_status, orders.payment_collected,
  orders.payment_reference, orders.payment_attempted_at, orders.subtotal, orders.shipping_amount,
  orders.tax_amount, orders.total_amount, orders.currency, orders.shipping_address,
  orders.tracking_carrier, orders.tracking_number, orders.version, orders.created_at,
  orders.updated_at'
tail='ORDER BY orders.created_at DESC, orders.id DESC LIMIT 51'
from="now() - interval '60 days'"
to="now() - interval '30 days'"
mid=$(psql "$url" -Atc "SELECT created_at || '|' || id FROM orders ORDER BY created_at DESC, id DESC OFFSET 500000 LIMIT 1")
cursor="('${mid%%|*}'::timestamptz, '${mid##*|}'::uuid)"
declare -a names=(
  "no filter"
  "no filter, deep page (cursor half-way)"
  "status=PAID"
  "status=PENDING (rare)"
  "status=PAID&status=FULFILLED, created in a 30-day window"
  "email"
  "user_id"
  "min_total=50000 (top 1%)"
  "min_total=1000&max_total=2000 (about 4%)"
  "max_total=1500 (rare, low)"
  "combined: status, window, min/max total"
  "combined: email, status"
  "export batch: no filter, 1000 rows with email and units"
)
declare -a wheres=(
  ""
  "WHERE (orders.created_at, orders.id) < $cursor"
  "WHERE orders.status = ANY(ARRAY['PAID'])"
  "WHERE orders.status = ANY(ARRAY['PENDING'])"
  "WHERE orders.status = ANY(ARRAY['PAID','FULFILLED']) AND orders.created_at >= $from AND orders.created_at < $to"
  "WHERE orders.user_id IN (SELECT users.id FROM users WHERE lower(users.email) = lower('$email'))"
  "WHERE orders.user_id = $user_id"
  "WHERE orders.total_amount >= 50000"
  "WHERE orders.total_amount >= 1000 AND orders.total_amount <= 2000"
  "WHERE orders.total_amount <= 1500"
  "WHERE orders.status = ANY(ARRAY['FULFILLED']) AND orders.created_at >= $from AND orders.created_at < $to AND orders.total_amount >= 20000 AND orders.total_amount <= 30000"
  "WHERE orders.user_id IN (SELECT users.id FROM users WHERE lower(users.email) = lower('$email')) AND orders.status = ANY(ARRAY['FULFILLED','PAID'])"
  "EXPORT"
)
for i in "${!names[@]}"; do
  echo "=== ${names[$i]}"
  if [[ ${wheres[$i]} == EXPORT ]]; then
    sql="SELECT $cols, (SELECT u.email FROM users u WHERE u.id = orders.user_id),
      (SELECT COALESCE(sum(i.quantity), 0)::bigint FROM order_items i WHERE i.order_id = orders.id)
      FROM orders ORDER BY orders.created_at DESC, orders.id DESC LIMIT 1000"
  else
    sql="SELECT $cols FROM orders ${wheres[$i]} $tail"
  fi
  psql "$url" -qAtc "EXPLAIN (ANALYZE, BUFFERS) $sql"
done
