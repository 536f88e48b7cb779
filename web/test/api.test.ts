import { describe, expect, it, vi } from "vitest";
import {
  ApiClient,
  ApiError,
  CheckoutAttempt,
  allPages,
  adminOrderQuery,
  isRetryable,
  newIdempotencyKey,
  parseProblem,
  type Fetch,
  type PlaceOrderBody,
} from "../lib/api";
import { CursorTrail } from "../lib/paging";
import { draftToFilters, EMPTY_DRAFT } from "../lib/adminFilters";
import { parseMoney } from "../lib/format";

interface Call {
  url: string;
  init: RequestInit;
  headers: Record<string, string>;
}

/** A fetch that records each call and answers from a queue of [status, body, headers]. */
function fakeFetch(answers: [number, unknown, Record<string, string>?][]) {
  const calls: Call[] = [];
  const fetch: Fetch = async (url, init = {}) => {
    calls.push({ url, init, headers: { ...(init.headers as Record<string, string>) } });
    const next = answers.shift();
    if (!next) throw new TypeError("Failed to fetch");
    const [status, body, headers] = next;
    const isProblem = status >= 400;
    return new Response(body === null ? null : typeof body === "string" ? body : JSON.stringify(body), {
      status,
      headers: { "Content-Type": isProblem ? "application/problem+json" : "application/json", ...headers },
    });
  };
  return { fetch, calls };
}

const order = (id: string, status = "PAID") => ({ id, status, allowed_transitions: [] });
const body: PlaceOrderBody = {
  items: [{ product_id: 1, quantity: 2 }],
  shipping_address: { name: "Ada", line1: "1 Main St", line2: null, city: "London", region: null, postal_code: null, country: "GB" },
  payment: { token: "tok_visa" },
};

describe("CSRF header", () => {
  it("sends the token from the login answer on every mutating call, and none on GET", async () => {
    const { fetch, calls } = fakeFetch([
      [200, { user: { id: 1, email: "a@b.c", role: "CUSTOMER" }, csrf_token: "csrf-from-login" }],
      [200, { items: [], next_cursor: null }],
      [200, order("o1", "CANCELLED")],
      [204, null],
    ]);
    const api = new ApiClient({ fetch, readCookie: () => null });
    await api.login("a@b.c", "password1");
    expect(calls[0].headers["X-CSRF-Token"]).toBeUndefined(); // no session yet, none known
    await api.listOrders();
    expect(calls[1].headers["X-CSRF-Token"]).toBeUndefined();
    await api.cancelOrder("o1");
    expect(calls[2].headers["X-CSRF-Token"]).toBe("csrf-from-login");
    expect(calls[2].init.method).toBe("POST");
    await api.logout();
    expect(calls[3].headers["X-CSRF-Token"]).toBe("csrf-from-login");
    expect(api.csrf()).toBeNull(); // forgotten after sign-out
  });

  it("falls back to the oms_csrf cookie after a reload, and takes the token from /me", async () => {
    const { fetch, calls } = fakeFetch([
      [200, order("o1")],
      [200, { user: { id: 1, email: "a@b.c", role: "ADMIN" }, csrf_token: "from-me" }],
      [200, order("o1", "FULFILLED")],
    ]);
    const api = new ApiClient({ fetch, readCookie: (name) => (name === "oms_csrf" ? "from-cookie" : null) });
    await api.changeOrderStatus("o1", { status: "FULFILLED" });
    expect(calls[0].headers["X-CSRF-Token"]).toBe("from-cookie");
    expect(calls[0].init.method).toBe("PATCH");
    expect(calls[0].headers["Content-Type"]).toBe("application/json");
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ status: "FULFILLED" });
    await api.me();
    await api.changeOrderStatus("o1", { status: "FULFILLED" });
    expect(calls[2].headers["X-CSRF-Token"]).toBe("from-me");
  });

  it("sends the session cookie (same-origin credentials) to the /api path", async () => {
    const { fetch, calls } = fakeFetch([[200, { items: [], next_cursor: null }]]);
    await new ApiClient({ fetch }).listProducts({ q: "mug" });
    expect(calls[0].url).toBe("/api/products?q=mug");
    expect(calls[0].init.credentials).toBe("same-origin");
  });
});

