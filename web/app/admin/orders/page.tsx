"use client";

import Link from "next/link";
import { useCallback, useEffect, useRef, useState } from "react";
import { LiveIndicator } from "@/components/LiveIndicator";
import { Pager } from "@/components/Pager";
import { Empty, Loading, ProblemAlert } from "@/components/ProblemAlert";
import { StatusBadge } from "@/components/StatusBadge";
import { StatusChanger } from "@/components/StatusChanger";
import { Toasts, useToasts } from "@/components/Toasts";
import { api, ORDER_STATUSES, type AdminOrderFilters, type Order, type OrderStatus, type Page } from "@/lib/api";
import { EMPTY_DRAFT, draftToFilters, type Draft } from "@/lib/adminFilters";
import { resolveEmailFilter, type EmailFilter } from "@/lib/customerLookup";
import { useCustomerEmails } from "@/lib/useCustomerEmails";
import { dateTime, money, shortId } from "@/lib/format";
import type { OrderEvent } from "@/lib/live";
import { CursorTrail } from "@/lib/paging";
import { useRequireUser, useSession } from "@/lib/session";
import { useLiveFeed } from "@/lib/useLive";

const PAGE_SIZE = 25;

/** Whether `a` is a later state of the order than `b` (by `updated_at`). */
function isNewer(a: Order, b: Order): boolean {
  return Date.parse(a.updated_at) > Date.parse(b.updated_at);
}

