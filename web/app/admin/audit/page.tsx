"use client";

import Link from "next/link";
import { useCallback, useEffect, useState } from "react";
import { AdminGate } from "@/components/AdminGate";
import { FieldError, invalidProps } from "@/components/FieldError";
import { Pager } from "@/components/Pager";
import { Empty, Loading, ProblemAlert } from "@/components/ProblemAlert";
import { api, type AuditEntry, type AuditFilters, type Page } from "@/lib/api";
import {
  AUDIT_ACTIONS,
  AUDIT_TARGET_TYPES,
  EMPTY_AUDIT_DRAFT,
  auditDraftToFilters,
  changeLines,
  draftFromSearch,
  targetHref,
  type AuditDraft,
} from "@/lib/audit";
import { dateTime } from "@/lib/format";
import { CursorTrail } from "@/lib/paging";
import { fieldErrors } from "@/lib/problems";
import { useRequireUser } from "@/lib/session";

const PAGE_SIZE = 50;

/** The audit log, newest first, filtered by action, actor, target and time. */
export default function AdminAuditPage() {
  const user = useRequireUser("ADMIN");
  const [draft, setDraft] = useState<AuditDraft>(EMPTY_AUDIT_DRAFT);
  const [filters, setFilters] = useState<AuditFilters | null>(null);
  const [draftErrors, setDraftErrors] = useState<Record<string, string>>({});
  const [trail, setTrail] = useState(CursorTrail.first());
  const [page, setPage] = useState<Page<AuditEntry> | null>(null);
  const [error, setError] = useState<unknown>(null);

  // Filters given in the URL (links from an order's or a customer's page) apply at once.
  useEffect(() => {
    const fromUrl = draftFromSearch(window.location.search);
    const [f] = auditDraftToFilters(fromUrl);
    // eslint-disable-next-line react-hooks/set-state-in-effect -- the URL is only known in the browser
    setDraft(fromUrl);
    setFilters(f);
  }, []);

  const load = useCallback(async () => {
    if (!filters) return;
    try {
      setPage(await api.listAudit({ ...filters, limit: PAGE_SIZE, cursor: trail.current }));
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

  // The server's own field problems (422) are shown next to the field they name.
  const errs = { ...fieldErrors(error), ...draftErrors };
  const field = (key: keyof AuditDraft, label: string, input: React.ReactNode, hint?: string) => (
    <div>
      <label htmlFor={`a-${key}`}>{label}</label>
      {input}
      {hint ? (
        <p id={`a-${key}-hint`} className="hint">
          {hint}
        </p>
      ) : null}
      <FieldError id={`a-${key}-err`} message={errs[key]} />
    </div>
  );
  const set = (key: keyof AuditDraft) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => setDraft({ ...draft, [key]: e.target.value });

  return (
    <section>
      <h1>Audit log</h1>
      <form
        className="filters"
        aria-label="Audit filters"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          const [f, bad] = auditDraftToFilters(draft);
          setDraftErrors(bad);
          if (Object.keys(bad).length) return;
          setError(null);
          setFilters(f);
          setPage(null);
          setTrail(CursorTrail.first());
        }}
      >
        {field(
          "action",
          "Action",
          <input id="a-action" list="a-actions" value={draft.action} onChange={set("action")} {...invalidProps("a-action-err", errs.action, "a-action-hint")} />,
          "e.g. order.refunded",
        )}
        <datalist id="a-actions">
          {AUDIT_ACTIONS.map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
        {field(
          "actor_id",
          "Actor (user id)",
          <input id="a-actor_id" inputMode="numeric" value={draft.actor_id} onChange={set("actor_id")} {...invalidProps("a-actor_id-err", errs.actor_id)} />,
        )}
        {field(
          "target_type",
          "Target type",
          <select id="a-target_type" value={draft.target_type} onChange={set("target_type")} {...invalidProps("a-target_type-err", errs.target_type)}>
            <option value="">Any</option>
            {AUDIT_TARGET_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>,
        )}
        {field(
          "target_id",
          "Target id",
          <input id="a-target_id" value={draft.target_id} onChange={set("target_id")} {...invalidProps("a-target_id-err", errs.target_id)} />,
        )}
        {field(
          "created_from",
          "From",
          <input id="a-created_from" type="datetime-local" value={draft.created_from} onChange={set("created_from")} {...invalidProps("a-created_from-err", errs.created_from)} />,
        )}
        {field(
          "created_to",
          "Before",
          <input id="a-created_to" type="datetime-local" value={draft.created_to} onChange={set("created_to")} {...invalidProps("a-created_to-err", errs.created_to)} />,
        )}
        <div className="form-actions">
          <button type="submit">Apply filters</button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setDraft(EMPTY_AUDIT_DRAFT);
              setDraftErrors({});
              setError(null);
              setFilters({});
              setPage(null);
              setTrail(CursorTrail.first());
            }}
          >
            Clear
          </button>
        </div>
      </form>
      <ProblemAlert error={error} />
      {!page && !error ? <Loading label="Loading the audit log…" /> : null}
      {page && page.items.length === 0 ? <Empty>No entry matches these filters.</Empty> : null}
      {page && page.items.length > 0 ? (
        <div className="table-wrap">
          <table data-testid="audit-table">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Actor</th>
                <th scope="col">Target</th>
                <th scope="col">Changes</th>
                <th scope="col">Request</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((a) => {
                const href = targetHref(a.target);
                const lines = changeLines(a);
                return (
                  <tr key={a.id} data-testid="audit-row" data-action={a.action}>
                    <td>{dateTime(a.occurred_at)}</td>
                    <td>
                      <code>{a.action}</code>
                    </td>
                    <td>
                      {a.actor ? (
                        <Link href={`/admin/customers/${a.actor.id}`}>
                          {a.actor.role.toLowerCase()} #{a.actor.id}
                        </Link>
                      ) : (
                        <span className="muted">none</span>
                      )}
                    </td>
                    <td className="cell-wrap">
                      {a.target ? (
                        href ? (
                          <Link href={href}>
                            {a.target.type} {String(a.target.id)}
                          </Link>
                        ) : (
                          `${a.target.type} ${String(a.target.id)}`
                        )
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                    <td>
                      {lines.length ? (
                        <ul className="changes">
                          {lines.map((l, i) => (
                            <li key={i}>
                              <code>{l}</code>
                            </li>
                          ))}
                        </ul>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                    <td className="cell-wrap">
                      <span className="muted">{a.client_ip ?? ""}</span>
                      {a.request_id ? (
                        <>
                          <br />
                          <code>{a.request_id}</code>
                        </>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
      {page ? (
        <Pager
          label="Audit pages"
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
