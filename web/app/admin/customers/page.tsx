"use client";

import Link from "next/link";
import { useCallback, useEffect, useState } from "react";
import { AdminGate } from "@/components/AdminGate";
import { Pager } from "@/components/Pager";
import { Empty, Loading, ProblemAlert } from "@/components/ProblemAlert";
import { api, type Customer, type CustomerFilters, type Page } from "@/lib/api";
import { dateTime, money } from "@/lib/format";
import { CursorTrail } from "@/lib/paging";
import { useRequireUser } from "@/lib/session";

const PAGE_SIZE = 25;

/** Customers (every user, admins included): search by email, role and status; figures per user. */
export default function AdminCustomersPage() {
  const user = useRequireUser("ADMIN");
  const [draft, setDraft] = useState<{ q: string; role: string; status: string }>({ q: "", role: "", status: "" });
  const [filters, setFilters] = useState<CustomerFilters>({});
  const [trail, setTrail] = useState(CursorTrail.first());
  const [page, setPage] = useState<Page<Customer> | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      setPage(await api.listCustomers({ ...filters, limit: PAGE_SIZE, cursor: trail.current }));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [filters, trail]);

  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect -- loading data from the API
    if (user) void load();
  }, [user, load]);

  if (!user) return <AdminGate />;

  return (
    <section>
      <h1>Customers</h1>
      <form
        role="search"
        aria-label="Customers"
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters({
            q: draft.q.trim() || undefined,
            role: (draft.role || undefined) as CustomerFilters["role"],
            status: (draft.status || undefined) as CustomerFilters["status"],
          });
          setPage(null);
          setTrail(CursorTrail.first());
        }}
      >
        <div>
          <label htmlFor="cq">Email contains</label>
          <input id="cq" type="search" value={draft.q} onChange={(e) => setDraft({ ...draft, q: e.target.value })} />
        </div>
        <div>
          <label htmlFor="crole">Role</label>
          <select id="crole" value={draft.role} onChange={(e) => setDraft({ ...draft, role: e.target.value })}>
            <option value="">Any</option>
            <option value="CUSTOMER">Customer</option>
            <option value="ADMIN">Admin</option>
          </select>
        </div>
        <div>
          <label htmlFor="cstatus">Status</label>
          <select id="cstatus" value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.target.value })}>
            <option value="">Any</option>
            <option value="active">Active</option>
            <option value="disabled">Disabled</option>
          </select>
        </div>
        <button type="submit">Search</button>
      </form>
      <ProblemAlert error={error} />
      {!page && !error ? <Loading label="Loading customers…" /> : null}
      {page && page.items.length === 0 ? <Empty>No customer matches.</Empty> : null}
      {page && page.items.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Orders
                </th>
                <th scope="col" className="num">
                  Total spent
                </th>
                <th scope="col">Last order</th>
                <th scope="col">Since</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((c) => (
                <tr key={c.id} data-testid={`customer-row-${c.id}`}>
                  <td className="cell-wrap">
                    <Link href={`/admin/customers/${c.id}`}>{c.email}</Link>
                  </td>
                  <td>{c.role}</td>
                  <td>
                    <span className={`badge badge-${c.status}`}>{c.status}</span>
                  </td>
                  <td className="num">{c.order_count}</td>
                  <td className="num">{money(c.total_spent)}</td>
                  <td>{c.last_order_at ? dateTime(c.last_order_at) : <span className="muted">never</span>}</td>
                  <td>{dateTime(c.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {page ? (
        <Pager
          label="Customer pages"
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
