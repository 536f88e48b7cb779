import { PHONE, expect, expectAccessible, newAdminPage, shot, sidewaysOverflow, test, unique, type Api, type Customer } from "./fixtures";

/**
 * A paid order of 2 mugs ($12.50) and 1 lamp ($30.00) to GB: subtotal $55.00, free shipping (over
 * $50), GB tax 20 % (TAX_RATES in scripts/web-e2e.sh) $11.00, total $66.00.
 */
async function paidOrder(adminApi: Api, customer: Customer) {
  const mug = await adminApi.createProduct({ name: "Enamel Mug", description: null, price: 1250, stock_quantity: 10, sku: unique("MUG") });
  const lamp = await adminApi.createProduct({ name: "Desk Lamp", description: null, price: 3000, stock_quantity: 10, sku: unique("LAMP") });
  const placed = await customer.api.placeOrder({
    items: [
      { product_id: mug.id, quantity: 2 },
      { product_id: lamp.id, quantity: 1 },
    ],
    shipping_address: { name: "Ada Lovelace", line1: "1 Main St", city: "London", country: "GB" },
    payment: { token: "tok_visa" },
  });
  expect(placed.status, JSON.stringify(placed.body)).toBe(201);
  expect(placed.body.total_amount).toBe(6600);
  return { mug, lamp, orderId: placed.body.id };
}

