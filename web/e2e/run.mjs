// End-to-end test of the web app in a real browser (Debian chromium driven by playwright-core),
// against a real `oms serve` and the Next.js production server. Started by scripts/web-e2e.sh,
// which provides:
//   WEB_URL     the Next.js server (e.g. http://127.0.0.1:3100)
//   API_URL     the oms server, for setting up data through the admin API (Bearer token)
//   ADMIN_EMAIL, ADMIN_PASSWORD   the admin created with `oms create-admin`
//   CHROMIUM    the browser executable (default /usr/bin/chromium)
// Screenshots go to web/e2e/screenshots/. Prints one line per check and ends with
// "N passed, N failed"; exits non-zero on any failure. Every wait is bounded.
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const SHOTS = join(HERE, "screenshots");
const WEB = required("WEB_URL");
const API = required("API_URL");
const ADMIN_EMAIL = required("ADMIN_EMAIL");
const ADMIN_PASSWORD = required("ADMIN_PASSWORD");
const WAIT = 15_000;

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`e2e: ${name} is not set (run scripts/web-e2e.sh)`);
    process.exit(2);
  }
  return v;
}

let passed = 0;
let failed = 0;
const figures = [];

async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`PASS ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}: ${error instanceof Error ? error.stack ?? error.message : error}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

// --- setup through the API (admin Bearer token, no browser) ---------------------------------

async function adminToken() {
  const r = await fetch(`${API}/api/auth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
  });
  assert(r.status === 200, `POST /api/auth/token answered ${r.status}`);
  return (await r.json()).access_token;
}

async function createProduct(token, product) {
  const r = await fetch(`${API}/api/admin/products`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify(product),
  });
  const text = await r.text();
  assert(r.status === 201, `POST /api/admin/products ${product.sku} answered ${r.status}: ${text}`);
  return JSON.parse(text);
}

async function productStock(id) {
  const r = await fetch(`${API}/api/products/${id}`);
  assert(r.status === 200, `GET /api/products/${id} answered ${r.status}`);
  return (await r.json()).stock_quantity;
}

// --- browser helpers ----------------------------------------------------------------------------

const LAUNCH_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

