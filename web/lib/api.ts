/**
 * The one client of the OMS REST contract (shared/API.md) that every page uses.
 *
 * What it guarantees:
 * - every call goes to the same origin under `/api` with the session cookie (`credentials:
 *   "same-origin"`); nothing here talks to a database or any other service;
 * - every mutating call (`POST`/`PUT`/`PATCH`/`DELETE`) carries `X-CSRF-Token`, taken from the last
 *   register/login/me answer, else read from the `oms_csrf` cookie;
 * - every non-2xx answer becomes an {@link ApiError} holding the parsed RFC 9457 problem (or a
 *   synthetic one when the body is not problem JSON, e.g. a proxy's HTML error page);
 * - a 401 from any route but the sign-in ones calls `onUnauthorized` once per answer (the pages send
 *   the user back to sign-in) before the error is thrown;
 * - order placement sends an `Idempotency-Key`, which {@link CheckoutAttempt} keeps for one checkout
 *   attempt, so a double click or a retry after a network error never makes two orders.
 */

// ---------------------------------------------------------------------------------------------
// Contract types

export type Role = "CUSTOMER" | "ADMIN";
export interface User {
  id: number;
  email: string;
  role: Role;
}
export interface SessionAnswer {
  user: User;
  csrf_token: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Product {
  id: number;
  name: string;
  description: string | null;
  price: number;
  stock_quantity: number;
  sku: string;
  /** null, an absolute https:// URL or a path starting with "/" (API v3). */
  image_url: string | null;
  created_at: string;
  updated_at: string;
  /** Present on admin answers only. */
  archived?: boolean;
}

export type OrderStatus = "PENDING" | "PAID" | "FULFILLED" | "CANCELLED";
export const ORDER_STATUSES: readonly OrderStatus[] = ["PENDING", "PAID", "FULFILLED", "CANCELLED"];
export type PaymentStatus = "unpaid" | "processing" | "captured" | "partially_refunded" | "refunded" | "failed";
export type FulfillmentStatus = "unfulfilled" | "partially_fulfilled" | "fulfilled";

export interface ShippingAddress {
  name: string;
  line1: string;
  line2: string | null;
  city: string;
  region: string | null;
  postal_code: string | null;
  country: string;
}
export interface Tracking {
  carrier: string;
  tracking_number: string;
}
export interface OrderItem {
  product_id: number;
  sku: string;
  name: string;
  quantity: number;
  unit_price: number;
  line_total: number;
  /** API v3; absent from older servers' answers. */
  quantity_shipped?: number;
  quantity_cancelled?: number;
  quantity_returned?: number;
}

/** One shipment of an order (API v3). */
export interface Shipment {
  id: string;
  order_id: string;
  items: { product_id: number; quantity: number }[];
  carrier: string | null;
  tracking_number: string | null;
  created_at: string;
}
export type Restock = "cancel" | "return" | "no_restock";
export interface RefundItem {
  product_id: number;
  quantity: number;
  restock: Restock;
}
/** One refund of an order (API v3); `reason` only in admins' answers. */
export interface Refund {
  id: string;
  order_id: string;
  amount: number;
  items: RefundItem[];
  shipping: boolean;
  reason?: string | null;
  status: "succeeded" | "pending" | "failed";
  created_at: string;
}
export interface ShipmentInput {
  items?: { product_id: number; quantity: number }[];
  carrier?: string;
  tracking_number?: string;
  note?: string;
}
/** Either `items` and/or `shipping`, or `amount` alone; `reason` always. */
export interface RefundInput {
  items?: RefundItem[];
  shipping?: boolean;
  amount?: number;
  reason: string;
}
/** An internal note (`POST /api/admin/orders/{id}/notes`). */
export interface OrderNote {
  id: number;
  note: string;
  actor: { id: number; role: Role };
  occurred_at: string;
}

export type CustomerStatus = "active" | "disabled";
/** `GET /api/admin/customers` item. */
export interface Customer {
  id: number;
  email: string;
  role: Role;
  status: CustomerStatus;
  order_count: number;
  total_spent: number;
  last_order_at: string | null;
  created_at: string;
  updated_at: string;
}
export interface CustomerFilters {
  q?: string;
  role?: Role;
  status?: CustomerStatus;
}

export interface AuditEntry {
  id: number;
  occurred_at: string;
  action: string;
  actor: { id: number; role: Role } | null;
  target: { type: string; id: number | string } | null;
  changes: Record<string, [unknown, unknown]> | null;
  request_id: string | null;
  client_ip: string | null;
}
export interface AuditFilters {
  action?: string;
  actor_id?: number;
  target_type?: string;
  target_id?: string;
  /** RFC 3339, inclusive. */
  created_from?: string;
  /** RFC 3339, exclusive. */
  created_to?: string;
}

export interface WebhookEndpoint {
  id: string;
  url: string;
  event_types: string[];
  description: string | null;
  enabled: boolean;
  disabled_reason: string | null;
  created_at: string;
  updated_at: string;
}
/** The create answer: the only time (with rotate) the secret is shown. */
export type CreatedWebhook = WebhookEndpoint & { secret: string };
export interface WebhookInput {
  url: string;
  event_types: string[];
  description?: string | null;
  enabled?: boolean;
}
export type DeliveryStatus = "pending" | "succeeded" | "failed";
export interface WebhookDelivery {
  id: string;
  event_id: number;
  event_type: string;
  status: DeliveryStatus;
  attempts: number;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  last_response_status: number | null;
  last_error: string | null;
}

export interface Order {
  id: string;
  user_id: number;
  status: OrderStatus;
  payment_status: PaymentStatus;
  payment_collected: boolean;
  allowed_transitions: OrderStatus[];
  subtotal: number;
  shipping_amount: number;
  tax_amount: number;
  total_amount: number;
  currency: string;
  shipping_address: ShippingAddress;
  tracking: Tracking | null;
  items: OrderItem[];
  /** API v3. */
  fulfillment_status?: FulfillmentStatus;
  refunded_amount?: number;
  shipments?: Shipment[];
  refunds?: Refund[];
  created_at: string;
  updated_at: string;
  /**
   * Only in the 202 answer of a placement or payment through Stripe whose charge awaits the
   * customer's authentication (3-D Secure): the PaymentIntent's client secret for Stripe.js.
   */
  payment?: { client_secret: string };
}
/** An event of the order, or (admins only) an internal note: `type` "note", no statuses. */
export interface OrderHistoryEntry {
  id: number;
  type: string;
  from_status: OrderStatus | null;
  to_status: OrderStatus | null;
  actor: { id: number; role: Role } | null;
  note: string | null;
  occurred_at: string;
}

export interface PlaceOrderBody {
  items: { product_id: number; quantity: number }[];
  shipping_address: ShippingAddress;
  payment?: { token: string };
}

/** `POST /api/orders/quote`'s answer: the order as placement would price it now. */
export interface QuoteItem {
  product_id: number;
  sku: string;
  name: string;
  quantity: number;
  unit_price: number;
  line_total: number;
  available: number;
}
export interface Quote {
  items: QuoteItem[];
  subtotal: number;
  shipping_amount: number;
  tax_amount: number;
  total_amount: number;
  currency: string;
}

/** `GET /api/admin/stats/summary`. */
export interface StatsSummary {
  orders_by_status: Record<OrderStatus, number>;
  awaiting_payment: number;
  units_to_ship: number;
  failed_webhook_deliveries: number;
  today: { orders: number; net: number };
}
export interface SalesBucket {
  period_start: string;
  orders: number;
  paid_orders: number;
  units: number;
  gross: number;
  refunded: number;
  net: number;
}
/** `GET /api/admin/stats/sales`. */
export interface SalesStats {
  items: SalesBucket[];
  totals: Omit<SalesBucket, "period_start">;
}

export interface AdminOrderFilters {
  status?: OrderStatus[];
  user_id?: number;
  email?: string;
  /** RFC 3339, inclusive. */
  created_from?: string;
  /** RFC 3339, exclusive. */
  created_to?: string;
  /** Cents, inclusive. */
  min_total?: number;
  /** Cents, inclusive. */
  max_total?: number;
}

export interface ProductInput {
  name: string;
  description: string | null;
  price: number;
  stock_quantity: number;
  sku: string;
  /** null, an https:// URL or a path starting with "/"; at most 2,048 characters. */
  image_url?: string | null;
}
export type ProductPatch = Partial<Omit<ProductInput, "stock_quantity">> & {
  archived?: boolean;
  stock_quantity?: number;
  stock_delta?: number;
};

// ---------------------------------------------------------------------------------------------
// Problems

/** One entry of a problem's `errors` (validation failures, short stock lines). */
export interface ProblemFieldError {
  field: string;
  message: string;
  product_id?: number;
  available?: number;
  /** `exceeds_open_quantity`: the line's open units. */
  open?: number;
  /** `exceeds_refundable_quantity`: the line's refundable units. */
  refundable?: number;
}
/** RFC 9457 problem JSON as the server sends it, with its extension members. */
export interface Problem {
  type?: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  errors?: ProblemFieldError[];
  order_id?: string;
  from?: string;
  to?: string;
  [extension: string]: unknown;
}

/** A non-2xx answer, or a network failure (`status` 0, `code` "network_error"). */
export class ApiError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title);
    this.name = "ApiError";
    this.problem = problem;
  }
  get status(): number {
    return this.problem.status;
  }
  get code(): string {
    return this.problem.code;
  }
}

