import { PHONE, expect, expectAccessible, newAdminPage, orderBody, shot, sidewaysOverflow, test, unique } from "./fixtures";

test.describe("the admin's dashboard", () => {
  test("shows today's figures, orders by status and 30 days, and they change live after a placement", async ({ customer, adminPage: admin, adminApi }) => {
    const mug = await adminApi.createProduct({ name: "Enamel Mug", description: null, price: 1250, stock_quantity: 50, sku: unique("MUG") });
    for (let i = 0; i < 3; i++) await customer.api.placePaidOrder(mug.id);

    await admin.goto("/admin");
    await expect(admin.getByRole("heading", { name: "Dashboard" })).toBeVisible();
    await expect(admin.locator("[data-testid=live-state][data-state=live]")).toBeVisible();
    await expect(admin.getByTestId("sales-chart")).toBeVisible();
    await expect(admin.getByTestId("today-orders")).toBeVisible();
    await expectAccessible(admin, "/admin");
    const num = async (id: string) => Number(((await admin.getByTestId(id).textContent()) ?? "").replace(/[^0-9.-]/g, ""));
    const ordersBefore = await num("today-orders");
    const netBefore = await num("today-net");
    const paidBefore = await num("count-PAID");
    const totalBefore = await num("total-orders");
    const shipBefore = await num("units-to-ship");
    expect(ordersBefore, "today's orders, with the three placed above").toBeGreaterThanOrEqual(3);

    // A placement through the API (the admin's own order, paid): the page hears its events and refetches.
    const placed = await adminApi.placeOrder(orderBody(mug.id, 2), unique("dash"));
    expect(placed.status, `POST /api/orders: ${JSON.stringify(placed.body)}`).toBe(201);
    await expect(admin.getByTestId("today-orders")).toHaveText(String(ordersBefore + 1));
    await expect(admin.getByTestId("count-PAID")).toHaveText(String(paidBefore + 1));
    await expect.poll(async () => Math.round(((await num("today-net")) - netBefore) * 100), "today's net grew by the order's total").toBe(placed.body.total_amount);
    await expect.poll(() => num("units-to-ship"), "units to ship grew by 2").toBe(shipBefore + 2);
    await expect.poll(() => num("total-orders"), "the 30-day table counts the order").toBe(totalBefore + 1);
    await expectAccessible(admin, "/admin (after a placement)");
    await shot(admin, "dashboard");
  });

  test("phone width: the dashboard fits 390 px", async ({ browser }) => {
    const page = await newAdminPage(browser, PHONE);
    await page.goto("/admin");
    await expect(page.getByTestId("sales-chart")).toBeVisible();
    await expect(page.getByTestId("today-orders")).toBeVisible();
    expect(await sidewaysOverflow(page), "the dashboard scrolls sideways").toBeLessThanOrEqual(0);
    await expectAccessible(page, "/admin (phone)");
    await shot(page, "dashboard-phone");
    await page.context().close();
  });
});
