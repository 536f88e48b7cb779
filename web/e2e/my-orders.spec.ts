import { expect, expectAccessible, orderBody, shot, test, unique } from "./fixtures";

test.describe("my orders", () => {
  test("lists the customer's orders, newest first, and filters by status", async ({ customer, adminApi }) => {
    const { page, api } = customer;
    const mug = await adminApi.createProduct({ name: "Enamel Mug", description: null, price: 1250, stock_quantity: 20, sku: unique("MUG") });
    // Two fulfilled orders, then a declined one (cancelled).
    const first = await api.placePaidOrder(mug.id);
    const second = await api.placePaidOrder(mug.id, 2);
    await adminApi.setOrderStatus(first.id, "FULFILLED");
    await adminApi.setOrderStatus(second.id, "FULFILLED");
    const declined = await api.placeOrder(orderBody(mug.id, 1, "tok_chargeDeclined"));
    expect(declined.status, JSON.stringify(declined.body)).toBe(402);
    const declinedId = (declined.body as unknown as { order_id: string }).order_id;

    await page.goto("/orders");
    await expect(page.locator(`a[href="/orders/${first.id}"]`)).toBeVisible();
    const rows = page.locator("tbody tr");
    await expect(rows, "two fulfilled, one declined").toHaveCount(3);
    const links = await rows.locator("a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    expect(links, "newest first").toEqual([`/orders/${declinedId}`, `/orders/${second.id}`, `/orders/${first.id}`]);
    await expect(rows.first()).toContainText("CANCELLED");
    await expectAccessible(page, "/orders");
    await shot(page, "my-orders");

    await page.getByLabel("Status").selectOption("FULFILLED");
    await expect(rows).toHaveCount(2);
    await expect(page.locator(`a[href="/orders/${declinedId}"]`)).toHaveCount(0);
  });
});
