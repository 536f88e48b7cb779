import { readFileSync } from "node:fs";
import { expect, expectAccessible, shot, test, unique } from "./fixtures";

test.describe("the admin's orders list", () => {
  test("a new order appears live: a toast and a highlighted row", async ({ customer, adminPage: admin, adminApi }) => {
    const mug = await adminApi.createProduct({ name: "Enamel Mug", description: null, price: 1250, stock_quantity: 20, sku: unique("MUG") });
    await admin.goto("/admin/orders");
    await expect(admin.getByRole("heading", { name: "Orders" })).toBeVisible();
    await expect(admin.locator("[data-testid=live-state][data-state=live]")).toBeVisible();
    await expectAccessible(admin, "/admin/orders");
    const order = await customer.api.placePaidOrder(mug.id);
    await expect(admin.getByTestId("toasts").getByText(`Order #${order.id.slice(-8)}`).first()).toBeVisible();
    await expect(admin.locator(`tr.highlight[data-testid="order-row-${order.id}"]`)).toBeVisible();
    await expect(admin.getByTestId(`order-row-${order.id}`).getByTestId("row-status")).toHaveText("PAID");
    await expectAccessible(admin, "/admin/orders (a new order)");
    await shot(admin, "admin-live-new-order");
  });

  test("filters by status and email, and exports CSV with the current filters", async ({ customer, adminPage: admin, adminApi }) => {
    const { email } = customer;
    const mug = await adminApi.createProduct({ name: "Enamel Mug", description: null, price: 1250, stock_quantity: 20, sku: unique("MUG") });
    const fulfilled = await customer.api.placePaidOrder(mug.id);
    const paid = await customer.api.placePaidOrder(mug.id, 2);
    await adminApi.setOrderStatus(fulfilled.id, "FULFILLED");

    await admin.goto("/admin/orders");
    await admin.getByLabel("Customer email").fill(email);
    await admin.getByRole("checkbox", { name: "FULFILLED" }).check();
    await admin.getByRole("button", { name: "Apply filters" }).click();
    await expect(admin.getByTestId(`order-row-${paid.id}`)).toHaveCount(0);
    await expect(admin.getByTestId(`order-row-${fulfilled.id}`)).toBeVisible();
    const expected = (await adminApi.adminOrders(`status=FULFILLED&email=${encodeURIComponent(email)}`)).length;
    expect(expected).toBe(1);
    await expect(admin.locator("tbody tr"), `the filtered table should hold ${expected} orders`).toHaveCount(expected);
    await expectAccessible(admin, "/admin/orders (filtered)");

    const [download] = await Promise.all([admin.waitForEvent("download"), admin.getByTestId("export-csv").click()]);
    expect(download.suggestedFilename()).toMatch(/^orders-\d{8}\.csv$/);
    const lines = readFileSync(await download.path(), "utf8").split("\n");
    expect(lines[0]).toBe(
      "id,user_id,email,status,payment_status,subtotal,shipping_amount,tax_amount,total_amount,currency,payment_collected,item_count,shipping_name,shipping_city,shipping_country,created_at,updated_at",
    );
    expect(lines.length, `expected ${expected} data rows`).toBe(expected + 2);
    expect(lines.at(-1)).toBe("");
    const row = lines.find((l) => l.startsWith(`${fulfilled.id},`));
    expect(row, "the fulfilled order's row").toBeDefined();
    expect(row).toContain(",FULFILLED,");
    expect(row).toContain(`,${email},`);
    expect(lines.slice(1, -1).every((l) => l.includes(",FULFILLED,")), "a row that is not FULFILLED").toBe(true);
  });
});
