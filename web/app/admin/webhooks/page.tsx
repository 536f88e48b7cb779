"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { AdminGate } from "@/components/AdminGate";
import { useConfirm } from "@/components/ConfirmDialog";
import { FieldError, invalidProps } from "@/components/FieldError";
import { Empty, Loading, ProblemAlert } from "@/components/ProblemAlert";
import { api, type DeliveryStatus, type WebhookDelivery, type WebhookEndpoint } from "@/lib/api";
import { dateTime } from "@/lib/format";
import { fieldErrors } from "@/lib/problems";
import { useRequireUser } from "@/lib/session";
import { EMPTY_WEBHOOK_DRAFT, WEBHOOK_EVENT_TYPES, deliveryOutcome, hasPending, webhookInput, type WebhookDraft } from "@/lib/webhooks";

/** A secret shown this once, with a copy button. */
function SecretOnce({ secret, label, onDismiss }: { secret: string; label: string; onDismiss: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const ref = useRef<HTMLElement>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    headingRef.current?.focus();
  }, []);
  return (
    <div className="alert alert-ok" data-testid="webhook-secret" role="region" aria-labelledby="secret-heading">
      <h2 id="secret-heading" tabIndex={-1} ref={headingRef}>
        {label}
      </h2>
      <p>
        <strong>Copy it now: it is shown only this once.</strong> Receivers check each delivery&apos;s signature with it.
      </p>
      <div className="secret">
        <code ref={ref} data-testid="webhook-secret-value">
          {secret}
        </code>
        <button
          type="button"
          className="secondary"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(secret);
              setCopied("Copied to the clipboard.");
            } catch {
              // No clipboard (e.g. plain http): select the text for Ctrl+C instead.
              const range = document.createRange();
              if (ref.current) {
                range.selectNodeContents(ref.current);
                window.getSelection()?.removeAllRanges();
                window.getSelection()?.addRange(range);
              }
              setCopied("Selected: press Ctrl+C (⌘C) to copy.");
            }
          }}
        >
          Copy secret
        </button>
        <button type="button" className="secondary" onClick={onDismiss}>
          I have saved it
        </button>
      </div>
      <p role="status" aria-live="polite" data-testid="copy-status">
        {copied}
      </p>
    </div>
  );
}

