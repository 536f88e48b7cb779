import { ADMIN_EMAIL, API_URL, PHONE, expect, expectAccessible, newAdminPage, sidewaysOverflow, test, unique } from "./fixtures";

test.describe("the customers pages", () => {
  test("search, a customer's figures and orders, disable / enable and a role change, each confirmed", async ({ customer, adminPage: admin, adminApi, request }) => {
    const mug = await adminApi.createProduct({ name: "Enamel Mug", description: null, price: 1250, stock_quantity: 10, sku: unique("MUG") });
    const order = await customer.api.placePaidOrder(mug.id, 2);

    // Search by part of the email.
    await admin.goto("/admin/customers");
    await expect(admin.getByRole("heading", { name: "Customers" })).toBeVisible();
    await admin.getByLabel("Email contains").fill(customer.email.split("@")[0]);
    await admin.getByRole("button", { name: "Search" }).click();
    const link = admin.getByRole("link", { name: customer.email });
    await expect(link).toBeVisible();
    await expect(admin.locator("tbody tr")).toHaveCount(1);
    await expectAccessible(admin, "/admin/customers");
    await link.click();
    await admin.waitForURL(/\/admin\/customers\/\d+$/);

    // Figures and orders.
    await expect(admin.getByRole("heading", { name: customer.email })).toBeVisible();
    await expect(admin.getByTestId("customer-orders")).toHaveText("1");
    await expect(admin.getByTestId("customer-spent")).toHaveText("$30.00"); // 2 × $12.50 + $5.00 shipping, no US tax
    await expect(admin.getByTestId("customer-status")).toHaveText("active");
    await expect(admin.getByRole("link", { name: `#${order.id.slice(-8)}` })).toHaveAttribute("href", `/admin/orders/${order.id}`);
    await expectAccessible(admin, "/admin/customers/[id]");

    const tokenStatus = async () => (await request.post(`${API_URL}/api/auth/token`, { data: { email: customer.email, password: customer.password } })).status();

    // Disable: the confirmation can be declined; once confirmed the account cannot sign in.
    await admin.getByRole("button", { name: "Disable account…" }).click();
    const dialog = admin.getByTestId("confirm-dialog");
    await expect(dialog.getByRole("heading", { name: `Disable ${customer.email}?` })).toBeVisible();
    await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await expect(admin.getByTestId("customer-status")).toHaveText("active");
    await admin.getByRole("button", { name: "Disable account…" }).click();
    await dialog.getByRole("button", { name: "Disable account" }).click();
    await expect(admin.getByTestId("customer-status")).toHaveText("disabled");
    expect(await tokenStatus(), "a disabled account signs in").toBe(403);
    // The customer's open session was revoked too.
    await customer.page.goto("/orders");
    await expect(customer.page).toHaveURL(/\/signin/);

    await admin.getByRole("button", { name: "Enable account…" }).click();
    await dialog.getByRole("button", { name: "Enable account" }).click();
    await expect(admin.getByTestId("customer-status")).toHaveText("active");
    expect(await tokenStatus(), "an enabled account cannot sign in").toBe(200);

    // Role change, confirmed, and back.
    await admin.getByLabel("Role", { exact: true }).selectOption("ADMIN");
    await admin.getByRole("button", { name: "Change role…" }).click();
    await expect(dialog.getByRole("heading", { name: `Make ${customer.email} an admin?` })).toBeVisible();
    await dialog.getByRole("button", { name: "Make admin" }).click();
    await expect(admin.getByTestId("customer-role")).toHaveText("ADMIN");
    await expect(admin.getByTestId("customer-done")).toHaveText("The role is now ADMIN.");
    await admin.getByLabel("Role", { exact: true }).selectOption("CUSTOMER");
    await admin.getByRole("button", { name: "Change role…" }).click();
    await dialog.getByRole("button", { name: "Make customer" }).click();
    await expect(admin.getByTestId("customer-role")).toHaveText("CUSTOMER");

    // Filters: the customer is found among active customers, not among admins.
    await admin.goto("/admin/customers");
    await admin.getByLabel("Email contains").fill(customer.email);
    await admin.getByLabel("Role").selectOption("ADMIN");
    await admin.getByRole("button", { name: "Search" }).click();
    await expect(admin.getByText("No customer matches.")).toBeVisible();
    await admin.getByLabel("Role").selectOption("CUSTOMER");
    await admin.getByLabel("Status").selectOption("active");
    await admin.getByRole("button", { name: "Search" }).click();
    await expect(admin.getByRole("link", { name: customer.email })).toBeVisible();
  });

  test("an admin cannot change their own account, and the pages fit a phone", async ({ browser }) => {
    const admin = await newAdminPage(browser, PHONE);
    await admin.goto("/admin/customers");
    await admin.getByLabel("Email contains").fill(ADMIN_EMAIL);
    await admin.getByRole("button", { name: "Search" }).click();
    expect(await sidewaysOverflow(admin), "/admin/customers scrolls sideways on a phone").toBeLessThanOrEqual(0);
    await admin.getByRole("link", { name: ADMIN_EMAIL }).click();
    await expect(admin.getByText("You cannot change your own status or role.")).toBeVisible();
    await expect(admin.getByRole("button", { name: "Disable account…" })).toBeDisabled();
    expect(await sidewaysOverflow(admin), "/admin/customers/[id] scrolls sideways on a phone").toBeLessThanOrEqual(0);
    await expectAccessible(admin, "/admin/customers/[id] (phone)");
    await admin.context().close();
  });
});
