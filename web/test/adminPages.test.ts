import { describe, expect, it } from "vitest";
import { ApiClient, ApiError, type Customer, type Fetch, type WebhookDelivery } from "../lib/api";
import { auditDraftToFilters, changeLines, draftFromSearch, EMPTY_AUDIT_DRAFT, targetHref } from "../lib/audit";
import { isFullEmail, missingIds, resolveEmailFilter } from "../lib/customerLookup";
import { changeBlocked, describeCustomerChange } from "../lib/customers";
import { allFieldsShown, fieldErrors } from "../lib/problems";
import { RetryKey } from "../lib/retryKey";
import { deliveryOutcome, EMPTY_WEBHOOK_DRAFT, hasPending, webhookInput } from "../lib/webhooks";

const customer = (id: number, email: string, patch: Partial<Customer> = {}): Customer => ({
  id,
  email,
  role: "CUSTOMER",
  status: "active",
  order_count: 0,
  total_spent: 0,
  last_order_at: null,
  created_at: "",
  updated_at: "",
  ...patch,
});

describe("email filter of the admin orders", () => {
  it("a whole address goes to the API as is", () => {
    expect(isFullEmail("Ada@Example.com")).toBe(true);
    expect(resolveEmailFilter(" Ada@Example.com ", null)).toEqual({ kind: "exact", email: "Ada@Example.com" });
    expect(resolveEmailFilter("", null)).toEqual({ kind: "none" });
  });
  it("a partial one resolves through the customers it matches", () => {
    expect(resolveEmailFilter("ada", null)).toEqual({ kind: "no_match", text: "ada" });
    expect(resolveEmailFilter("ada", [customer(3, "ada@x.io")])).toEqual({ kind: "user", user_id: 3, email: "ada@x.io" });
    const two = [customer(3, "ada@x.io"), customer(4, "adam@x.io")];
    expect(resolveEmailFilter("ada", two)).toEqual({ kind: "choose", text: "ada", matches: two });
  });
  it("looks each unknown id up once", () => {
    expect(missingIds([3, 4, 3, 5], new Map([[4, "b@x"]]))).toEqual([3, 5]);
  });
});

describe("customer changes", () => {
  it("says what disabling and a role change do", () => {
    const c = customer(3, "ada@x.io");
    expect(describeCustomerChange(c, { status: "disabled" })).toMatchObject({ confirmLabel: "Disable account", danger: true });
    expect(describeCustomerChange(c, { status: "active" })).toMatchObject({ confirmLabel: "Enable account", danger: false });
    expect(describeCustomerChange(c, { role: "ADMIN" }).title).toBe("Make ada@x.io an admin?");
    expect(changeBlocked(c, 3)).toMatch(/own/);
    expect(changeBlocked(c, 1)).toBeNull();
  });
});

describe("audit filters", () => {
  it("translates the draft and names the bad fields", () => {
    const [f, bad] = auditDraftToFilters({ ...EMPTY_AUDIT_DRAFT, action: "order.refunded", actor_id: "1", target_type: "order", target_id: "0193b1a2-0000-7000-8000-000000000001" });
    expect(bad).toEqual({});
    expect(f).toEqual({ action: "order.refunded", actor_id: 1, target_type: "order", target_id: "0193b1a2-0000-7000-8000-000000000001" });
    const [, errors] = auditDraftToFilters({ ...EMPTY_AUDIT_DRAFT, action: "refund", actor_id: "x", target_id: "5" });
    expect(Object.keys(errors).sort()).toEqual(["action", "actor_id", "target_id"]);
    expect(auditDraftToFilters({ ...EMPTY_AUDIT_DRAFT, target_type: "user", target_id: "abc" })[1]).toHaveProperty("target_id");
  });
  it("reads filters from the URL, shows changes and links targets", () => {
    expect(draftFromSearch("?target_type=order&target_id=abc")).toMatchObject({ target_type: "order", target_id: "abc", action: "" });
    expect(changeLines({ changes: { status: ["active", "disabled"], price: [100, null] } })).toEqual(["status: active → disabled", "price: 100 → —"]);
    expect(changeLines({ changes: null })).toEqual([]);
    expect(targetHref({ type: "user", id: 3 })).toBe("/admin/customers/3");
    expect(targetHref({ type: "order", id: "o-1" })).toBe("/admin/orders/o-1");
    expect(targetHref({ type: "product", id: 3 })).toBeNull();
  });
});