/** One endpoint's deliveries, newest first, polled while any is pending; each may be retried. */
function Deliveries({ endpoint, refreshKey }: { endpoint: WebhookEndpoint; refreshKey: number }) {
  const [status, setStatus] = useState<DeliveryStatus | "">("");
  const [items, setItems] = useState<WebhookDelivery[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [retryError, setRetryError] = useState<unknown>(null);
  const [retrying, setRetrying] = useState<string | null>(null);
  const [tick, setTick] = useState(0);

  const load = useCallback(async () => {
    try {
      const page = await api.listDeliveries(endpoint.id, { status: status || undefined, limit: 50 });
      setItems(page.items);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [endpoint.id, status]);

  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect -- loading data from the API
    void load();
  }, [load, refreshKey, tick]);

  const pending = items ? hasPending(items) : false;
  useEffect(() => {
    if (!pending) return;
    const t = setTimeout(() => setTick((n) => n + 1), 2000);
    return () => clearTimeout(t);
  }, [pending, tick]);

  const base = `dl-${endpoint.id}`;
  return (
    <div className="deliveries" data-testid="deliveries">
      <div className="toolbar">
        <div>
          <label htmlFor={`${base}-status`}>Deliveries</label>
          <select id={`${base}-status`} value={status} onChange={(e) => setStatus(e.target.value as DeliveryStatus | "")}>
            <option value="">All</option>
            <option value="pending">Pending</option>
            <option value="succeeded">Succeeded</option>
            <option value="failed">Failed</option>
          </select>
        </div>
        <button type="button" className="secondary" onClick={() => setTick((n) => n + 1)}>
          Refresh deliveries
        </button>
      </div>
      <ProblemAlert error={error} />
      <ProblemAlert error={retryError} testId="retry-problem" />
      {!items && !error ? <Loading label="Loading deliveries…" /> : null}
      {items && items.length === 0 ? <Empty>No delivery yet.</Empty> : null}
      {items && items.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Deliveries to {endpoint.url}</caption>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Attempts
                </th>
                <th scope="col">Last attempt</th>
                <th scope="col">Outcome</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.id} data-testid="delivery-row" data-status={d.status} data-event-type={d.event_type}>
                  <td>
                    <code>{d.event_type}</code> <span className="muted">#{d.event_id}</span>
                  </td>
                  <td>
                    <span className={`badge badge-${d.status === "pending" ? "pending" : d.status}`} data-testid="delivery-status">
                      {d.status}
                    </span>
                  </td>
                  <td className="num">{d.attempts}</td>
                  <td>{d.last_attempt_at ? dateTime(d.last_attempt_at) : <span className="muted">—</span>}</td>
                  <td className="cell-wrap">{deliveryOutcome(d, dateTime)}</td>
                  <td>
                    <button
                      type="button"
                      className="secondary"
                      disabled={retrying === d.id}
                      aria-label={`Retry delivery of ${d.event_type} #${d.event_id}`}
                      onClick={async () => {
                        setRetrying(d.id);
                        setRetryError(null);
                        try {
                          await api.retryDelivery(endpoint.id, d.id);
                          setTick((n) => n + 1);
                        } catch (e) {
                          setRetryError(e);
                        } finally {
                          setRetrying(null);
                        }
                      }}
                    >
                      {retrying === d.id ? "Retrying…" : "Retry"}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}

/** One endpoint: its settings, and test / enable-disable / rotate / delete, with its deliveries. */
function EndpointCard({
  endpoint,
  onChanged,
  onSecret,
  confirm,
}: {
  endpoint: WebhookEndpoint;
  onChanged: () => void;
  onSecret: (secret: string, label: string) => void;
  confirm: ReturnType<typeof useConfirm>["confirm"];
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  const [refreshKey, setRefreshKey] = useState(0);

  const run = async (work: () => Promise<unknown>, message: string) => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      await work();
      setDone(message);
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };

  const headingId = `wh-${endpoint.id}`;
  return (
    <li className="panel" id={`webhook-${endpoint.id}`} data-testid="webhook-endpoint" aria-labelledby={headingId}>
      <h2 id={headingId} className="cell-wrap">
        {endpoint.url}
      </h2>
      <p>
        <span className={`badge badge-${endpoint.enabled ? "active" : "disabled"}`}>{endpoint.enabled ? "enabled" : "disabled"}</span>{" "}
        {endpoint.disabled_reason ? <span className="muted">({endpoint.disabled_reason})</span> : null} · events:{" "}
        {endpoint.event_types.includes("*") ? "all" : endpoint.event_types.join(", ")}
        {endpoint.description ? ` · ${endpoint.description}` : ""}
      </p>
      <div className="form-actions">
        <button
          type="button"
          disabled={busy}
          onClick={async () => {
            if (await run(() => api.sendWebhookTest(endpoint.id), "Test event queued: see the deliveries below.")) {
              setOpen(true);
              setRefreshKey((k) => k + 1);
            }
          }}
        >
          Send test event
        </button>
        <button
          type="button"
          className="secondary"
          disabled={busy}
          onClick={async () => {
            if (
              endpoint.enabled &&
              !(await confirm({
                title: `Disable ${endpoint.url}?`,
                body: <p>No more events are sent to it until it is enabled again.</p>,
                confirmLabel: "Disable endpoint",
                danger: true,
              }))
            ) {
              return;
            }
            if (await run(() => api.updateWebhook(endpoint.id, { enabled: !endpoint.enabled }), endpoint.enabled ? "Disabled." : "Enabled.")) onChanged();
          }}
        >
          {endpoint.enabled ? "Disable…" : "Enable"}
        </button>
        <button
          type="button"
          className="secondary"
          disabled={busy}
          onClick={async () => {
            const ok = await confirm({
              title: "Rotate the signing secret?",
              body: <p>A new secret is made and shown once. The old one keeps signing beside it for 24 hours, so receivers can switch.</p>,
              confirmLabel: "Rotate secret",
            });
            if (!ok) return;
            let secret = "";
            if (
              await run(async () => {
                secret = (await api.rotateWebhookSecret(endpoint.id)).secret;
              }, "Secret rotated.")
            ) {
              onSecret(secret, `New secret for ${endpoint.url}`);
            }
          }}
        >
          Rotate secret…
        </button>
        <button
          type="button"
          className="danger"
          disabled={busy}
          onClick={async () => {
            const ok = await confirm({
              title: `Delete ${endpoint.url}?`,
              body: <p>The endpoint and its deliveries are removed; nothing more is sent to it.</p>,
              confirmLabel: "Delete endpoint",
              cancelLabel: "Keep it",
              danger: true,
            });
            if (ok && (await run(() => api.deleteWebhook(endpoint.id), "Deleted."))) onChanged();
          }}
        >
          Delete…
        </button>
        <button type="button" className="link" aria-expanded={open} aria-controls={`${headingId}-deliveries`} onClick={() => setOpen((o) => !o)}>
          {open ? "Hide deliveries" : "Show deliveries"}
        </button>
      </div>
      <ProblemAlert error={error} />
      <p role="status" aria-live="polite" className="muted">
        {done}
      </p>
      <div id={`${headingId}-deliveries`}>{open ? <Deliveries endpoint={endpoint} refreshKey={refreshKey} /> : null}</div>
    </li>
  );
}

/** Webhook endpoints: create (the secret shown once), test, enable / disable, rotate, delete, deliveries. */
export default function AdminWebhooksPage() {
  const user = useRequireUser("ADMIN");
  const [endpoints, setEndpoints] = useState<WebhookEndpoint[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [draft, setDraft] = useState<WebhookDraft>(EMPTY_WEBHOOK_DRAFT);
  const [draftErrors, setDraftErrors] = useState<Record<string, string>>({});
  const [createError, setCreateError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [secret, setSecret] = useState<{ secret: string; label: string } | null>(null);
  const { confirm, dialog } = useConfirm();

  const load = useCallback(async () => {
    try {
      setEndpoints(await api.listWebhooks());
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, []);

  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect -- loading data from the API
    if (user) void load();
  }, [user, load]);

  if (!user) return <AdminGate />;

  const errs = { ...fieldErrors(createError), ...draftErrors };
  return (
    <section>
      <h1>Webhooks</h1>
      <p className="hint">
        Other systems get signed HTTP callbacks (Standard Webhooks) for the order events they subscribe to.
      </p>
      {secret ? <SecretOnce secret={secret.secret} label={secret.label} onDismiss={() => setSecret(null)} /> : null}
      <details open={endpoints?.length === 0}>
        <summary>New endpoint</summary>
        <form
          className="form"
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            if (busy) return;
            const built = webhookInput(draft);
            if ("errors" in built) {
              setDraftErrors(built.errors);
              return;
            }
            setDraftErrors({});
            setBusy(true);
            setCreateError(null);
            try {
              const created = await api.createWebhook(built.input);
              setSecret({ secret: created.secret, label: `Signing secret for ${created.url}` });
              setDraft(EMPTY_WEBHOOK_DRAFT);
              await load();
            } catch (err) {
              setCreateError(err);
            } finally {
              setBusy(false);
            }
          }}
        >
          <label htmlFor="wh-url">URL</label>
          <input
            id="wh-url"
            type="url"
            value={draft.url}
            onChange={(e) => setDraft({ ...draft, url: e.target.value })}
            placeholder="https://hooks.example.com/oms"
            {...invalidProps("wh-url-err", errs.url, "wh-url-hint")}
          />
          <p id="wh-url-hint" className="hint">
            A public https:// address (the server refuses private and loopback ones unless configured for development).
          </p>
          <FieldError id="wh-url-err" message={errs.url} />
          <fieldset aria-describedby={errs.event_types ? "wh-types-err" : undefined}>
            <legend>Events</legend>
            <label className="inline">
              <input type="checkbox" checked={draft.all} onChange={(e) => setDraft({ ...draft, all: e.target.checked })} /> All events
            </label>
            {!draft.all
              ? WEBHOOK_EVENT_TYPES.map((t) => (
                  <label key={t} className="inline">
                    <input
                      type="checkbox"
                      checked={draft.types.includes(t)}
                      onChange={(e) => setDraft({ ...draft, types: e.target.checked ? [...draft.types, t] : draft.types.filter((x) => x !== t) })}
                    />{" "}
                    {t}
                  </label>
                ))
              : null}
            <FieldError id="wh-types-err" message={errs.event_types} />
          </fieldset>
          <label htmlFor="wh-desc">Description (optional)</label>
          <input
            id="wh-desc"
            value={draft.description}
            onChange={(e) => setDraft({ ...draft, description: e.target.value })}
            maxLength={500}
            {...invalidProps("wh-desc-err", errs.description)}
          />
          <FieldError id="wh-desc-err" message={errs.description} />
          <label className="inline">
            <input type="checkbox" checked={draft.enabled} onChange={(e) => setDraft({ ...draft, enabled: e.target.checked })} /> Enabled
          </label>
          <ProblemAlert error={createError} testId="webhook-create-problem" />
          <div className="form-actions">
            <button type="submit" disabled={busy}>
              {busy ? "Creating…" : "Create endpoint"}
            </button>
          </div>
        </form>
      </details>
      <ProblemAlert error={error} />
      {!endpoints && !error ? <Loading label="Loading endpoints…" /> : null}
      {endpoints && endpoints.length === 0 ? <Empty>No endpoint yet.</Empty> : null}
      {endpoints && endpoints.length > 0 ? (
        <ul className="endpoint-list" aria-label="Endpoints">
          {endpoints.map((ep) => (
            <EndpointCard
              key={`${ep.id}-${ep.updated_at}`}
              endpoint={ep}
              confirm={confirm}
              onChanged={() => void load()}
              onSecret={(s, label) => setSecret({ secret: s, label })}
            />
          ))}
        </ul>
      ) : null}
      {dialog}
    </section>
  );
}
