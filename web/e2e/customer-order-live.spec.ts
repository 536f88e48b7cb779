import type { Page, WebSocketRoute } from "@playwright/test";
import { WAIT, addToCart, expect, expectAccessible, fillCheckout, orderIdOf, shot, test, unique } from "./fixtures";

/** Resolves with the time (page clock, ms) at which the page's order status reads `status`. */
function seenAt(page: Page, status: string, what: string): Promise<number> {
  const seen = page.evaluate(
    (wanted) =>
      new Promise<number>((resolve) => {
        const el = () => document.querySelector("[data-testid=order-status]");
        if (el()?.textContent === wanted) return resolve(Date.now());
        const observer = new MutationObserver(() => {
          if (el()?.textContent === wanted) {
            observer.disconnect();
            resolve(Date.now());
          }
        });
        observer.observe(document.body, { subtree: true, childList: true, characterData: true });
      }),
    status,
  );
  const late = new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`no live ${status} on ${what} within ${WAIT} ms`)), WAIT));
  return Promise.race([seen, late]);
}

test.describe("the customer's order page, live", () => {
  test("the admin fulfils from the orders list; the customer's page (WebSocket) and an SSE tab turn FULFILLED live, with the tracking", async ({
    customer,
    adminPage: admin,
    adminApi,
  }) => {
    const { page, context } = customer;
    const mug = await adminApi.createProduct({ name: "Enamel Mug", description: "Speckled blue, 350 ml.", price: 1250, stock_quantity: 20, sku: unique("MUG") });
    const order = await customer.api.placePaidOrder(mug.id);
    await page.goto(`/orders/${order.id}`);
    await expect(page.getByTestId("order-status")).toHaveText("PAID");
    await expect(page.locator("[data-testid=live-state][data-state=live]")).toBeVisible();
    await expectAccessible(page, `/orders/${order.id}`);
    // A second customer tab forced onto the SSE fallback watches the same order.
    const sseTab = await context.newPage();
    await sseTab.goto(`/orders/${order.id}?sse=1`);
    await expect(sseTab.locator("[data-testid=live-state][data-state=live][data-transport=sse]")).toBeVisible();
    const transport = await page.getByTestId("live-state").getAttribute("data-transport");

    await admin.goto("/admin/orders");
    await expect(admin.locator("[data-testid=live-state][data-state=live]")).toBeVisible();
    const adminTransport = await admin.getByTestId("live-state").getAttribute("data-transport");
    const row = admin.getByTestId(`order-row-${order.id}`);
    await expect(row).toBeVisible();
    await expect(row.getByTestId("status-select").locator("option")).toHaveText(["Change status…", "FULFILLED", "CANCELLED"]);
    await row.getByTestId("status-select").selectOption("FULFILLED");
    await row.getByLabel("Carrier").fill("DHL");
    await row.getByLabel("Tracking number").fill("JD0001234");
    await expectAccessible(admin, "/admin/orders (changing a status)");
    await shot(admin, "admin-orders");

    const seenWs = seenAt(page, "FULFILLED", "the WebSocket tab");
    const seenSse = seenAt(sseTab, "FULFILLED", "the SSE tab");
    await admin.evaluate(() => {
      document
        .querySelector("[data-testid=status-apply]")
        ?.addEventListener("click", () => ((window as unknown as { clickAt: number }).clickAt = Date.now()), { once: true });
    });
    await row.getByTestId("status-apply").click();
    const [tWs, tSse] = await Promise.all([seenWs, seenSse]);
    const clickAt = await admin.evaluate(() => (window as unknown as { clickAt: number }).clickAt);
    const figures = [
      `live transports: customer ${transport}, admin ${adminTransport}`,
      `click-to-live-update (${transport}): ${tWs - clickAt} ms`,
      `click-to-live-update (sse fallback tab): ${tSse - clickAt} ms`,
    ];
    for (const f of figures) {
      console.log(`figure: ${f}`);
      test.info().annotations.push({ type: "figure", description: f });
    }
    await expect(row.getByTestId("row-status")).toHaveText("FULFILLED");
    await expect(page.getByTestId("tracking")).toContainText("JD0001234");
    await expect(sseTab.getByTestId("tracking")).toContainText("JD0001234");
    await expectAccessible(page, `/orders/${order.id} (fulfilled)`);
    await shot(page, "order-fulfilled");
  });

  test("after a dropped connection the order page resumes (since=) and misses no status", async ({ customer, adminApi }) => {
    const { context } = customer;
    const mug = await adminApi.createProduct({ name: "Enamel Mug", description: null, price: 1250, stock_quantity: 20, sku: unique("MUG") });
    // The page's real-time connections go through Playwright's router, which can cut them.
    const page = await context.newPage();
    let blocked = false;
    let live: WebSocketRoute | null = null;
    const wsUrls: string[] = [];
    const sseUrls: string[] = [];
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
    await addToCart(page, mug.sku);
    await fillCheckout(page, "tok_visa");
    await page.getByTestId("place-order").click();
    await page.waitForURL(/\/orders\/[0-9a-f-]{36}/);
    const id = orderIdOf(page);
    await expect(page.getByTestId("order-status")).toHaveText("PAID");
    await expect(page.locator("[data-testid=live-state][data-state=live][data-transport=websocket]")).toBeVisible();
    // Wait until the page has seen an event of this order on the socket (so it has an id to resume from).
    await expect(page.getByTestId("history").getByText("PENDING → PAID")).toBeVisible();
    // Another tab, not cut off, watches the same order: it shows when the change has been published.
    const witness = await context.newPage();
    await witness.goto(`/orders/${id}`);
    await expect(witness.locator("[data-testid=live-state][data-state=live]")).toBeVisible();

    blocked = true;
    await live!.close({ code: 4000, reason: "test: drop" });
    await expect(page.locator("[data-testid=live-state]:not([data-state=live])")).toBeVisible();
    // While the page is cut off, an admin fulfils the order: the witness sees it, the page does not.
    await adminApi.setOrderStatus(id, "FULFILLED");
    await expect(witness.getByTestId("order-status")).toHaveText("FULFILLED");
    await expect(page.getByTestId("order-status"), "the page changed while cut off").toHaveText("PAID", { timeout: 1 });
    blocked = false;
    await expect(page.getByTestId("order-status")).toHaveText("FULFILLED");
    const resumed = [...wsUrls.slice(1), ...sseUrls].filter((u) => /since=\d+/.test(u));
    expect(resumed.length, `no reconnect asked since=: ${JSON.stringify({ wsUrls, sseUrls })}`).toBeGreaterThan(0);
    const figure = `resume after a drop: ${wsUrls.length} WebSocket and ${sseUrls.length} SSE connection attempts, last ${sseUrls.at(-1) ?? wsUrls.at(-1)}`;
    console.log(`figure: ${figure}`);
    test.info().annotations.push({ type: "figure", description: figure });
  });
});