describe("problem parsing", () => {
  it("keeps title, detail, code, errors and extension members", () => {
    const p = parseProblem(
      409,
      JSON.stringify({
        type: "about:blank",
        title: "Insufficient stock",
        status: 409,
        code: "insufficient_stock",
        detail: "Not enough stock",
        errors: [{ field: "items[0].quantity", message: "only 1 left", product_id: 7, available: 1 }],
      }),
    );
    expect(p.code).toBe("insufficient_stock");
    expect(p.errors?.[0]).toEqual({ field: "items[0].quantity", message: "only 1 left", product_id: 7, available: 1 });
    const declined = parseProblem(402, JSON.stringify({ title: "Payment declined", status: 402, code: "payment_declined", order_id: "abc" }));
    expect(declined.order_id).toBe("abc");
  });

  it("turns a non-JSON body into a readable synthetic problem", () => {
    expect(parseProblem(502, "<html>Bad Gateway</html>")).toMatchObject({ title: "Bad gateway", status: 502, code: "http_502" });
    expect(parseProblem(404, "")).toMatchObject({ title: "Not found", code: "http_404" });
    expect(parseProblem(418, "[1,2]")).toMatchObject({ title: "HTTP 418", code: "http_418" });
  });

  it("throws ApiError carrying the problem, and a network_error when fetch fails", async () => {
    const { fetch } = fakeFetch([[422, { title: "Validation failed", status: 422, code: "validation_failed", errors: [{ field: "email", message: "bad" }] }]]);
    const api = new ApiClient({ fetch });
    const error = await api.register("x", "y").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(422);
    expect((error as ApiError).problem.errors?.[0].field).toBe("email");
    const offline = await api.listProducts().catch((e: unknown) => e);
    expect((offline as ApiError).code).toBe("network_error");
    expect((offline as ApiError).status).toBe(0);
  });
});

describe("401 handling", () => {
  it("calls onUnauthorized when a session expires, and not for wrong credentials", async () => {
    const onUnauthorized = vi.fn();
    const unauth = { title: "Unauthenticated", status: 401, code: "unauthenticated" };
    const { fetch } = fakeFetch([
      [401, { title: "Invalid credentials", status: 401, code: "invalid_credentials" }],
      [401, unauth],
      [401, unauth],
    ]);
    const api = new ApiClient({ fetch, onUnauthorized, readCookie: () => null });
    api.setCsrf("old");
    await expect(api.login("a@b.c", "wrong-password")).rejects.toMatchObject({ code: "invalid_credentials" });
    expect(onUnauthorized).not.toHaveBeenCalled();
    await expect(api.getOrder("o1")).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(onUnauthorized.mock.calls[0][0]).toMatchObject({ code: "unauthenticated" });
    expect(api.csrf()).toBeNull();
    // /me answering 401 is "nobody signed in", not an expiry.
    expect(await api.me()).toBeNull();
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });
});

