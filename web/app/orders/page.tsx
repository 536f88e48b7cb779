"use client";

import Link from "next/link";
import { useEffect, useState } from "react";
import { Pager } from "@/components/Pager";
import { Empty, Loading, ProblemAlert } from "@/components/ProblemAlert";
import { StatusBadge } from "@/components/StatusBadge";
import { api, ORDER_STATUSES, type Order, type OrderStatus, type Page } from "@/lib/api";
import { dateTime, money, shortId } from "@/lib/format";
import { CursorTrail } from "@/lib/paging";
import { useRequireUser } from "@/lib/session";

/** The signed-in customer's orders, newest first. */
export default function MyOrdersPage() {
  const user = useRequireUser();
  const [status, setStatus] = useState<OrderStatus | "">("");
  const [trail, setTrail] = useState(CursorTrail.first());
  const [page, setPage] = useState<Page<Order> | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (!user) return;
    let live = true;
    api
      .listOrders({ limit: 20, cursor: trail.current, status: status || undefined })
      .then((p) => {
        if (!live) return;
        setPage(p);
        setError(null);
      })
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [user, trail, status]);

  if (!user) return <Loading label="Checking your session…" />;
  return (
    <section>
      <h1>My orders</h1>
      <div className="toolbar">
        <div>
          <label htmlFor="status">Status</label>
          <select
            id="status"
            value={status}
            onChange={(e) => {
              setStatus(e.target.value as OrderStatus | "");
              setPage(null);
              setTrail(CursorTrail.first());
            }}
          >
            <option value="">All</option>
            {ORDER_STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </div>
      </div>
      <ProblemAlert error={error} />
      {!page && !error ? <Loading label="Loading your orders…" /> : null}
      {page && page.items.length === 0 ? (
        <Empty>
          No orders {status ? `with status ${status}` : "yet"}. <Link href="/">Browse the catalogue</Link>.
        </Empty>
      ) : null}
      {page && page.items.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Order</th>
                <th scope="col">Placed</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">Total</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((o) => (
                <tr key={o.id}>
                  <td>
                    <Link href={`/orders/${o.id}`}>#{shortId(o.id)}</Link>
                  </td>
                  <td>{dateTime(o.created_at)}</td>
                  <td>
                    <StatusBadge status={o.status} />
                  </td>
                  <td className="num">{money(o.total_amount, o.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {page ? (
        <Pager
          label="Order pages"
          trail={trail}
          nextCursor={page.next_cursor}
          onChange={(t) => {
            setPage(null);
            setTrail(t);
          }}
        />
      ) : null}
    </section>
  );
}
