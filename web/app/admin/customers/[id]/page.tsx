"use client";

import Link from "next/link";
import { useParams } from "next/navigation";
import { useCallback, useEffect, useState } from "react";
import { AdminGate } from "@/components/AdminGate";
import { useConfirm } from "@/components/ConfirmDialog";
import { Pager } from "@/components/Pager";
import { Empty, Loading, ProblemAlert } from "@/components/ProblemAlert";
import { StatusBadge } from "@/components/StatusBadge";
import { ApiError, api, type Customer, type CustomerStatus, type Order, type Page, type Role } from "@/lib/api";
import { changeBlocked, describeCustomerChange } from "@/lib/customers";
import { dateTime, money, shortId } from "@/lib/format";
import { CursorTrail } from "@/lib/paging";
import { useRequireUser } from "@/lib/session";

/** One customer: figures, their orders, and disable / enable and role change, each confirmed. */
export default function AdminCustomerPage() {
  const params = useParams<{ id: string }>();
  const id = Number(params.id);
  const user = useRequireUser("ADMIN");
  const [customer, setCustomer] = useState<Customer | null>(null);
  const [etag, setEtag] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [role, setRole] = useState<Role | "">("");
  const [trail, setTrail] = useState(CursorTrail.first());
  const [orders, setOrders] = useState<Page<Order> | null>(null);
  const [ordersError, setOrdersError] = useState<unknown>(null);
  const { confirm, dialog } = useConfirm();

  const load = useCallback(async () => {
    if (!Number.isSafeInteger(id) || id < 1) {
      setError(new ApiError({ title: "Not found", status: 404, code: "not_found", detail: "There is no such customer." }));
      return;
    }
    try {
      const answer = await api.getCustomerWithEtag(id);
      setCustomer(answer.customer);
      setEtag(answer.etag);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [id]);

  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect -- loading data from the API
    if (user) void load();
  }, [user, load]);

  useEffect(() => {
    if (!user || !Number.isSafeInteger(id) || id < 1) return;
    let live = true;
    api
      .listAdminOrders({ user_id: id, limit: 10, cursor: trail.current })
      .then((p) => {
        if (!live) return;
        setOrders(p);
        setOrdersError(null);
      })
      .catch((e) => live && setOrdersError(e));
    return () => {
      live = false;
    };
  }, [user, id, trail]);

  if (!user) return <AdminGate />;
  if (error && !customer) {
    return (
      <section>
        <h1>Customer</h1>
        <ProblemAlert error={error} />
        <Link href="/admin/customers">Back to the customers</Link>
      </section>
    );
  }
  if (!customer) return <Loading label="Loading the customer…" />;

  const blocked = changeBlocked(customer, user.id);
  const change = async (patch: { status?: CustomerStatus; role?: Role }) => {
    if (busy) return;
    const text = describeCustomerChange(customer, patch);
    const ok = await confirm({ title: text.title, body: <p>{text.body}</p>, confirmLabel: text.confirmLabel, danger: text.danger });
    if (!ok) return;
    setBusy(true);
    setActionError(null);
    setDone(null);
    try {
      const changed = await api.updateCustomer(customer.id, patch, etag);
      setCustomer(changed);
      setRole("");
      setDone(patch.status ? `The account is now ${changed.status}.` : `The role is now ${changed.role}.`);
      await load();
    } catch (e) {
      setActionError(e);
      // A change made meanwhile (412): show what it is now.
      if (e instanceof ApiError && e.status === 412) await load();
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <p>
        <Link href="/admin/customers">← All customers</Link>
      </p>
      <h1 className="cell-wrap">{customer.email}</h1>
      <ul className="stats" aria-label="Figures">
        <li className="stat">
          <span className="stat-label">Status</span>
          <span className="stat-value" data-testid="customer-status">
            {customer.status}
          </span>
        </li>
        <li className="stat">
          <span className="stat-label">Role</span>
          <span className="stat-value" data-testid="customer-role">
            {customer.role}
          </span>
        </li>
        <li className="stat">
          <span className="stat-label">Orders</span>
          <span className="stat-value" data-testid="customer-orders">
            {customer.order_count}
          </span>
        </li>
        <li className="stat">
          <span className="stat-label">Total spent (captured − refunded)</span>
          <span className="stat-value" data-testid="customer-spent">
            {money(customer.total_spent)}
          </span>
        </li>
      </ul>
      <p className="muted">
        User #{customer.id} · since {dateTime(customer.created_at)} · last order{" "}
        {customer.last_order_at ? dateTime(customer.last_order_at) : "never"}
      </p>

      <p>
        <Link href={`/admin/audit?target_type=user&target_id=${customer.id}`}>Changes to this account</Link> ·{" "}
        <Link href={`/admin/audit?actor_id=${customer.id}`}>What this user did</Link>
      </p>
      <section className="panel" aria-labelledby="cust-actions">
        <h2 id="cust-actions">Account</h2>
        {blocked ? <p className="hint">{blocked}</p> : null}
        <div className="form-actions">
          {customer.status === "active" ? (
            <button type="button" className="danger" disabled={busy || Boolean(blocked)} onClick={() => void change({ status: "disabled" })}>
              Disable account…
            </button>
          ) : (
            <button type="button" disabled={busy || Boolean(blocked)} onClick={() => void change({ status: "active" })}>
              Enable account…
            </button>
          )}
        </div>
        <form
          className="toolbar"
          onSubmit={(e) => {
            e.preventDefault();
            if (role && role !== customer.role) void change({ role });
          }}
        >
          <div>
            <label htmlFor="cust-role">Role</label>
            <select id="cust-role" value={role || customer.role} onChange={(e) => setRole(e.target.value as Role)} disabled={Boolean(blocked)}>
              <option value="CUSTOMER">Customer</option>
              <option value="ADMIN">Admin</option>
            </select>
          </div>
          <button type="submit" className="secondary" disabled={busy || Boolean(blocked) || !role || role === customer.role}>
            Change role…
          </button>
        </form>
        <ProblemAlert error={actionError} testId="customer-problem" />
        <p role="status" aria-live="polite" className="muted" data-testid="customer-done">
          {done}
        </p>
      </section>

      <h2>Orders</h2>
      <ProblemAlert error={ordersError} />
      {!orders && !ordersError ? <Loading label="Loading their orders…" /> : null}
      {orders && orders.items.length === 0 ? <Empty>No orders.</Empty> : null}
      {orders && orders.items.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Order</th>
                <th scope="col">Placed</th>
                <th scope="col">Status</th>
                <th scope="col">Payment</th>
                <th scope="col" className="num">
                  Total
                </th>
              </tr>
            </thead>
            <tbody>
              {orders.items.map((o) => (
                <tr key={o.id}>
                  <td>
                    <Link href={`/admin/orders/${o.id}`}>#{shortId(o.id)}</Link>
                  </td>
                  <td>{dateTime(o.created_at)}</td>
                  <td>
                    <StatusBadge status={o.status} />
                  </td>
                  <td>{o.payment_status.replace("_", " ")}</td>
                  <td className="num">{money(o.total_amount, o.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {orders ? <Pager label="Order pages" trail={trail} nextCursor={orders.next_cursor} onChange={setTrail} /> : null}
      {dialog}
    </section>
  );
}