/** The back office: every order, filtered and paged, with status changes and a live feed. */
export default function AdminOrdersPage() {
  const user = useRequireUser("ADMIN");
  const { user: signedIn, loading } = useSession();
  const [draft, setDraft] = useState<Draft>(EMPTY_DRAFT);
  const [filters, setFilters] = useState<AdminOrderFilters>({});
  const [draftError, setDraftError] = useState<string | null>(null);
  const [trail, setTrail] = useState(CursorTrail.first());
  const [page, setPage] = useState<Page<Order> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [highlight, setHighlight] = useState<Record<string, number>>({});
  const { toasts, push } = useToasts();
  const [emailFilter, setEmailFilter] = useState<EmailFilter>({ kind: "none" });
  const emails = useCustomerEmails(page ? page.items.map((o) => o.user_id) : []);

  // Loads overlap (events, reconnects, filters): only the last one started may set the page, so an
  // older answer never replaces a newer one.
  const loadSeq = useRef(0);
  // Orders announced new that the page has not shown yet: their next events reload the page too (an
  // order's PAID can arrive while the reload its creation started is still on its way, or after that
  // reload read it as PENDING).
  const arriving = useRef(new Set<string>());

  const load = useCallback(async () => {
    const seq = ++loadSeq.current;
    try {
      const p = await api.listAdminOrders({ ...filters, limit: PAGE_SIZE, cursor: trail.current });
      if (seq !== loadSeq.current) return;
      setPage(p);
      setError(null);
    } catch (e) {
      if (seq === loadSeq.current) setError(e);
    }
  }, [filters, trail]);

  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect -- loading data from the API
    if (user) void load();
  }, [user, load]);

  const flash = (id: string) => setHighlight((h) => ({ ...h, [id]: Date.now() }));

  const replaceRow = (order: Order) => {
    // Answers to overlapping fetches may come back out of order: never replace a newer state.
    setPage((p) => (p ? { ...p, items: p.items.map((o) => (o.id === order.id && !isNewer(o, order) ? order : o)) } : p));
    flash(order.id);
  };

  const onEvent = async (event: OrderEvent) => {
    const label = `Order #${shortId(event.order_id)}: ${event.from_status ? `${event.from_status} → ` : "new, "}${event.to_status} (${money(event.total_amount)})`;
    push(label, `/admin/orders/${event.order_id}`);
    const shown = page?.items.some((o) => o.id === event.order_id);
    if (shown) {
      arriving.current.delete(event.order_id);
      try {
        replaceRow(await api.getOrder(event.order_id));
      } catch {
        /* the next reload shows it */
      }
    } else if ((event.type === "order.created" || arriving.current.has(event.order_id)) && !trail.hasPrevious) {
      arriving.current.add(event.order_id);
      await load();
      flash(event.order_id);
    }
  };

  const live = useLiveFeed(Boolean(user), {
    onEvent: (e) => void onEvent(e),
    onConnected: () => void load(),
    onReset: () => void load(),
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

  const toggleStatus = (s: OrderStatus) =>
    setDraft((d) => ({ ...d, status: d.status.includes(s) ? d.status.filter((x) => x !== s) : [...d.status, s] }));

  return (
    <section>
      <h1>Orders</h1>
      <LiveIndicator state={live.state} transport={live.transport} />
      <form
        className="filters"
        aria-label="Filters"
        onSubmit={async (e) => {
          e.preventDefault();
          const [f, bad] = draftToFilters(draft);
          if (bad.length) {
            setDraftError(`Please correct: ${bad.join(", ")}.`);
            return;
          }
          setDraftError(null);
          // The API filters by an exact address only: a partial one is searched among customers first.
          let resolved = resolveEmailFilter(draft.email, null);
          if (resolved.kind === "no_match") {
            try {
              const found = await api.listCustomers({ q: resolved.text, limit: 20 });
              resolved = resolveEmailFilter(draft.email, found.items);
            } catch (err) {
              setError(err);
              return;
            }
          }
          setEmailFilter(resolved);
          delete f.email;
          if (resolved.kind === "exact") f.email = resolved.email;
          else if (resolved.kind === "user") {
            if (f.user_id !== undefined && f.user_id !== resolved.user_id) {
              setDraftError(`The email matches user ${resolved.user_id}, not user ${f.user_id}.`);
              return;
            }
            f.user_id = resolved.user_id;
          } else if (resolved.kind === "no_match" || resolved.kind === "choose") {
            return;
          }
          setFilters(f);
          setPage(null);
          setTrail(CursorTrail.first());
        }}
      >
        <fieldset>
          <legend>Status</legend>
          {ORDER_STATUSES.map((s) => (
            <label key={s} className="inline">
              <input type="checkbox" checked={draft.status.includes(s)} onChange={() => toggleStatus(s)} /> {s}
            </label>
          ))}
        </fieldset>
        <div>
          <label htmlFor="f-email">Customer email (or part of it)</label>
          <input
            id="f-email"
            type="search"
            autoComplete="off"
            aria-describedby="f-email-hint"
            value={draft.email}
            onChange={(e) => setDraft({ ...draft, email: e.target.value })}
          />
          <p id="f-email-hint" className="hint">
            A whole address matches exactly; part of one is looked up among customers.
          </p>
        </div>
        <div>
          <label htmlFor="f-user">User id</label>
          <input id="f-user" inputMode="numeric" value={draft.user_id} onChange={(e) => setDraft({ ...draft, user_id: e.target.value })} />
        </div>
        <div>
          <label htmlFor="f-from">Created from</label>
          <input id="f-from" type="datetime-local" value={draft.created_from} onChange={(e) => setDraft({ ...draft, created_from: e.target.value })} />
        </div>
        <div>
          <label htmlFor="f-to">Created before</label>
          <input id="f-to" type="datetime-local" value={draft.created_to} onChange={(e) => setDraft({ ...draft, created_to: e.target.value })} />
        </div>
        <div>
          <label htmlFor="f-min">Minimum total ($)</label>
          <input id="f-min" inputMode="decimal" value={draft.min_total} onChange={(e) => setDraft({ ...draft, min_total: e.target.value })} />
        </div>
        <div>
          <label htmlFor="f-max">Maximum total ($)</label>
          <input id="f-max" inputMode="decimal" value={draft.max_total} onChange={(e) => setDraft({ ...draft, max_total: e.target.value })} />
        </div>
        <div className="form-actions">
          <button type="submit">Apply filters</button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setDraft(EMPTY_DRAFT);
              setEmailFilter({ kind: "none" });
              setFilters({});
              setPage(null);
              setTrail(CursorTrail.first());
            }}
          >
            Clear
          </button>
          <a className="button secondary" href={api.exportUrl(filters)} download data-testid="export-csv">
            Export CSV
          </a>
        </div>
      </form>
      {draftError ? (
        <div className="alert alert-error" role="alert">
          {draftError}
        </div>
      ) : null}
      {emailFilter.kind === "user" ? (
        <p className="hint" role="status" data-testid="email-resolved">
          Showing the orders of <strong>{emailFilter.email}</strong> (user {emailFilter.user_id}), the only customer whose email contains “
          {draft.email.trim()}”.
        </p>
      ) : null}
      {emailFilter.kind === "no_match" ? (
        <div className="alert alert-warn" role="alert" data-testid="email-no-match">
          No customer&apos;s email contains “{emailFilter.text}”.
        </div>
      ) : null}
      {emailFilter.kind === "choose" ? (
        <div className="alert alert-warn" role="alert" data-testid="email-choose">
          <p>
            {emailFilter.matches.length}
            {emailFilter.matches.length >= 20 ? "+" : ""} customers&apos; emails contain “{emailFilter.text}”. Choose one:
          </p>
          <ul>
            {emailFilter.matches.map((c) => (
              <li key={c.id}>
                <button
                  type="button"
                  className="link"
                  onClick={() => {
                    const next = { ...draft, email: c.email };
                    setDraft(next);
                    setEmailFilter({ kind: "exact", email: c.email });
                    const [f] = draftToFilters(next);
                    setFilters(f);
                    setPage(null);
                    setTrail(CursorTrail.first());
                  }}
                >
                  {c.email}
                </button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <ProblemAlert error={error} />
      {!page && !error ? <Loading label="Loading orders…" /> : null}
      {page && page.items.length === 0 ? <Empty>No order matches these filters.</Empty> : null}
      {page && page.items.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Order</th>
                <th scope="col">Customer</th>
                <th scope="col">Placed</th>
                <th scope="col">Status</th>
                <th scope="col">Payment</th>
                <th scope="col" className="num">Total</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((o) => (
                <tr key={`${o.id}-${highlight[o.id] ?? 0}`} className={highlight[o.id] ? "highlight" : undefined} data-testid={`order-row-${o.id}`}>
                  <td>
                    <Link href={`/admin/orders/${o.id}`}>
                      #{shortId(o.id)}
                    </Link>
                  </td>
                  <td data-testid="row-customer">
                    <Link href={`/admin/customers/${o.user_id}`}>{emails.get(o.user_id) ?? `user ${o.user_id}`}</Link>
                  </td>
                  <td>{dateTime(o.created_at)}</td>
                  <td>
                    <StatusBadge status={o.status} testId="row-status" />
                  </td>
                  <td>{o.payment_status}</td>
                  <td className="num">{money(o.total_amount, o.currency)}</td>
                  <td>
                    <StatusChanger order={o} onChanged={replaceRow} />
                  </td>
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
      <Toasts toasts={toasts} />
    </section>
  );
}