const STATUS_TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Not signed in",
  403: "Forbidden",
  404: "Not found",
  409: "Conflict",
  413: "Payload too large",
  422: "Invalid input",
  429: "Too many requests",
  500: "Server error",
  502: "Bad gateway",
  503: "Service unavailable",
  504: "Gateway timeout",
};

/**
 * Reads a problem from an answer's body. Anything that is not a JSON object with a string `title`
 * (an HTML page from a proxy, an empty body) becomes a synthetic problem with code `http_<status>`,
 * so callers can always show `title` and `detail`.
 */
export function parseProblem(status: number, bodyText: string): Problem {
  let parsed: unknown = null;
  try {
    parsed = bodyText ? JSON.parse(bodyText) : null;
  } catch {
    parsed = null;
  }
  if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
    const obj = parsed as Record<string, unknown>;
    if (typeof obj.title === "string") {
      return {
        ...obj,
        title: obj.title,
        status: typeof obj.status === "number" ? obj.status : status,
        code: typeof obj.code === "string" ? obj.code : `http_${status}`,
        detail: typeof obj.detail === "string" ? obj.detail : undefined,
        errors: Array.isArray(obj.errors) ? (obj.errors as ProblemFieldError[]) : undefined,
      };
    }
  }
  return {
    title: STATUS_TITLES[status] ?? `HTTP ${status}`,
    status,
    code: `http_${status}`,
    detail: status >= 500 ? "The server could not answer. Please try again." : undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Idempotency keys

/** A random UUID v4; works outside secure contexts too (no `crypto.randomUUID` needed). */
export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Answers after which the same request may be sent again with the same key: the server did not
 * keep them (401, 403, 413, 429, 5xx), the request may not have arrived (network error), or the
 * first request with the key is still running (409 `idempotency_in_progress`).
 */
export function isRetryable(error: unknown): boolean {
  if (!(error instanceof ApiError)) return true;
  const { status, code } = error.problem;
  return (
    status === 0 ||
    status === 401 ||
    status === 403 ||
    status === 413 ||
    status === 429 ||
    status >= 500 ||
    code === "idempotency_in_progress"
  );
}

/**
 * One checkout attempt's `Idempotency-Key`. The key is kept while the same body is sent again and
 * no final answer has come back (double click, retry after a network error or a 5xx), so the server
 * answers the retry exactly as the first request and never makes a second order. A changed body, or
 * a new try after a final answer (a decline, short stock), gets a fresh key: reusing the old one
 * would replay the old answer (same body) or be refused with 422 `idempotency_key_reused` (other
 * body).
 */
export class CheckoutAttempt {
  private key: string | null = null;
  private bodyJson: string | null = null;
  private inFlight: Promise<PlaceOrderResult> | null = null;

  constructor(private readonly makeKey: () => string = newIdempotencyKey) {}

  /** The key for `body`: the current one when the body is unchanged, else a new one. */
  keyFor(body: unknown): string {
    const json = JSON.stringify(body);
    if (this.key === null || json !== this.bodyJson) {
      this.key = this.makeKey();
      this.bodyJson = json;
    }
    return this.key;
  }

  /** Forgets the key so the next call starts a new attempt. */
  finish(): void {
    this.key = null;
    this.bodyJson = null;
  }

  /**
   * Places the order with this attempt's key. A call while one is running returns the running
   * one's promise (a double click sends one request). After a final answer the key is dropped;
   * after a retryable failure it is kept for the retry.
   */
  place(api: ApiClient, body: PlaceOrderBody): Promise<PlaceOrderResult> {
    if (this.inFlight) return this.inFlight;
    const key = this.keyFor(body);
    const run = api
      .placeOrder(body, key)
      .then(
        (result) => {
          this.finish();
          return result;
        },
        (error: unknown) => {
          if (!isRetryable(error)) this.finish();
          throw error;
        },
      )
      .finally(() => {
        this.inFlight = null;
      });
    this.inFlight = run;
    return run;
  }
}

// ---------------------------------------------------------------------------------------------
// The client

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export interface ApiClientOptions {
  /** Prefix of every path; "" for same-origin (the default). */
  baseUrl?: string;
  fetch?: Fetch;
  /** Reads the `oms_csrf` cookie; defaults to `document.cookie` in a browser. */
  readCookie?: (name: string) => string | null;
  /** Called on a 401 from any route except sign-in/sign-up (a session that expired or was revoked). */
  onUnauthorized?: (problem: Problem) => void;
}

export interface PlaceOrderResult {
  order: Order;
  /** 201: paid; 202: payment still processing (follow the order live). */
  status: 201 | 202;
}

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** Routes whose 401 means "wrong credentials", not "session expired". */
const SIGN_IN_PATHS = ["/api/auth/login", "/api/auth/register", "/api/auth/token"];

export function readBrowserCookie(name: string): string | null {
  if (typeof document === "undefined") return null;
  for (const part of document.cookie.split(";")) {
    const [k, ...rest] = part.trim().split("=");
    if (k === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

function query(params: Record<string, string | number | boolean | readonly string[] | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) {
      for (const v of value) search.append(name, String(v));
    } else {
      search.append(name, String(value));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export interface PageQuery {
  limit?: number;
  cursor?: string | null;
}

export class ApiClient {
  private csrfToken: string | null = null;
  private readonly baseUrl: string;
  private readonly fetchImpl: Fetch;
  private readonly readCookie: (name: string) => string | null;
  onUnauthorized: ((problem: Problem) => void) | undefined;

  constructor(options: ApiClientOptions = {}) {
    this.baseUrl = options.baseUrl ?? "";
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.readCookie = options.readCookie ?? readBrowserCookie;
    this.onUnauthorized = options.onUnauthorized;
  }

  /** The token sent as `X-CSRF-Token`: the last one the server gave, else the cookie's. */
  csrf(): string | null {
    return this.csrfToken ?? this.readCookie("oms_csrf");
  }

  setCsrf(token: string | null): void {
    this.csrfToken = token;
  }

  /**
   * Sends one request and returns the raw answer when it is 2xx; otherwise throws {@link ApiError}.
   * JSON bodies are serialised here; `headers` may add e.g. `Idempotency-Key`.
   */
  async request(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (MUTATING.has(method)) {
      const token = this.csrf();
      if (token) headers["X-CSRF-Token"] = token;
    }
    let response: Response;
    try {
      response = await this.fetchImpl(this.baseUrl + path, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        credentials: "same-origin",
        cache: "no-store",
        signal: options.signal,
      });
    } catch (error) {
      if (error instanceof DOMException && error.name === "AbortError") throw error;
      throw new ApiError({
        title: "Network error",
        status: 0,
        code: "network_error",
        detail: "The server could not be reached. Check your connection and try again.",
      });
    }
    if (response.ok) return response;
    const problem = parseProblem(response.status, await response.text().catch(() => ""));
    if (response.status === 401 && !SIGN_IN_PATHS.some((p) => path.startsWith(p))) {
      this.csrfToken = null;
      this.onUnauthorized?.(problem);
    }
    throw new ApiError(problem);
  }

  private async json<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    const response = await this.request(method, path, { body, headers });
    return (await response.json()) as T;
  }

  // --- auth ---

  private remember(answer: SessionAnswer): SessionAnswer {
    this.csrfToken = answer.csrf_token;
    return answer;
  }
  async register(email: string, password: string): Promise<SessionAnswer> {
    return this.remember(await this.json<SessionAnswer>("POST", "/api/auth/register", { email, password }));
  }
  async login(email: string, password: string): Promise<SessionAnswer> {
    return this.remember(await this.json<SessionAnswer>("POST", "/api/auth/login", { email, password }));
  }
  /** The signed-in user, or null when nobody is (a 401 here is not "expired": it calls no handler). */
  async me(): Promise<SessionAnswer | null> {
    try {
      const response = await this.fetchImpl(this.baseUrl + "/api/auth/me", {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.status === 401) {
        this.csrfToken = null;
        return null;
      }
      if (!response.ok) throw new ApiError(parseProblem(response.status, await response.text().catch(() => "")));
      return this.remember((await response.json()) as SessionAnswer);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw new ApiError({ title: "Network error", status: 0, code: "network_error", detail: "The server could not be reached." });
    }
  }
  async logout(): Promise<void> {
    try {
      await this.request("POST", "/api/auth/logout");
    } finally {
      this.csrfToken = null;
    }
  }

  // --- catalogue ---

  listProducts(params: PageQuery & { q?: string } = {}): Promise<Page<Product>> {
    return this.json("GET", `/api/products${query({ limit: params.limit, cursor: params.cursor, q: params.q })}`);
  }
  getProduct(id: number): Promise<Product> {
    return this.json("GET", `/api/products/${id}`);
  }

  // --- orders ---

  /** `POST /api/orders` with the given `Idempotency-Key`; prefer {@link CheckoutAttempt.place}. */
  async placeOrder(body: PlaceOrderBody, idempotencyKey: string): Promise<PlaceOrderResult> {
    const response = await this.request("POST", "/api/orders", {
      body,
      headers: { "Idempotency-Key": idempotencyKey },
    });
    return { order: (await response.json()) as Order, status: response.status === 202 ? 202 : 201 };
  }
  /** `POST /api/orders/quote`: prices a placement's body now; reserves and writes nothing. */
  async quote(body: PlaceOrderBody, signal?: AbortSignal): Promise<Quote> {
    const response = await this.request("POST", "/api/orders/quote", { body, signal });
    return (await response.json()) as Quote;
  }
  getOrder(id: string): Promise<Order> {
    return this.json("GET", `/api/orders/${encodeURIComponent(id)}`);
  }
  listOrders(params: PageQuery & { status?: OrderStatus } = {}): Promise<Page<Order>> {
    return this.json("GET", `/api/orders${query({ limit: params.limit, cursor: params.cursor, status: params.status })}`);
  }
  orderHistory(id: string): Promise<{ items: OrderHistoryEntry[] }> {
    return this.json("GET", `/api/orders/${encodeURIComponent(id)}/history`);
  }
  payOrder(id: string, token: string, idempotencyKey: string): Promise<Order> {
    return this.json("POST", `/api/orders/${encodeURIComponent(id)}/payment`, { token }, { "Idempotency-Key": idempotencyKey });
  }
  cancelOrder(id: string): Promise<Order> {
    return this.json("POST", `/api/orders/${encodeURIComponent(id)}/cancel`);
  }

  // --- admin: orders ---

  listAdminOrders(filters: AdminOrderFilters & PageQuery = {}): Promise<Page<Order>> {
    return this.json("GET", `/api/admin/orders${adminOrderQuery(filters)}`);
  }
  /** Where the CSV export of the orders matching `filters` downloads from (a plain GET link). */
  exportUrl(filters: AdminOrderFilters = {}): string {
    const { limit: _limit, cursor: _cursor, ...rest } = filters as AdminOrderFilters & PageQuery;
    void _limit;
    void _cursor;
    return `${this.baseUrl}/api/admin/orders/export${adminOrderQuery(rest)}`;
  }
  /** With `etag` (the order's `ETag`), a change made meanwhile answers 412 `precondition_failed`. */
  changeOrderStatus(
    id: string,
    change: { status: OrderStatus; note?: string; tracking?: Tracking },
    etag?: string | null,
  ): Promise<Order> {
    return this.json("PATCH", `/api/admin/orders/${encodeURIComponent(id)}/status`, change, etag ? { "If-Match": etag } : undefined);
  }

  /** `GET /api/orders/{id}` with its `ETag` (for `If-Match` on the admin's writes). */
  async getOrderWithEtag(id: string): Promise<{ order: Order; etag: string | null }> {
    const response = await this.request("GET", `/api/orders/${encodeURIComponent(id)}`);
    return { order: (await response.json()) as Order, etag: response.headers.get("ETag") };
  }
  /** With `etag` (the order's `ETag`), a change made meanwhile answers 412 `precondition_failed`. */
  createShipment(id: string, input: ShipmentInput, idempotencyKey: string, etag?: string | null): Promise<Shipment> {
    return this.json("POST", `/api/admin/orders/${encodeURIComponent(id)}/shipments`, input, {
      "Idempotency-Key": idempotencyKey,
      ...(etag ? { "If-Match": etag } : {}),
    });
  }
  /** 201 succeeded, or 202 with the refund `pending` (resolved later). */
  createRefund(id: string, input: RefundInput, idempotencyKey: string): Promise<Refund> {
    return this.json("POST", `/api/admin/orders/${encodeURIComponent(id)}/refunds`, input, { "Idempotency-Key": idempotencyKey });
  }
  addOrderNote(id: string, note: string): Promise<OrderNote> {
    return this.json("POST", `/api/admin/orders/${encodeURIComponent(id)}/notes`, { note });
  }

  // --- admin: customers ---

  listCustomers(params: CustomerFilters & PageQuery = {}): Promise<Page<Customer>> {
    return this.json(
      "GET",
      `/api/admin/customers${query({ q: params.q, role: params.role, status: params.status, limit: params.limit, cursor: params.cursor })}`,
    );
  }
  getCustomer(id: number): Promise<Customer> {
    return this.json("GET", `/api/admin/customers/${id}`);
  }
  /** With its `ETag`, for `If-Match` on {@link updateCustomer}. */
  async getCustomerWithEtag(id: number): Promise<{ customer: Customer; etag: string | null }> {
    const response = await this.request("GET", `/api/admin/customers/${id}`);
    return { customer: (await response.json()) as Customer, etag: response.headers.get("ETag") };
  }
  /** With `etag`, a change made meanwhile by someone else answers 412 `precondition_failed`. */
  updateCustomer(id: number, patch: { status?: CustomerStatus; role?: Role }, etag?: string | null): Promise<Customer> {
    return this.json("PATCH", `/api/admin/customers/${id}`, patch, etag ? { "If-Match": etag } : undefined);
  }

  // --- admin: audit log ---

  listAudit(filters: AuditFilters & PageQuery = {}): Promise<Page<AuditEntry>> {
    return this.json("GET", `/api/admin/audit${query({ ...filters })}`);
  }

  // --- admin: webhooks ---

  async listWebhooks(): Promise<WebhookEndpoint[]> {
    const answer = await this.json<Page<WebhookEndpoint> | WebhookEndpoint[]>("GET", "/api/admin/webhooks?limit=200");
    return Array.isArray(answer) ? answer : answer.items;
  }
  createWebhook(input: WebhookInput): Promise<CreatedWebhook> {
    return this.json("POST", "/api/admin/webhooks", input);
  }
  updateWebhook(id: string, patch: Partial<WebhookInput>): Promise<WebhookEndpoint> {
    return this.json("PATCH", `/api/admin/webhooks/${encodeURIComponent(id)}`, patch);
  }
  async deleteWebhook(id: string): Promise<void> {
    await this.request("DELETE", `/api/admin/webhooks/${encodeURIComponent(id)}`);
  }
  rotateWebhookSecret(id: string): Promise<{ secret: string }> {
    return this.json("POST", `/api/admin/webhooks/${encodeURIComponent(id)}/rotate-secret`);
  }
  async sendWebhookTest(id: string): Promise<void> {
    await this.request("POST", `/api/admin/webhooks/${encodeURIComponent(id)}/test`);
  }
  listDeliveries(id: string, params: PageQuery & { status?: DeliveryStatus } = {}): Promise<Page<WebhookDelivery>> {
    return this.json(
      "GET",
      `/api/admin/webhooks/${encodeURIComponent(id)}/deliveries${query({ status: params.status, limit: params.limit, cursor: params.cursor })}`,
    );
  }
  async retryDelivery(id: string, deliveryId: string): Promise<void> {
    await this.request(
      "POST",
      `/api/admin/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(deliveryId)}/retry`,
    );
  }

  // --- admin: statistics ---

  statsSummary(): Promise<StatsSummary> {
    return this.json("GET", "/api/admin/stats/summary");
  }
  salesStats(params: { created_from?: string; created_to?: string; interval: "hour" | "day"; tz?: string }): Promise<SalesStats> {
    return this.json("GET", `/api/admin/stats/sales${query(params)}`);
  }
  /** `POST /api/auth/password`: 204 and fresh session cookies. */
  async changePassword(current_password: string, new_password: string): Promise<void> {
    await this.request("POST", "/api/auth/password", { body: { current_password, new_password } });
    this.csrfToken = null;
  }

  // --- admin: products ---

  listAdminProducts(params: PageQuery & { q?: string; include_archived?: boolean } = {}): Promise<Page<Product>> {
    return this.json(
      "GET",
      `/api/admin/products${query({
        limit: params.limit,
        cursor: params.cursor,
        q: params.q,
        include_archived: params.include_archived ? "true" : undefined,
      })}`,
    );
  }
  createProduct(input: ProductInput): Promise<Product> {
    return this.json("POST", "/api/admin/products", input);
  }
  updateProduct(id: number, patch: ProductPatch): Promise<Product> {
    return this.json("PATCH", `/api/admin/products/${id}`, patch);
  }
  async archiveProduct(id: number): Promise<void> {
    await this.request("DELETE", `/api/admin/products/${id}`);
  }
}

export function adminOrderQuery(filters: AdminOrderFilters & PageQuery): string {
  return query({
    status: filters.status,
    user_id: filters.user_id,
    email: filters.email,
    created_from: filters.created_from,
    created_to: filters.created_to,
    min_total: filters.min_total,
    max_total: filters.max_total,
    limit: filters.limit,
    cursor: filters.cursor,
  });
}

/**
 * Cursor paging: yields every page of a list, following `next_cursor` until it is null.
 * `maxPages` bounds the walk.
 */
export async function* allPages<T>(
  fetchPage: (cursor: string | null) => Promise<Page<T>>,
  maxPages = 1000,
): AsyncGenerator<T[], void, void> {
  let cursor: string | null = null;
  for (let n = 0; n < maxPages; n++) {
    const page: Page<T> = await fetchPage(cursor);
    yield page.items;
    if (!page.next_cursor) return;
    cursor = page.next_cursor;
  }
}

/** The shared client of the browser app. */
export const api = new ApiClient();
