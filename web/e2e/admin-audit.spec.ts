import { PHONE, WEB_URL, expect, expectAccessible, newAdminPage, sidewaysOverflow, test, unique } from "./fixtures";

test.describe("the audit log", () => {
  test("filters by action, target and actor, with bad filters shown at their field", async ({ adminPage: admin, adminApi }) => {
    // Two audited admin writes on a product of this test: its creation and a stock change.
    const product = await adminApi.createProduct({ name: "Audit Lamp", description: null, price: 3000, stock_quantity: 5, sku: unique("AUD") });
    await adminApi.changeStock(product.id, 3);
    const me = await admin.request.get(`${WEB_URL}/api/auth/me`);
    const adminId: number = (await me.json()).user.id;

    await admin.goto("/admin/audit");
    await expect(admin.getByRole("heading", { name: "Audit log" })).toBeVisible();
    await expect(admin.getByTestId("audit-row").first()).toBeVisible();
    await expectAccessible(admin, "/admin/audit");

    // By action: only product.created entries.
    await admin.getByLabel("Action").fill("product.created");
    await admin.getByRole("button", { name: "Apply filters" }).click();
    await expect(admin.getByTestId("audit-row").first()).toHaveAttribute("data-action", "product.created");
    const actions = await admin.getByTestId("audit-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-action")));
    expect(new Set(actions)).toEqual(new Set(["product.created"]));

    // By target: this product's two entries, newest first, the stock change with its old and new values.
    await admin.getByLabel("Action").fill("");
    await admin.getByLabel("Target type").selectOption("product");
    await admin.getByLabel("Target id").fill(String(product.id));
    await admin.getByRole("button", { name: "Apply filters" }).click();
    const rows = admin.getByTestId("audit-row");
    await expect(rows).toHaveCount(2);
    await expect(rows.nth(0)).toHaveAttribute("data-action", "product.updated");
    await expect(rows.nth(0)).toContainText("stock_quantity: 5 → 8");
    await expect(rows.nth(1)).toHaveAttribute("data-action", "product.created");
    await expect(rows.nth(0).getByRole("link", { name: `admin #${adminId}` })).toHaveAttribute("href", `/admin/customers/${adminId}`);

    // By actor and time: the admin's entries of the last hour include them; a window in the past has none.
    await admin.getByLabel("Actor (user id)").fill(String(adminId));
    await admin.getByRole("button", { name: "Apply filters" }).click();
    await expect(rows).toHaveCount(2);
    await admin.getByLabel("Before").fill("2020-01-01T00:00");
    await admin.getByRole("button", { name: "Apply filters" }).click();
    await expect(admin.getByText("No entry matches these filters.")).toBeVisible();

    // Bad filters are named at their field and not sent.
    await admin.getByLabel("Before").fill("");
    await admin.getByLabel("Actor (user id)").fill("someone");
    await admin.getByLabel("Action").fill("refund");
    await admin.getByRole("button", { name: "Apply filters" }).click();
    await expect(admin.getByLabel("Actor (user id)")).toHaveAttribute("aria-invalid", "true");
    await expect(admin.getByLabel("Action")).toHaveAttribute("aria-invalid", "true");
    await expect(admin.getByText("A user id (a whole number of 1 or more).")).toBeVisible();
    await expectAccessible(admin, "/admin/audit with field errors");

    await admin.getByRole("button", { name: "Clear" }).click();
    await expect(admin.getByLabel("Action")).toHaveValue("");
    await expect(admin.getByTestId("audit-row").first()).toBeVisible();
  });

  test("filters in the page's address (the links from an order's or a customer's page) apply at once, and the page fits a phone", async ({ browser, adminApi }) => {
    const product = await adminApi.createProduct({ name: "Audit Mug", description: null, price: 1250, stock_quantity: 5, sku: unique("AUD") });
    const admin = await newAdminPage(browser, PHONE);
    await admin.goto(`/admin/audit?target_type=product&target_id=${product.id}`);
    await expect(admin.getByLabel("Target id")).toHaveValue(String(product.id));
    await expect(admin.getByTestId("audit-row")).toHaveCount(1);
    await expect(admin.getByTestId("audit-row")).toHaveAttribute("data-action", "product.created");
    expect(await sidewaysOverflow(admin), "/admin/audit scrolls sideways on a phone").toBeLessThanOrEqual(0);
    await expectAccessible(admin, "/admin/audit (phone)");
    await admin.context().close();
  });
});
