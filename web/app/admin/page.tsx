"use client";

import dynamic from "next/dynamic";
import Link from "next/link";
import { useCallback, useEffect, useMemo, useState } from "react";
import { LiveIndicator } from "@/components/LiveIndicator";
import { Loading, ProblemAlert } from "@/components/ProblemAlert";
import { StatusBadge } from "@/components/StatusBadge";
import { ORDER_STATUSES, api, type SalesStats, type StatsSummary } from "@/lib/api";
import { dayLabel, debounce, lastDaysRange } from "@/lib/dashboard";
import { money } from "@/lib/format";
import { useRequireUser, useSession } from "@/lib/session";
import { useLiveFeed } from "@/lib/useLive";

// Chart.js only on this page, only in the browser (it draws on a canvas).
const SalesChart = dynamic(() => import("@/components/SalesChart"), { ssr: false, loading: () => <Loading label="Drawing the chart…" /> });

/** After an order event, the statistics are fetched again once the burst is over. */
const REFRESH_DEBOUNCE_MS = 750;
const DAYS = 30;

/** The admin landing page: today's figures, orders by status, and 30 days of orders and net sales, kept live. */
export default function DashboardPage() {
  const user = useRequireUser("ADMIN");
  const { user: signedIn, loading } = useSession();
  const [summary, setSummary] = useState<StatsSummary | null>(null);
  const [sales, setSales] = useState<SalesStats | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [updatedAt, setUpdatedAt] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const [s, d] = await Promise.all([api.statsSummary(), api.salesStats({ ...lastDaysRange(new Date(), DAYS), interval: "day" })]);
      setSummary(s);
      setSales(d);
      setError(null);
      setUpdatedAt(new Date().toLocaleTimeString("en-GB"));
    } catch (e) {
      setError(e);
    }
  }, []);

  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect -- loading data from the API
    if (user) void load();
  }, [user, load]);

  const refresh = useMemo(() => debounce(() => void load(), REFRESH_DEBOUNCE_MS), [load]);
  useEffect(() => () => refresh.cancel(), [refresh]);

  const live = useLiveFeed(Boolean(user), {
    onEvent: () => refresh.call(),
    onConnected: () => refresh.call(),
    onReset: () => refresh.call(),
  });

  if (!user) {
    if (!loading && signedIn && signedIn.role !== "ADMIN") {
      return (
        <div className="alert alert-error" role="alert">
          <strong>Forbidden</strong>
          <p>This page is for administrators.</p>
        </div>
      );
    }
    return <Loading label="Checking your session…" />;
  }

  const totals = sales?.totals;
  const chartSummary = totals
    ? `Orders and net sales per day over the last ${DAYS} days: ${totals.orders} orders, ${money(totals.net)} net sales in all.`
    : "";

  return (
    <section>
      <h1>Dashboard</h1>
      <LiveIndicator state={live.state} transport={live.transport} />
      <ProblemAlert error={error} />
      {!summary && !error ? <Loading label="Loading the figures…" /> : null}
      {summary ? (
        <>
          <h2 id="today">Today (UTC)</h2>
          <ul className="stats" aria-labelledby="today" data-testid="summary">
            <li className="stat">
              <span className="stat-label">Orders today</span>
              <span className="stat-value" data-testid="today-orders">{summary.today.orders}</span>
            </li>
            <li className="stat">
              <span className="stat-label">Net sales today</span>
              <span className="stat-value" data-testid="today-net">{money(summary.today.net)}</span>
            </li>
            <li className="stat">
              <span className="stat-label">Units to ship</span>
              <span className="stat-value" data-testid="units-to-ship">{summary.units_to_ship}</span>
            </li>
            <li className="stat">
              <span className="stat-label">Awaiting payment</span>
              <span className="stat-value" data-testid="awaiting-payment">{summary.awaiting_payment}</span>
            </li>
            <li className={`stat${summary.failed_webhook_deliveries > 0 ? " stat-warn" : ""}`}>
              <span className="stat-label">Failed webhook deliveries</span>
              <span className="stat-value" data-testid="failed-webhooks">{summary.failed_webhook_deliveries}</span>
            </li>
          </ul>
          <h2 id="by-status">Orders by status</h2>
          <ul className="status-counts" aria-labelledby="by-status" data-testid="orders-by-status">
            {ORDER_STATUSES.map((s) => (
              <li key={s}>
                <StatusBadge status={s} /> <strong data-testid={`count-${s}`}>{summary.orders_by_status[s] ?? 0}</strong>
              </li>
            ))}
          </ul>
          <p>
            <Link href="/admin/orders">See and manage the orders</Link>
          </p>
        </>
      ) : null}
      {sales ? (
        <>
          <h2 id="sales">Last {DAYS} days</h2>
          <SalesChart items={sales.items} summary={chartSummary} />
          <details>
            <summary>The figures as a table</summary>
            <div className="table-wrap">
              <table data-testid="sales-table">
                <caption className="sr-only">Orders and net sales per day, last {DAYS} days (UTC)</caption>
                <thead>
                  <tr>
                    <th scope="col">Day</th>
                    <th scope="col" className="num">Orders</th>
                    <th scope="col" className="num">Paid</th>
                    <th scope="col" className="num">Units</th>
                    <th scope="col" className="num">Net sales</th>
                  </tr>
                </thead>
                <tbody>
                  {sales.items.map((b) => (
                    <tr key={b.period_start}>
                      <th scope="row">{dayLabel(b.period_start)}</th>
                      <td className="num">{b.orders}</td>
                      <td className="num">{b.paid_orders}</td>
                      <td className="num">{b.units}</td>
                      <td className="num">{money(b.net)}</td>
                    </tr>
                  ))}
                </tbody>
                {totals ? (
                  <tfoot>
                    <tr>
                      <th scope="row">Total</th>
                      <td className="num" data-testid="total-orders">{totals.orders}</td>
                      <td className="num">{totals.paid_orders}</td>
                      <td className="num">{totals.units}</td>
                      <td className="num" data-testid="total-net">{money(totals.net)}</td>
                    </tr>
                  </tfoot>
                ) : null}
              </table>
            </div>
          </details>
        </>
      ) : null}
      {updatedAt ? <p className="hint">Updated {updatedAt}; refreshed as orders change.</p> : null}
    </section>
  );
}
