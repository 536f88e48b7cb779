/**
 * What every browser spec shares: the servers scripts/web-e2e.sh started (from the environment), API
 * helpers that set data up with Bearer tokens (no browser), signed-in pages for a fresh customer and
 * for the admin, the accessibility check and the screenshots the issue notes use.
 *
 * Every spec makes its own data (unique emails and SKUs, see `unique`), so specs are independent and
 * run in any order.
 */
import AxeBuilder from "@axe-core/playwright";
import { test as base, expect, type APIRequestContext, type Browser, type BrowserContext, type Page } from "@playwright/test";
import { randomBytes } from "node:crypto";
import { join } from "node:path";

export { expect };

export const WEB_URL = process.env.WEB_URL ?? "";
export const API_URL = process.env.API_URL ?? "";
export const ADMIN_EMAIL = process.env.ADMIN_EMAIL ?? "";
export const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD ?? "";
/** web/e2e/screenshots: the pictures the project's notes use (out of git), written on every run. */
export const SHOTS = join(__dirname, "screenshots");
/** The bound of every explicit wait that is not an expect or an action (those have their own). */
export const WAIT = 15_000;
/** A phone (390 × 844, touch), for browser.newContext(). */
export const PHONE = { baseURL: WEB_URL, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } as const;
export const CART_KEY = "oms.cart.v1";

/** A tag for names, emails and SKUs that no other test (or run on the same database) uses. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

// --- the API (Bearer tokens, no browser) ----------------------------------------------------------

export type Product = {
  id: number;
  sku: string;
  name: string;
  description: string | null;
  price: number;
  stock_quantity: number;
  image_url?: string | null;
};
export type NewProduct = Omit<Product, "id" | "image_url"> & { image_url?: string };
export type Order = { id: string; status: string; total_amount: number; email?: string };
export type OrderBody = {
  items: { product_id: number; quantity: number }[];
  shipping_address: { name: string; line1: string; city: string; country: string };
  payment: { token: string };
};

/** The oms server's API as one user (a Bearer token from POST /api/auth/token). */
export class Api {
  private constructor(
    private readonly request: APIRequestContext,
    private readonly token: string,
    private readonly base: string,
  ) {}

  /** Signs in at `base` (API_URL unless another server's, e.g. the Stripe stack's). */
  static async signIn(request: APIRequestContext, email: string, password: string, base = API_URL): Promise<Api> {
    const r = await request.post(`${base}/api/auth/token`, { data: { email, password } });
    expect(r.status(), `POST /api/auth/token for ${email}: ${await r.text()}`).toBe(200);
    return new Api(request, (await r.json()).access_token, base);
  }

  private headers(extra: Record<string, string> = {}) {
    return { Authorization: `Bearer ${this.token}`, ...extra };
  }

  async createProduct(product: NewProduct): Promise<Product> {
    const r = await this.request.post(`${this.base}/api/admin/products`, { headers: this.headers(), data: product });
    expect(r.status(), `POST /api/admin/products ${product.sku}: ${await r.text()}`).toBe(201);
    return r.json();
  }

  async changeStock(id: number, delta: number): Promise<void> {
    const r = await this.request.patch(`${this.base}/api/admin/products/${id}`, { headers: this.headers(), data: { stock_delta: delta } });
    expect(r.status(), `PATCH /api/admin/products/${id}: ${await r.text()}`).toBe(200);
  }

  async productStock(id: number): Promise<number> {
    const r = await this.request.get(`${this.base}/api/products/${id}`);
    expect(r.status(), `GET /api/products/${id}`).toBe(200);
    return (await r.json()).stock_quantity;
  }

  async searchProducts(q: string): Promise<Product[]> {
    const r = await this.request.get(`${this.base}/api/products?q=${encodeURIComponent(q)}`);
    expect(r.status(), `GET /api/products?q=${q}`).toBe(200);
    return (await r.json()).items;
  }

  /** POST /api/orders; answers the status and the body (an order, or a problem). */
  async placeOrder(body: OrderBody, idempotencyKey = unique("key")): Promise<{ status: number; body: Order & { code?: string } }> {
    const r = await this.request.post(`${this.base}/api/orders`, { headers: this.headers({ "Idempotency-Key": idempotencyKey }), data: body });
    return { status: r.status(), body: await r.json() };
  }

  /** A paid order of `quantity` of the product, shipped to the US (no tax). */
  async placePaidOrder(productId: number, quantity = 1): Promise<Order> {
    const placed = await this.placeOrder(orderBody(productId, quantity));
    expect(placed.status, `POST /api/orders: ${JSON.stringify(placed.body)}`).toBe(201);
    return placed.body;
  }

  /** GET /api/admin/orders with a query string (admin): the first page's items. */
  async adminOrders(query: string): Promise<Order[]> {
    const r = await this.request.get(`${this.base}/api/admin/orders?${query}`, { headers: this.headers() });
    expect(r.status(), `GET /api/admin/orders?${query}`).toBe(200);
    return (await r.json()).items;
  }

  /** GET /api/orders/{id} (its owner or an admin). */
  async order(id: string): Promise<Order & { payment_status: string }> {
    const r = await this.request.get(`${this.base}/api/orders/${id}`, { headers: this.headers() });
    expect(r.status(), `GET /api/orders/${id}`).toBe(200);
    return r.json();
  }

  async setOrderStatus(id: string, status: string): Promise<void> {
    const r = await this.request.patch(`${this.base}/api/admin/orders/${id}/status`, { headers: this.headers(), data: { status } });
    expect(r.status(), `PATCH /api/admin/orders/${id}/status ${status}: ${await r.text()}`).toBe(200);
  }
}