describe("Idempotency-Key", () => {
  it("is a v4 UUID, fresh each time", () => {
    const a = newIdempotencyKey();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(newIdempotencyKey()).not.toBe(a);
  });

  it("a double click sends one request; a retry after a network error or 5xx reuses the key", async () => {
    const { fetch, calls } = fakeFetch([
      [503, { title: "Service unavailable", status: 503, code: "unavailable" }],
      [201, order("o1"), { Location: "/api/orders/o1" }],
    ]);
    const api = new ApiClient({ fetch, readCookie: () => "csrf" });
    const attempt = new CheckoutAttempt();
    const first = attempt.place(api, body);
    const second = attempt.place(api, body); // double click while the first runs
    expect(second).toBe(first);
    await expect(first).rejects.toMatchObject({ status: 503 });
    expect(calls).toHaveLength(1);
    const retried = await attempt.place(api, structuredClone(body));
    expect(retried).toEqual({ order: order("o1"), status: 201 });
    expect(calls).toHaveLength(2);
    expect(calls[0].headers["Idempotency-Key"]).toBeTruthy();
    expect(calls[1].headers["Idempotency-Key"]).toBe(calls[0].headers["Idempotency-Key"]);
    expect(calls[1].headers["X-CSRF-Token"]).toBe("csrf");
  });

  it("a changed body, or a new try after a final answer, gets a new key", async () => {
    const declined = { title: "Payment declined", status: 402, code: "payment_declined", order_id: "o1" };
    const { fetch, calls } = fakeFetch([
      [402, declined],
      [402, declined],
      [202, order("o3", "PENDING")],
    ]);
    const api = new ApiClient({ fetch });
    const attempt = new CheckoutAttempt();
    await expect(attempt.place(api, body)).rejects.toMatchObject({ code: "payment_declined" });
    await expect(attempt.place(api, body)).rejects.toMatchObject({ code: "payment_declined" });
    expect(calls[1].headers["Idempotency-Key"]).not.toBe(calls[0].headers["Idempotency-Key"]);
    const other = { ...body, payment: { token: "tok_timeout" } };
    expect(await attempt.place(api, other)).toMatchObject({ status: 202 });
    expect(calls[2].headers["Idempotency-Key"]).not.toBe(calls[1].headers["Idempotency-Key"]);
  });

  it("a 202 awaiting 3-D Secure carries the client secret to the page", async () => {
    const awaiting = { ...order("o4", "PENDING"), payment: { client_secret: "pi_1_secret_abc" } };
    const { fetch } = fakeFetch([[202, awaiting]]);
    const api = new ApiClient({ fetch });
    const result = await new CheckoutAttempt().place(api, { ...body, payment: { token: "pm_card_visa" } });
    expect(result.status).toBe(202);
    expect(result.order.payment?.client_secret).toBe("pi_1_secret_abc");
  });

  it("keyFor keeps the key for an equal body and changes it for another", () => {
    let n = 0;
    const attempt = new CheckoutAttempt(() => `k${++n}`);
    expect(attempt.keyFor(body)).toBe("k1");
    expect(attempt.keyFor(JSON.parse(JSON.stringify(body)))).toBe("k1");
    expect(attempt.keyFor({ ...body, items: [{ product_id: 1, quantity: 3 }] })).toBe("k2");
    attempt.finish();
    expect(attempt.keyFor(body)).toBe("k3");
  });

  it("classifies retryable answers as the contract keeps them", () => {
    const e = (status: number, code = "x") => new ApiError({ title: "t", status, code });
    expect(isRetryable(e(0, "network_error"))).toBe(true);
    expect(isRetryable(e(500))).toBe(true);
    expect(isRetryable(e(429))).toBe(true);
    expect(isRetryable(e(409, "idempotency_in_progress"))).toBe(true);
    expect(isRetryable(e(409, "insufficient_stock"))).toBe(false);
    expect(isRetryable(e(402, "payment_declined"))).toBe(false);
    expect(isRetryable(e(422, "validation_failed"))).toBe(false);
  });
});

describe("cursor paging", () => {
  it("passes limit and cursor, and walks every page until next_cursor is null", async () => {
    const { fetch, calls } = fakeFetch([
      [200, { items: [{ id: 1 }, { id: 2 }], next_cursor: "c1" }],
      [200, { items: [{ id: 3 }], next_cursor: "c/2+" }],
      [200, { items: [], next_cursor: null }],
    ]);
    const api = new ApiClient({ fetch });
    const seen: number[] = [];
    for await (const items of allPages((cursor) => api.listProducts({ limit: 2, cursor }))) {
      seen.push(...items.map((p) => p.id));
    }
    expect(seen).toEqual([1, 2, 3]);
    expect(calls.map((c) => c.url)).toEqual(["/api/products?limit=2", "/api/products?limit=2&cursor=c1", "/api/products?limit=2&cursor=c%2F2%2B"]);
  });

  it("stops after maxPages", async () => {
    const pages: number[] = [];
    for await (const items of allPages(async () => ({ items: [1], next_cursor: "again" }), 3)) pages.push(...items);
    expect(pages).toEqual([1, 1, 1]);
  });

  it("CursorTrail goes forward and back", () => {
    let t = CursorTrail.first();
    expect(t.current).toBeNull();
    expect(t.hasPrevious).toBe(false);
    t = t.next("a").next("b");
    expect(t.current).toBe("b");
    expect(t.pageNumber).toBe(3);
    t = t.previous();
    expect(t.current).toBe("a");
    expect(t.previous().previous().previous().current).toBeNull();
  });

  it("admin filters: repeated status, totals in cents, export URL without paging", () => {
    expect(adminOrderQuery({ status: ["PAID", "PENDING"], email: "A@B.C", min_total: 100, limit: 25, cursor: "x" })).toBe(
      "?status=PAID&status=PENDING&email=A%40B.C&min_total=100&limit=25&cursor=x",
    );
    const api = new ApiClient();
    expect(api.exportUrl({ status: ["FULFILLED"], max_total: 5000 })).toBe("/api/admin/orders/export?status=FULFILLED&max_total=5000");
    const [filters, bad] = draftToFilters({ ...EMPTY_DRAFT, status: ["PAID"], min_total: "12.5", user_id: "abc" });
    expect(filters).toMatchObject({ status: ["PAID"], min_total: 1250 });
    expect(bad).toEqual(["User id"]);
    expect(parseMoney("12")).toBe(1200);
    expect(parseMoney("1.2.3")).toBeNull();
  });
});