test.describe("the admin order page", () => {
  test("an admin ships part of an order and refunds a line, confirmed, with the refund previewed; the customer's page follows live; a note stays internal", async ({
    customer,
    adminPage: admin,
    adminApi,
  }) => {
    const { mug, lamp, orderId } = await paidOrder(adminApi, customer);

    // The customer's own page, open in another browser context, follows the order live.
    const shopper = customer.page;
    await shopper.goto(`/orders/${orderId}`);
    await expect(shopper.getByTestId("order-status")).toHaveText("PAID");
    await expect(shopper.locator("[data-testid=live-state][data-state=live]")).toBeVisible();

    // From the orders table (filtered by the customer's email, shown instead of "user N") to the
    // admin's page of the order, not the customer's.
    await admin.goto("/admin/orders");
    await admin.getByLabel("Customer email (or part of it)").fill(customer.email);
    await admin.getByRole("button", { name: "Apply filters" }).click();
    const row = admin.getByTestId(`order-row-${orderId}`);
    await expect(row.getByTestId("row-customer")).toHaveText(customer.email);
    await row.getByRole("link", { name: `#${orderId.slice(-8)}` }).click();
    await admin.waitForURL(`**/admin/orders/${orderId}`);
    await expect(admin.getByRole("heading", { name: `Order ${orderId}` })).toBeVisible();
    await expect(admin.getByTestId("order-customer").getByRole("link", { name: customer.email })).toHaveAttribute("href", /\/admin\/customers\/\d+$/);
    await expect(admin.locator("[data-testid=live-state][data-state=live]")).toBeVisible();
    await expect(admin.getByRole("button", { name: "Pay now" })).toHaveCount(0);
    await expectAccessible(admin, "/admin/orders/[id]");

    // Ship one of the two mugs. The confirmation opens with the focus on its safe choice; Escape
    // closes it and ships nothing.
    const ship = admin.getByRole("region", { name: "Ship", exact: true });
    await ship.getByLabel("Some units").check();
    await ship.getByLabel("Units of Enamel Mug to ship").fill("1");
    await ship.getByLabel("Carrier (optional)").fill("DHL");
    await ship.getByLabel("Tracking number (with a carrier)").fill("JD0001234");
    await ship.getByRole("button", { name: "Ship…" }).click();
    const dialog = admin.getByTestId("confirm-dialog");
    await expect(dialog).toBeVisible();
    await expect(dialog.getByRole("heading", { name: "Ship 1 unit?" })).toBeVisible();
    await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
    await admin.keyboard.press("Escape");
    await expect(dialog).toHaveCount(0);
    await expect(ship.getByRole("button", { name: "Ship…" })).toBeFocused();
    const mugLine = admin.getByTestId(`line-${mug.sku}`);
    await expect(mugLine.getByTestId("line-shipped")).toHaveText("0");
    await ship.getByRole("button", { name: "Ship…" }).click();
    await dialog.getByRole("button", { name: "Ship 1 unit" }).click();
    await expect(mugLine.getByTestId("line-shipped")).toHaveText("1");
    await expect(mugLine.getByTestId("line-open")).toHaveText("1");
    await expect(admin.getByTestId("fulfillment-status")).toHaveText("partially fulfilled");
    await expect(admin.getByTestId("shipments")).toContainText("1 × Enamel Mug — DHL, tracking JD0001234");
    // ...and the customer's page shows the shipment without a reload.
    await expect(shopper.getByTestId("tracking")).toContainText("JD0001234");
    await expect(shopper.getByTestId("order-status")).toHaveText("PAID");

    // Refund the lamp (not shipped: cancelled, back to stock): $30.00 + 20 % tax = $36.00, shown
    // before confirming.
    const refund = admin.getByRole("region", { name: "Refund", exact: true });
    await refund.getByLabel("Units of Desk Lamp to refund").fill("1");
    await expect(refund.getByLabel("Kind of refund for Desk Lamp")).toHaveValue("cancel");
    await expect(refund.getByTestId("refund-preview-amount")).toHaveText("$36.00");
    await expect(refund.getByTestId("refund-preview")).toContainText("($30.00 + tax $6.00)");
    // No reason: the problem is shown at the field, nothing is sent.
    await refund.getByRole("button", { name: "Refund…" }).click();
    await expect(refund.getByLabel("Reason")).toHaveAttribute("aria-invalid", "true");
    await refund.getByLabel("Reason").fill("Out of stock at the warehouse");
    await refund.getByRole("button", { name: "Refund…" }).click();
    await expect(dialog.getByRole("heading", { name: "Refund $36.00?" })).toBeVisible();
    await expectAccessible(admin, "/admin/orders/[id] with the refund confirmation open");
    await dialog.getByRole("button", { name: "Refund $36.00" }).click();
    await expect(admin.getByTestId("refunded-amount")).toHaveText("$36.00");
    await expect(admin.getByTestId("payment-status")).toHaveText("partially refunded");
    const lampLine = admin.getByTestId(`line-${lamp.sku}`);
    await expect(lampLine.getByTestId("line-cancelled")).toHaveText("1");
    await expect(admin.getByTestId("refunds")).toContainText("$36.00 (succeeded) — 1 × Desk Lamp (cancel)");
    await expect(shopper.getByTestId("payment-status")).toHaveText("partially_refunded");
    expect(await adminApi.productStock(lamp.id), "the cancelled lamp is back in stock").toBe(10);

    // An internal note: said to be internal where it is written and where it is shown, and never
    // on the customer's page.
    const note = admin.getByRole("region", { name: "Internal note" });
    await expect(note).toContainText("It is never shown or sent to the customer.");
    await note.getByLabel("Internal note (admins only)").fill("Customer called: leave it with the neighbour.");
    await note.getByRole("button", { name: "Add internal note" }).click();
    const noted = admin.getByTestId("history").locator("li[data-internal=true]");
    await expect(noted).toContainText("Internal note");
    await expect(noted).toContainText("Customer called: leave it with the neighbour.");
    await expectAccessible(admin, "/admin/orders/[id] after shipping, refunding and a note");
    await shot(admin, "admin-order");
    await shopper.reload();
    await expect(shopper.getByTestId("history")).toBeVisible();
    await expect(shopper.getByTestId("history")).not.toContainText("neighbour");
  });

  test("cancelling a paid order from its page is confirmed, says what is refunded, and can be kept", async ({ customer, adminPage: admin, adminApi }) => {
    const { orderId } = await paidOrder(adminApi, customer);
    await admin.goto(`/admin/orders/${orderId}`);
    const status = admin.getByRole("region", { name: "Status", exact: true });
    await status.getByLabel("New status").selectOption("CANCELLED");
    await status.getByRole("button", { name: "Change status…" }).click();
    const dialog = admin.getByTestId("confirm-dialog");
    await expect(dialog).toContainText("$66.00 is refunded to the customer");
    await dialog.getByRole("button", { name: "Keep the order" }).click();
    await expect(admin.getByTestId("order-status")).toHaveText("PAID");
    await status.getByRole("button", { name: "Change status…" }).click();
    await dialog.getByRole("button", { name: "Cancel and refund $66.00" }).click();
    await expect(admin.getByTestId("order-status")).toHaveText("CANCELLED");
    await expect(admin.getByTestId("payment-status")).toHaveText("refunded");
  });

  test("the orders table finds a customer's orders by part of their email, and the order page fits a phone", async ({ customer, browser, adminApi }) => {
    const { orderId } = await paidOrder(adminApi, customer);
    const admin = await newAdminPage(browser, PHONE);
    await admin.goto("/admin/orders");
    // The API filters by a whole address only: a part of one is looked up among the customers.
    const part = customer.email.split("@")[0];
    // (Enter submits: on a phone the focused field is scrolled back into view, away from the button.)
    await admin.getByLabel("Customer email (or part of it)").fill(part);
    await admin.getByLabel("Customer email (or part of it)").press("Enter");
    await expect(admin.getByTestId("email-resolved")).toContainText(customer.email);
    await expect(admin.getByTestId(`order-row-${orderId}`)).toBeVisible();
    await expect(admin.getByTestId(`order-row-${orderId}`).getByTestId("row-customer")).toHaveText(customer.email);
    await admin.getByLabel("Customer email (or part of it)").fill(unique("nobody"));
    await admin.getByLabel("Customer email (or part of it)").press("Enter");
    await expect(admin.getByTestId("email-no-match")).toBeVisible();
    await expectAccessible(admin, "/admin/orders (phone)");

    await admin.goto(`/admin/orders/${orderId}`);
    await expect(admin.getByTestId("order-status")).toHaveText("PAID");
    expect(await sidewaysOverflow(admin), "the admin order page scrolls sideways on a phone").toBeLessThanOrEqual(0);
    await expectAccessible(admin, "/admin/orders/[id] (phone)");
    await admin.context().close();
  });
});