export function orderBody(productId: number, quantity = 1, token = "tok_visa"): OrderBody {
  return {
    items: [{ product_id: productId, quantity }],
    shipping_address: { name: "Grace Hopper", line1: "1 Navy Way", city: "Arlington", country: "US" },
    payment: { token },
  };
}

/** A customer made for one test: signed in in `page` (session cookies) and through `api` (Bearer). */
export type Customer = { email: string; password: string; page: Page; context: BrowserContext; api: Api };

/**
 * Registers a fresh customer through the web app's origin (so the session cookies land in the
 * context) and answers them signed in.
 */
export async function newCustomer(
  browser: Browser,
  request: APIRequestContext,
  options: Parameters<Browser["newContext"]>[0] = {},
  apiUrl = API_URL,
): Promise<Customer> {
  const context = await browser.newContext({ baseURL: WEB_URL, ...options });
  const page = await context.newPage();
  const email = `${unique("shopper")}@example.com`;
  const password = "correct-horse-battery";
  const r = await context.request.post(`${options.baseURL ?? WEB_URL}/api/auth/register`, { data: { email, password } });
  expect(r.status(), `POST /api/auth/register ${email}: ${await r.text()}`).toBe(201);
  return { email, password, page, context, api: await Api.signIn(request, email, password, apiUrl) };
}

/** A page signed in as the admin (session cookies from POST /api/auth/login). */
export async function newAdminPage(browser: Browser, options: Parameters<Browser["newContext"]>[0] = {}): Promise<Page> {
  const context = await browser.newContext({ baseURL: WEB_URL, viewport: { width: 1400, height: 900 }, ...options });
  const r = await context.request.post(`${WEB_URL}/api/auth/login`, { data: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD } });
  expect(r.status(), `POST /api/auth/login (admin): ${await r.text()}`).toBe(200);
  return context.newPage();
}

type TestFixtures = {
  /** A fresh customer, signed in, with their own browser context (desktop size). */
  customer: Customer;
  /** The admin, signed in, in a browser context of its own (1400 × 900). */
  adminPage: Page;
};
type WorkerFixtures = {
  /** The API as the admin. */
  adminApi: Api;
};

export const test = base.extend<TestFixtures, WorkerFixtures>({
  adminApi: [
    async ({ playwright }, use) => {
      const request = await playwright.request.newContext({ timeout: WAIT });
      await use(await Api.signIn(request, ADMIN_EMAIL, ADMIN_PASSWORD));
      await request.dispose();
    },
    { scope: "worker" },
  ],
  customer: async ({ browser, request }, use) => {
    const customer = await newCustomer(browser, request);
    logPageErrors(customer.page, "customer");
    await use(customer);
    await customer.context.close();
  },
  adminPage: async ({ browser }, use) => {
    const page = await newAdminPage(browser);
    logPageErrors(page, "admin");
    await use(page);
    await page.context().close();
  },
});

export function logPageErrors(page: Page, who: string): void {
  page.on("pageerror", (e) => console.log(`  [${who} page error] ${e.message}`));
}

// --- the browser ------------------------------------------------------------------------------

/** A full-page screenshot, always written to web/e2e/screenshots/<name>.png (stable names). */
export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/**
 * Runs axe on the page as it is now and fails on any serious or critical violation, listing each
 * with the elements concerned. `exclude`: selectors of parts that are not the app's own (e.g. a
 * test double's markup standing in for a third party's frame).
 */
export async function expectAccessible(page: Page, what = page.url(), exclude: string[] = []): Promise<void> {
  let axe = new AxeBuilder({ page });
  for (const selector of exclude) axe = axe.exclude(selector);
  const results = await axe.analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const report = bad
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} (${v.helpUrl})\n` +
        v.nodes.map((n) => `    ${n.target.join(" ")}\n      ${(n.failureSummary ?? "").replace(/\n/g, "\n      ")}`).join("\n"),
    )
    .join("\n");
  expect(bad.length, `accessibility violations on ${what}:\n${report}`).toBe(0);
}

export async function signUp(page: Page, email: string, password: string): Promise<void> {
  await page.goto("/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create an account" }).click();
  await expect(page.getByTestId("signed-in-as").filter({ hasText: email })).toBeVisible();
}

export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-as").filter({ hasText: email })).toBeVisible();
}

export async function clearCart(page: Page): Promise<void> {
  await page.evaluate((key) => localStorage.removeItem(key), CART_KEY);
}

/** Finds the product in the catalogue (search by SKU) and adds it to the cart. */
export async function addToCart(page: Page, sku: string): Promise<void> {
  await page.goto("/");
  await page.getByLabel("Search by name or SKU").fill(sku);
  await page.getByRole("button", { name: "Search", exact: true }).click();
  const card = page.getByTestId(`product-${sku}`);
  await card.getByRole("button", { name: /Add .* to cart/ }).click();
  await expect(page.getByRole("status").filter({ hasText: /^Added .* to your cart\.$/ })).toBeVisible();
}

/** Opens the checkout and fills the address (GB) and the payment token. */
export async function fillCheckout(page: Page, token: string): Promise<void> {
  await page.goto("/checkout");
  await page.getByLabel("Full name").fill("Ada Lovelace");
  await page.getByLabel("Address line 1").fill("1 Main St");
  await page.getByLabel("City").fill("London");
  await page.getByLabel("Postal code (optional)").fill("N1 9GU");
  await page.getByLabel("Country").selectOption("GB");
  await page.getByLabel("Test payment token").fill(token);
}

/** How far the page scrolls sideways (0 or less: it fits the viewport). */
export async function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** The id of the order whose page is open (/orders/<uuid>). */
export function orderIdOf(page: Page): string {
  const m = page.url().match(/\/orders\/([0-9a-f-]{36})/);
  expect(m, `not an order page: ${page.url()}`).not.toBeNull();
  return m![1];
}