describe("webhooks", () => {
  it("checks the form: an absolute http(s) URL without user info, some event types", () => {
    expect(webhookInput({ ...EMPTY_WEBHOOK_DRAFT, url: "https://hooks.example.com/x" })).toEqual({
      input: { url: "https://hooks.example.com/x", event_types: ["*"], description: null, enabled: true },
    });
    expect(webhookInput({ ...EMPTY_WEBHOOK_DRAFT, url: "hooks.example.com" })).toHaveProperty("errors.url");
    expect(webhookInput({ ...EMPTY_WEBHOOK_DRAFT, url: "https://u:p@h.example/" })).toHaveProperty("errors.url");
    expect(webhookInput({ ...EMPTY_WEBHOOK_DRAFT, url: "https://h.example/", all: false })).toHaveProperty("errors.event_types");
    expect(webhookInput({ ...EMPTY_WEBHOOK_DRAFT, url: "https://h.example/", all: false, types: ["order.refunded", "order.paid"] })).toMatchObject({
      input: { event_types: ["order.paid", "order.refunded"] },
    });
  });
  it("says how a delivery went", () => {
    const d: WebhookDelivery = { id: "d", event_id: 1, event_type: "webhook.test", status: "succeeded", attempts: 1, last_attempt_at: null, next_attempt_at: null, last_response_status: 200, last_error: null };
    expect(deliveryOutcome(d, (s) => s)).toBe("delivered (HTTP 200)");
    expect(deliveryOutcome({ ...d, status: "failed", last_response_status: 500 }, (s) => s)).toBe("failed: HTTP 500");
    expect(deliveryOutcome({ ...d, status: "pending", last_response_status: null, last_error: "timeout", next_attempt_at: "T" }, (s) => s)).toBe("pending: timeout, next try T");
    expect(hasPending([d])).toBe(false);
    expect(hasPending([d, { ...d, status: "pending" }])).toBe(true);
  });
});

describe("problems at the field", () => {
  it("keys a problem's errors by field", () => {
    const e = new ApiError({ title: "Invalid input", status: 422, code: "validation_failed", errors: [{ field: "url", message: "bad" }] });
    expect(fieldErrors(e)).toEqual({ url: "bad" });
    expect(fieldErrors(new Error("x"))).toEqual({});
    expect(allFieldsShown(e, ["url"])).toBe(true);
    expect(allFieldsShown(e, ["note"])).toBe(false);
  });
});

describe("idempotency keys of admin writes", () => {
  it("keeps the key for a retry of the same body after a retryable failure, else makes a new one", () => {
    let n = 0;
    const k = new RetryKey(() => `k${++n}`);
    expect(k.keyFor({ a: 1 })).toBe("k1");
    k.settle(new ApiError({ title: "x", status: 0, code: "network_error" }));
    expect(k.keyFor({ a: 1 })).toBe("k1");
    k.settle(new ApiError({ title: "x", status: 409, code: "exceeds_open_quantity" }));
    expect(k.keyFor({ a: 1 })).toBe("k2");
    k.settle();
    expect(k.keyFor({ a: 1 })).toBe("k3");
    expect(k.keyFor({ a: 2 })).toBe("k4");
  });
});

describe("admin API calls", () => {
  it("send the right method, path, headers and body", async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const answers: [number, unknown, Record<string, string>?][] = [
      [201, { id: "s1" }],
      [201, { id: "r1", status: "succeeded", amount: 100 }],
      [201, { id: 9, note: "n" }],
      [200, { id: 3 }, { ETag: '"v1"' }],
      [200, { id: 3 }],
      [200, { items: [{ id: "w" }], next_cursor: null }],
      [202, null],
      [200, { items: [], next_cursor: null }],
    ];
    const fetch: Fetch = async (url, init = {}) => {
      calls.push({ url, init });
      const [status, body, headers] = answers.shift()!;
      return new Response(body === null ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
    };
    const api = new ApiClient({ fetch, readCookie: () => "csrf" });
    await api.createShipment("o1", { items: [{ product_id: 1, quantity: 1 }] }, "key-1");
    await api.createRefund("o1", { amount: 100, reason: "r" }, "key-2");
    await api.addOrderNote("o1", "n");
    const { etag } = await api.getCustomerWithEtag(3);
    await api.updateCustomer(3, { status: "disabled" }, etag);
    expect(await api.listWebhooks()).toEqual([{ id: "w" }]);
    await api.retryDelivery("w", "d1");
    await api.listAudit({ action: "order.refunded", target_type: "order" });
    const h = (i: number) => calls[i].init.headers as Record<string, string>;
    expect(calls[0].url).toBe("/api/admin/orders/o1/shipments");
    expect(h(0)["Idempotency-Key"]).toBe("key-1");
    expect(h(0)["X-CSRF-Token"]).toBe("csrf");
    expect(calls[1].url).toBe("/api/admin/orders/o1/refunds");
    expect(JSON.parse(String(calls[1].init.body))).toEqual({ amount: 100, reason: "r" });
    expect(calls[2].url).toBe("/api/admin/orders/o1/notes");
    expect(calls[4].init.method).toBe("PATCH");
    expect(h(4)["If-Match"]).toBe('"v1"');
    expect(calls[5].url).toBe("/api/admin/webhooks?limit=200");
    expect(calls[6].url).toBe("/api/admin/webhooks/w/deliveries/d1/retry");
    expect(calls[7].url).toBe("/api/admin/audit?action=order.refunded&target_type=order");
  });
});