async function signUp(page, email, password) {
  await page.goto(`${WEB}/signup`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByTestId("signed-in-as").filter({ hasText: email }).waitFor({ timeout: WAIT });
}

async function signIn(page, email, password) {
  await page.goto(`${WEB}/signin`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("signed-in-as").filter({ hasText: email }).waitFor({ timeout: WAIT });
}

async function addToCart(page, sku) {
  await page.goto(`${WEB}/`);
  await page.getByLabel("Search by name or SKU").fill(sku);
  await page.getByRole("button", { name: "Search", exact: true }).click();
  const card = page.getByTestId(`product-${sku}`);
  await card.waitFor({ timeout: WAIT });
  await card.getByRole("button", { name: /Add .* to cart/ }).click();
}

async function fillCheckout(page, token) {
  await page.goto(`${WEB}/checkout`);
  await page.getByLabel("Full name").fill("Ada Lovelace");
  await page.getByLabel("Address line 1").fill("1 Main St");
  await page.getByLabel("City").fill("London");
  await page.getByLabel("Postal code (optional)").fill("N1 9GU");
  await page.getByLabel("Country").selectOption("GB");
  await page.getByLabel("Test payment token").fill(token);
}

/** Sums the JS a fresh visitor downloads for one route (raw and gzip bytes). */
async function firstLoadJs(browser, path) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const bodies = [];
  page.on("response", async (response) => {
    if (/\/_next\/static\/.*\.js(\?|$)/.test(response.url())) {
      bodies.push(response.body().catch(() => Buffer.alloc(0)));
    }
  });
  await page.goto(`${WEB}${path}`, { waitUntil: "load" });
  await page.waitForTimeout(1000); // late chunks (prefetches are not counted: they load after this)
  const all = await Promise.all(bodies);
  await context.close();
  return {
    path,
    raw: all.reduce((n, b) => n + b.length, 0),
    gzip: all.reduce((n, b) => n + gzipSync(b).length, 0),
    files: all.length,
  };
}

// --- the run ------------------------------------------------------------------------------------

async function main() {
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  const run = Date.now().toString(36);
  const token = await adminToken();
  const mug = await createProduct(token, { name: "Enamel Mug", description: "Speckled blue, 350 ml.", price: 1250, stock_quantity: 20, sku: `MUG-${run}` });
  const lamp = await createProduct(token, { name: "Desk Lamp", description: "Warm LED, brass arm.", price: 4200, stock_quantity: 5, sku: `LAMP-${run}` });
  const daypack = await createProduct(token, {
    name: "Trail Daypack",
    description: "20 litres.\nPadded straps.",
    price: 9900,
    stock_quantity: 8,
    sku: `BAG-${run}`,
    image_url: "/images/bag-bkp-20.svg",
  });
  for (let i = 1; i <= 11; i++) {
    await createProduct(token, { name: `Notebook ${i}`, description: null, price: 300 + i * 25, stock_quantity: 50, sku: `NB-${run}-${i}` });
  }

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: LAUNCH_ARGS,
    timeout: 30_000,
  });
  const customerCtx = await browser.newContext({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  const adminCtx = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  customerCtx.setDefaultTimeout(WAIT);
  adminCtx.setDefaultTimeout(WAIT);
  const customer = await customerCtx.newPage();
  const admin = await adminCtx.newPage();
  for (const [who, page] of [["customer", customer], ["admin", admin]]) {
    page.on("pageerror", (e) => console.log(`  [${who} page error] ${e.message}`));
  }
  const email = `shopper-${run}@example.com`;
  const password = "correct-horse-battery";
  let orderId = null;

  await check("customer signs up; the catalogue pages by cursor and searches", async () => {
    await signUp(customer, email, password);
    await customer.goto(`${WEB}/`);
    await customer.getByRole("list", { name: "Products" }).waitFor();
    const firstPage = await customer.locator("[data-testid^=product-]").count();
    assert(firstPage === 12, `first catalogue page shows ${firstPage} products, expected 12`);
    await shot(customer, "catalogue");
    await customer.getByRole("button", { name: "Next →" }).click();
    await customer.getByText("Page 2").waitFor();
    await customer.locator("[data-testid^=product-]").first().waitFor();
    const second = await customer.locator("[data-testid^=product-]").count();
    assert(second >= 2, `second page shows ${second} products`);
    await customer.getByRole("button", { name: "← Previous" }).click();
    await customer.getByText("Page 1").waitFor();
  });

  await check("customer orders (tok_visa) and the order page is PAID and live", async () => {
    await addToCart(customer, mug.sku);
    await customer.goto(`${WEB}/cart`);
    await customer.getByRole("cell", { name: "Enamel Mug", exact: true }).waitFor();
    await shot(customer, "cart");
    await fillCheckout(customer, "tok_visa");
    // The quote (POST /api/orders/quote) is shown before placing: one mug at $12.50, flat shipping
    // $5.00 under the free-shipping threshold, GB tax 20 % (TAX_RATES in scripts/web-e2e.sh) of both.
    const quote = customer.getByTestId("quote");
    await quote.getByTestId("quote-total").filter({ hasText: "$21.00" }).waitFor();
    assert((await quote.getByTestId("quote-subtotal").textContent()) === "$12.50", "quote subtotal");
    assert((await quote.getByTestId("quote-shipping").textContent()) === "$5.00", "quote shipping");
    assert((await quote.getByTestId("quote-tax").textContent()) === "$3.50", "quote tax");
    // Another country re-prices it (no tax outside GB and DE here), and back.
    await customer.getByLabel("Country").selectOption("US");
    await quote.getByTestId("quote-total").filter({ hasText: "$17.50" }).waitFor();
    await customer.getByLabel("Country").selectOption("GB");
    await quote.getByTestId("quote-total").filter({ hasText: "$21.00" }).waitFor();
    const quotedTotal = await quote.getByTestId("quote-total").textContent();
    await shot(customer, "checkout");
    // A double click must make one order (one Idempotency-Key, one request in flight).
    await customer.getByTestId("place-order").dblclick();
    await customer.waitForURL(/\/orders\/[0-9a-f-]{36}/, { timeout: WAIT });
    orderId = customer.url().match(/\/orders\/([0-9a-f-]{36})/)[1];
    await customer.getByTestId("order-status").filter({ hasText: "PAID" }).waitFor();
    const placedTotal = await customer.getByTestId("order-total").textContent();
    assert(placedTotal === quotedTotal, `the order's total ${placedTotal} differs from the quote's ${quotedTotal}`);
    await customer.locator('[data-testid=live-state][data-state=live]').waitFor();
    const r = await fetch(`${API}/api/admin/orders?email=${encodeURIComponent(email)}`, { headers: { Authorization: `Bearer ${token}` } });
    const mine = (await r.json()).items;
    assert(mine.length === 1, `the double click made ${mine.length} orders`);
    assert((await productStock(mug.id)) === 19, "stock of the mug is not 19 after ordering one");
  });

  await check("storefront: cards with pictures (alt text) or a placeholder, sorting, SKUs for admins only, the product page", async () => {
    await customer.goto(`${WEB}/`);
    const card = customer.getByTestId(`product-${daypack.sku}`);
    const img = card.getByRole("img", { name: "Trail Daypack" });
    await img.waitFor();
    assert((await img.getAttribute("src")) === "/images/bag-bkp-20.svg", `src ${await img.getAttribute("src")}`);
    await customer.waitForFunction((sku) => {
      const el = document.querySelector(`[data-testid="product-${sku}"] img`);
      return el instanceof HTMLImageElement && el.complete && el.naturalWidth > 0;
    }, daypack.sku);
    await customer.getByTestId(`product-${mug.sku}`).getByTestId("picture-none").waitFor();
    assert((await customer.locator("[data-testid=sku]").count()) === 0, "a customer sees SKUs");
    // Sorting: by price, highest first, then by name.
    await customer.getByLabel("Sort by").selectOption("price-desc");
    await customer.getByText("Page 1 of").waitFor();
    const prices = await customer.locator("[data-testid^=product-] [data-testid=price]").allTextContents();
    const cents = prices.map((p) => Math.round(Number(p.replace(/[^0-9.]/g, "")) * 100));
    assert(cents[0] === 9900 && cents.every((c, i) => i === 0 || cents[i - 1] >= c), `not by price, highest first: ${prices}`);
    await customer.getByLabel("Sort by").selectOption("name");
    await customer.locator("[data-testid^=product-] h2").first().filter({ hasText: "Desk Lamp" }).waitFor();
    const names = await customer.locator("[data-testid^=product-] h2").allTextContents();
    assert(JSON.stringify(names) === JSON.stringify([...names].sort((a, b) => a.localeCompare(b, "en", { numeric: true, sensitivity: "base" }))), `not by name: ${names}`);
    // The product page (from the default order, where the daypack is on the first page).
    await customer.getByLabel("Sort by").selectOption("default");
    await card.getByRole("link", { name: "Trail Daypack" }).click();
    await customer.waitForURL(new RegExp(`/products/${daypack.id}$`));
    const page = customer.getByTestId("product-detail");
    await page.getByRole("heading", { name: "Trail Daypack" }).waitFor();
    await page.getByRole("img", { name: "Trail Daypack" }).waitFor();
    assert((await page.getByTestId("price").textContent()) === "$99.00", "price on the product page");
    assert((await page.getByTestId("stock").textContent()) === "8 in stock", "stock on the product page");
    await page.getByText("Padded straps.").waitFor();
    await page.getByRole("button", { name: "Add to cart" }).click();
    await page.getByText("In your cart: 1").waitFor();
    await shot(customer, "product-page");
    await customer.evaluate(() => localStorage.removeItem("oms.cart.v1"));
    // A missing product says so.
    await customer.goto(`${WEB}/products/999999999`);
    await customer.getByRole("heading", { name: "Product not found" }).waitFor();
    // Back to the order placed above: the next check follows it live from this page.
    await customer.goto(`${WEB}/orders/${orderId}`);
    await customer.getByTestId("order-status").filter({ hasText: "PAID" }).waitFor();
    await customer.locator("[data-testid=live-state][data-state=live]").waitFor();
  });

  let transports = {};
  await check("admin fulfils from the dashboard; the customer's page turns FULFILLED live", async () => {
    assert(orderId, "no order from the previous step");
    // A second customer tab forced onto the SSE fallback watches the same order.
    const sseTab = await customerCtx.newPage();
    await sseTab.goto(`${WEB}/orders/${orderId}?sse=1`);
    await sseTab.locator('[data-testid=live-state][data-state=live][data-transport=sse]').waitFor();
    transports.main = await customer.getByTestId("live-state").getAttribute("data-transport");

    await signIn(admin, ADMIN_EMAIL, ADMIN_PASSWORD);
    await admin.goto(`${WEB}/admin/orders`);
    await admin.locator('[data-testid=live-state][data-state=live]').waitFor();
    transports.admin = await admin.getByTestId("live-state").getAttribute("data-transport");
    const row = admin.getByTestId(`order-row-${orderId}`);
    await row.waitFor();
    const options = await row.getByTestId("status-select").locator("option").allTextContents();
    assert(JSON.stringify(options) === JSON.stringify(["Change status…", "FULFILLED", "CANCELLED"]), `offered ${options}`);
    await row.getByTestId("status-select").selectOption("FULFILLED");
    await row.getByLabel("Carrier").fill("DHL");
    await row.getByLabel("Tracking number").fill("JD0001234");
    await shot(admin, "admin-orders");

    const watch = () =>
      new Promise((resolve) => {
        const el = () => document.querySelector("[data-testid=order-status]");
        if (el()?.textContent === "FULFILLED") return resolve(Date.now());
        const observer = new MutationObserver(() => {
          if (el()?.textContent === "FULFILLED") {
            observer.disconnect();
            resolve(Date.now());
          }
        });
        observer.observe(document.body, { subtree: true, childList: true, characterData: true });
      });
    const seenWs = customer.evaluate(watch);
    const seenSse = sseTab.evaluate(watch);
    await admin.evaluate(() => {
      document.querySelector("[data-testid=status-apply]")?.addEventListener("click", () => (window.__clickAt = Date.now()), { once: true });
    });
    await row.getByTestId("status-apply").click();
    const [tWs, tSse] = await Promise.all([
      Promise.race([seenWs, new Promise((_, no) => setTimeout(() => no(new Error("no live FULFILLED on the WebSocket tab within 15 s")), WAIT))]),
      Promise.race([seenSse, new Promise((_, no) => setTimeout(() => no(new Error("no live FULFILLED on the SSE tab within 15 s")), WAIT))]),
    ]);
    const clickAt = await admin.evaluate(() => window.__clickAt);
    figures.push(`click-to-live-update (${transports.main}): ${tWs - clickAt} ms`);
    figures.push(`click-to-live-update (sse fallback tab): ${tSse - clickAt} ms`);
    await row.getByTestId("row-status").filter({ hasText: "FULFILLED" }).waitFor();
    await customer.getByTestId("tracking").filter({ hasText: "JD0001234" }).waitFor();
    await shot(customer, "order-fulfilled");
    await sseTab.close();
  });

  await check("the admin sees a new order live; after a dropped connection the order page resumes (since=) and misses no status", async () => {
    // The page's real-time connections go through Playwright's router, which can cut them.
    const page = await customerCtx.newPage();
    let blocked = false;
    let live = null;
    const wsUrls = [];
    const sseUrls = [];
    await page.routeWebSocket(/\/api\/ws/, (ws) => {
      wsUrls.push(ws.url());
      if (blocked) return void ws.close({ code: 4001, reason: "test: network down" });
      ws.connectToServer();
      live = ws;
    });
    await page.route(/\/api\/events/, (route) => {
      sseUrls.push(route.request().url());
      return blocked ? route.abort("internetdisconnected") : route.continue();
    });
    await page.goto(`${WEB}/`);
    await page.evaluate(() => localStorage.removeItem("oms.cart.v1"));
    await addToCart(page, mug.sku);
    await fillCheckout(page, "tok_visa");
    await page.getByTestId("place-order").click();
    await page.waitForURL(/\/orders\/[0-9a-f-]{36}/);
    const id = page.url().match(/\/orders\/([0-9a-f-]{36})/)[1];
    await page.getByTestId("order-status").filter({ hasText: "PAID" }).waitFor();
    // The admin's dashboard (still open, no filters) shows the new order live: a toast and a highlighted row.
    await admin.getByTestId("toasts").getByText(`Order #${id.slice(-8)}`).first().waitFor();
    await admin.locator(`tr.highlight[data-testid="order-row-${id}"]`).waitFor();
    await shot(admin, "admin-live-new-order");
    await page.locator("[data-testid=live-state][data-state=live][data-transport=websocket]").waitFor();
    // Wait until the page has seen an event of this order on the socket (so it has an id to resume from).
    await page.getByTestId("history").getByText("PENDING → PAID").waitFor();
    blocked = true;
    await live.close({ code: 4000, reason: "test: drop" });
    await page.locator("[data-testid=live-state]:not([data-state=live])").waitFor();
    // While the page is cut off, an admin fulfils the order.
    const r = await fetch(`${API}/api/admin/orders/${id}/status`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ status: "FULFILLED" }),
    });
    assert(r.status === 200, `PATCH status answered ${r.status}`);
    await page.waitForTimeout(300);
    assert((await page.getByTestId("order-status").textContent()) === "PAID", "the page changed while cut off");
    blocked = false;
    await page.getByTestId("order-status").filter({ hasText: "FULFILLED" }).waitFor();
    const resumed = [...wsUrls.slice(1), ...sseUrls].filter((u) => /since=\d+/.test(u));
    assert(resumed.length > 0, `no reconnect asked since=: ${JSON.stringify({ wsUrls, sseUrls })}`);
    figures.push(`resume after a drop: ${wsUrls.length} WebSocket and ${sseUrls.length} SSE connection attempts, last ${sseUrls.at(-1) ?? wsUrls.at(-1)}`);
    await page.close();
  });

  await check("a declined payment (tok_chargeDeclined) shows the decline and leaves stock unchanged", async () => {
    const before = await productStock(lamp.id);
    await customer.evaluate(() => localStorage.removeItem("oms.cart.v1"));
    await addToCart(customer, lamp.sku);
    // The last address is remembered on this device.
    await customer.goto(`${WEB}/checkout`);
    assert((await customer.getByLabel("Full name").inputValue()) === "Ada Lovelace", "the last address was not remembered");
    assert((await customer.getByLabel("Country").inputValue()) === "GB", "the last country was not remembered");
    await fillCheckout(customer, "tok_chargeDeclined");
    await customer.getByTestId("place-order").click();
    await customer.getByTestId("payment-declined").waitFor();
    await shot(customer, "checkout-declined");
    assert(/\/checkout$/.test(customer.url()), "left the checkout page after a decline");
    assert((await productStock(lamp.id)) === before, `stock changed from ${before}`);
    await customer.goto(`${WEB}/`);
    await customer.getByLabel("Search by name or SKU").fill(lamp.sku);
    await customer.getByRole("button", { name: "Search", exact: true }).click();
    await customer.getByTestId(`product-${lamp.sku}`).getByTestId("stock").filter({ hasText: `${before} in stock` }).waitFor();
  });

  await check("the cart's quantity control: -3, Backspace then 3, over the stock, remove and undo", async () => {
    await customer.evaluate(() => localStorage.removeItem("oms.cart.v1"));
    await addToCart(customer, mug.sku);
    await addToCart(customer, lamp.sku);
    await customer.goto(`${WEB}/cart`);
    const qty = customer.getByRole("textbox", { name: "Quantity of Desk Lamp" });
    const lampLine = customer.getByTestId(`cart-line-${lamp.id}`);
    await qty.waitFor();
    // -3 is clamped to 1 on blur: the line stays.
    await qty.fill("-3");
    await qty.blur();
    assert((await qty.inputValue()) === "1", `-3 became ${await qty.inputValue()}`);
    // An empty field keeps the last valid quantity.
    await qty.fill("");
    await qty.blur();
    assert((await qty.inputValue()) === "1", `empty became ${await qty.inputValue()}`);
    // Backspace then 3 gives 3, not 13.
    await qty.click();
    await qty.press("End");
    await qty.press("Backspace");
    await qty.press("3");
    await lampLine.getByTestId("line-total").filter({ hasText: "$126.00" }).waitFor();
    await qty.blur();
    assert((await qty.inputValue()) === "3", `Backspace then 3 gave ${await qty.inputValue()}`);
    // More than the stock (5) is clamped to it.
    await qty.fill("9");
    await qty.blur();
    assert((await qty.inputValue()) === "5", `9 became ${await qty.inputValue()} (stock 5)`);
    // Remove the first line, then undo: it comes back first, with its quantity, and focus returns to it.
    const linesBefore = await customer.locator("[data-testid^=cart-line-]").evaluateAll((rows) => rows.map((r) => r.dataset.testid));
    await customer.getByRole("button", { name: "Remove Enamel Mug" }).click();
    await customer.getByTestId("undo-row").filter({ hasText: "Removed Enamel Mug" }).waitFor();
    assert((await customer.locator("[data-testid^=cart-line-]").count()) === 1, "the mug's line is still there");
    assert(await customer.getByTestId("undo-remove").evaluate((b) => b === document.activeElement), "focus is not on Undo");
    await shot(customer, "cart-undo");
    await customer.getByTestId("undo-remove").click();
    await customer.getByTestId(`cart-line-${mug.id}`).waitFor();
    const linesAfter = await customer.locator("[data-testid^=cart-line-]").evaluateAll((rows) => rows.map((r) => r.dataset.testid));
    assert(JSON.stringify(linesAfter) === JSON.stringify(linesBefore), `order after undo ${linesAfter} != ${linesBefore}`);
    const mugQty = customer.getByRole("textbox", { name: "Quantity of Enamel Mug" });
    await customer.waitForFunction(() => document.activeElement?.id?.startsWith("qty-"));
    assert(await mugQty.evaluate((i) => i === document.activeElement), "focus did not return to the restored line");
    assert((await qty.inputValue()) === "5", "the lamp's quantity changed");
  });

  await check("insufficient stock is shown by the quote before placing, with what is available", async () => {
    // The cart holds all 5 lamps (previous check); then the stock drops to 3.
    const r = await fetch(`${API}/api/admin/products/${lamp.id}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ stock_delta: -2 }),
    });
    assert(r.status === 200, `PATCH stock answered ${r.status}`);
    await fillCheckout(customer, "tok_visa");
    await customer.getByTestId("insufficient-stock").filter({ hasText: "only 3 available" }).waitFor();
    await shot(customer, "checkout-insufficient-stock");
    await customer.evaluate(() => localStorage.removeItem("oms.cart.v1"));
  });

  await check("my orders lists the orders, newest first", async () => {
    await customer.goto(`${WEB}/orders`);
    await customer.locator(`a[href="/orders/${orderId}"]`).waitFor();
    const rows = await customer.locator("tbody tr").count();
    assert(rows === 3, `my orders shows ${rows} rows, expected 3 (two fulfilled, one declined)`);
    await shot(customer, "my-orders");
  });

  await check("admin exports CSV with the current filters", async () => {
    await admin.goto(`${WEB}/admin/orders`);
    await admin.getByLabel("Customer email").fill(email);
    await admin.getByRole("checkbox", { name: "FULFILLED" }).check();
    await admin.getByRole("button", { name: "Apply filters" }).click();
    await admin.getByTestId(`order-row-${orderId}`).waitFor();
    const expected = (
      await (await fetch(`${API}/api/admin/orders?status=FULFILLED&email=${encodeURIComponent(email)}`, { headers: { Authorization: `Bearer ${token}` } })).json()
    ).items.length;
    assert((await admin.locator("tbody tr").count()) === expected, `the filtered table should hold ${expected} orders`);
    const [download] = await Promise.all([admin.waitForEvent("download", { timeout: WAIT }), admin.getByTestId("export-csv").click()]);
    assert(/^orders-\d{8}\.csv$/.test(download.suggestedFilename()), `file name ${download.suggestedFilename()}`);
    const text = readFileSync(await download.path(), "utf8");
    const lines = text.split("\n");
    assert(
      lines[0] ===
        "id,user_id,email,status,payment_status,subtotal,shipping_amount,tax_amount,total_amount,currency,payment_collected,item_count,shipping_name,shipping_city,shipping_country,created_at,updated_at",
      `header row: ${lines[0]}`,
    );
    assert(lines.length === expected + 2 && lines.at(-1) === "", `expected ${expected} data rows, got ${lines.length - 2}`);
    const row = lines.find((l) => l.startsWith(`${orderId},`));
    assert(row && row.includes(",FULFILLED,") && row.includes(`,${email},`), `row: ${row}`);
    assert(lines.slice(1, -1).every((l) => l.includes(",FULFILLED,")), "a row that is not FULFILLED");
  });

  await check("admin manages products: create, stock delta, archive and un-archive", async () => {
    await admin.goto(`${WEB}/admin/products`);
    await admin.getByText("New product").click();
    const sku = `POSTER-${run}`;
    await admin.getByLabel("Name", { exact: true }).fill("Gallery Poster");
    await admin.getByLabel("SKU", { exact: true }).fill(sku);
    await admin.getByLabel("Price ($)", { exact: true }).fill("19.90");
    await admin.getByLabel("Stock", { exact: true }).fill("3");
    await admin.getByLabel("Picture URL (optional)").fill("/images/bag-tote-cn.svg");
    await admin.getByRole("button", { name: "Create product" }).click();
    await admin.getByText(`Created Gallery Poster (${sku}).`).waitFor();
    const made = await (await fetch(`${API}/api/products?q=${sku}`)).json();
    assert(made.items[0]?.image_url === "/images/bag-tote-cn.svg", `image_url ${made.items[0]?.image_url}`);
    await admin.getByLabel("Search by name or SKU").fill(sku);
    await admin.getByRole("button", { name: "Search", exact: true }).click();
    const row = admin.getByTestId(`admin-product-${sku}`);
    await row.waitFor();
    await row.getByLabel(/Stock change for/).fill("7");
    await row.getByRole("button", { name: "Apply stock change" }).click();
    await row.getByTestId("admin-stock").filter({ hasText: /^10$/ }).waitFor();
    await row.getByRole("button", { name: "Archive" }).click();
    await admin.getByTestId("confirm-dialog").getByRole("button", { name: "Archive" }).click();
    await row.getByRole("button", { name: "Un-archive" }).waitFor();
    await shot(admin, "admin-products");
    await row.getByRole("button", { name: "Un-archive" }).click();
    await row.getByRole("button", { name: "Archive" }).waitFor();
  });

  await check("the dashboard shows today's figures, orders by status and 30 days, and they change live after a placement", async () => {
    await admin.goto(`${WEB}/admin`);
    await admin.getByRole("heading", { name: "Dashboard" }).waitFor();
    await admin.locator("[data-testid=live-state][data-state=live]").waitFor();
    await admin.getByTestId("sales-chart").waitFor();
    const num = async (id) => Number((await admin.getByTestId(id).textContent()).replace(/[^0-9.-]/g, ""));
    const ordersBefore = await num("today-orders");
    const netBefore = await num("today-net");
    const paidBefore = await num("count-PAID");
    const totalBefore = await num("total-orders");
    const shipBefore = await num("units-to-ship");
    assert(ordersBefore >= 3, `today's orders ${ordersBefore}, expected the orders placed above`);
    // A placement through the API (the admin's own order, paid): the page hears its events and refetches.
    const r = await fetch(`${API}/api/orders`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}`, "Idempotency-Key": `dash-${run}` },
      body: JSON.stringify({
        items: [{ product_id: mug.id, quantity: 2 }],
        shipping_address: { name: "Grace Hopper", line1: "1 Navy Way", city: "Arlington", country: "US" },
        payment: { token: "tok_visa" },
      }),
    });
    const placed = await r.json();
    assert(r.status === 201, `POST /api/orders answered ${r.status}: ${JSON.stringify(placed)}`);
    await admin.getByTestId("today-orders").filter({ hasText: new RegExp(`^${ordersBefore + 1}$`) }).waitFor();
    await admin.waitForFunction(
      ([before, paid]) =>
        Number(document.querySelector("[data-testid=today-net]")?.textContent?.replace(/[^0-9.-]/g, "")) > before &&
        Number(document.querySelector("[data-testid=count-PAID]")?.textContent) === paid + 1,
      [netBefore, paidBefore],
    );
    const netAfter = await num("today-net");
    assert(Math.round((netAfter - netBefore) * 100) === placed.total_amount, `net grew by ${netAfter - netBefore}, the order is ${placed.total_amount} cents`);
    assert((await num("units-to-ship")) === shipBefore + 2, "units to ship did not grow by 2");
    assert((await num("total-orders")) === totalBefore + 1, "the 30-day table did not count the order");
    await shot(admin, "dashboard");
    // Admins see SKUs in the catalogue.
    await admin.goto(`${WEB}/`);
    await admin.getByTestId(`product-${mug.sku}`).getByTestId("sku").filter({ hasText: mug.sku }).waitFor();
  });

  await check("session expired: a 401 sends the customer back to sign-in", async () => {
    await customerCtx.clearCookies();
    await customer.goto(`${WEB}/orders/${orderId}`);
    // /me says nobody is signed in: straight to sign-in, remembering the page.
    await customer.waitForURL(/\/signin\?next=/, { timeout: WAIT });
    await signIn(customer, email, password);
    await customer.goto(`${WEB}/orders`);
    await customer.locator("tbody tr").first().waitFor();
    await customerCtx.clearCookies(); // the session is gone while the page is open
    await customer.getByLabel("Status").selectOption("FULFILLED");
    await customer.waitForURL(/\/signin\?expired=1/, { timeout: WAIT });
    await customer.getByTestId("session-expired").waitFor();
    await shot(customer, "session-expired");
  });

  await check("phone width: the catalogue, the checkout with its quote and the dashboard fit 390 px", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await phone.newPage();
    await page.goto(`${WEB}/`);
    await page.getByRole("list", { name: "Products" }).waitFor({ timeout: WAIT });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `the catalogue scrolls sideways by ${overflow} px`);
    await shot(page, "catalogue-phone");
    await phone.close();
    // The checkout with its quote, as a customer.
    const shopper = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    shopper.setDefaultTimeout(WAIT);
    const sp = await shopper.newPage();
    await signIn(sp, email, password);
    await addToCart(sp, lamp.sku);
    await fillCheckout(sp, "tok_visa");
    await sp.getByTestId("quote-total").waitFor();
    const overflowCheckout = await sp.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflowCheckout <= 0, `the checkout scrolls sideways by ${overflowCheckout} px`);
    await shot(sp, "checkout-phone");
    await shopper.close();
    // The dashboard, as the admin.
    const back = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    back.setDefaultTimeout(WAIT);
    const bp = await back.newPage();
    await signIn(bp, ADMIN_EMAIL, ADMIN_PASSWORD);
    await bp.goto(`${WEB}/admin`);
    await bp.getByTestId("sales-chart").waitFor();
    await bp.getByTestId("today-orders").waitFor();
    const overflowDash = await bp.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflowDash <= 0, `the dashboard scrolls sideways by ${overflowDash} px`);
    await shot(bp, "dashboard-phone");
    await back.close();
  });

  await check("account: a wrong current password is shown at its field; the new password signs in", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    ctx.setDefaultTimeout(WAIT);
    const page = await ctx.newPage();
    const who = `account-${run}@example.com`;
    await signUp(page, who, "first-password-1");
    await page.goto(`${WEB}/account`);
    await page.getByLabel("Current password").fill("not-my-password");
    await page.getByLabel("New password (8 to 128 characters)").fill("second-password-2");
    await page.getByLabel("New password again").fill("second-password-2");
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByText("This is not your current password.").waitFor();
    assert((await page.getByLabel("Current password").getAttribute("aria-invalid")) === "true", "the field is not marked invalid");
    await page.getByLabel("Current password").fill("first-password-1");
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByTestId("password-changed").waitFor();
    // The fresh session works for a write (its new CSRF token is in use).
    await page.getByLabel("Current password").fill("second-password-2");
    await page.getByLabel("New password (8 to 128 characters)").fill("third-password-3");
    await page.getByLabel("New password again").fill("third-password-3");
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByTestId("password-changed").waitFor();
    await ctx.clearCookies();
    await signIn(page, who, "third-password-3");
    await ctx.close();
  });

  await check("first-load JS per route", async () => {
    const sizes = [];
    for (const path of ["/", "/signin", "/cart", "/checkout", "/orders", `/orders/${orderId}`, `/products/${mug.id}`, "/account", "/admin", "/admin/orders", "/admin/products"]) {
      sizes.push(await firstLoadJs(browser, path));
    }
    sizes.sort((a, b) => b.gzip - a.gzip);
    for (const s of sizes) {
      console.log(`  ${s.path.padEnd(48)} ${(s.raw / 1024).toFixed(1)} kB raw, ${(s.gzip / 1024).toFixed(1)} kB gzip, ${s.files} files`);
    }
    figures.push(`largest first-load JS: ${sizes[0].path} ${(sizes[0].gzip / 1024).toFixed(1)} kB gzip (${(sizes[0].raw / 1024).toFixed(1)} kB raw)`);
  });

  await browser.close();
  console.log(`figures: live transports ${JSON.stringify(transports)}`);
  for (const f of figures) console.log(`figure: ${f}`);
  console.log(`screenshots: ${SHOTS}`);
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  console.log(`e2e: ${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
