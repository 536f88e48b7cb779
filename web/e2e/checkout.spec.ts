import { PHONE, addToCart, expect, expectAccessible, fillCheckout, newCustomer, orderIdOf, shot, sidewaysOverflow, test, unique } from "./fixtures";

const money = (text: string | null) => Math.round(Number((text ?? "").replace(/[^0-9.]/g, "")) * 100);

test.describe("the checkout", () => {
  test("the quote is shown before placing and re-priced by the country and the cart; a double click places one order, for the quoted total", async ({
    customer,
    adminApi,
  }) => {
    const { page, context, email } = customer;
    const mug = await adminApi.createProduct({ name: "Enamel Mug", description: "Speckled blue, 350 ml.", price: 1250, stock_quantity: 20, sku: unique("MUG") });
    await addToCart(page, mug.sku);
    await fillCheckout(page, "tok_visa");
    // The quote (POST /api/orders/quote) is shown before placing: one mug at $12.50, flat shipping
    // $5.00 under the free-shipping threshold, GB tax 20 % (TAX_RATES in scripts/web-e2e.sh) of both.
    const quote = page.getByTestId("quote");
    await expect(quote.getByTestId("quote-total")).toHaveText("$21.00");
    await expect(quote.getByTestId("quote-subtotal")).toHaveText("$12.50");
    await expect(quote.getByTestId("quote-shipping")).toHaveText("$5.00");
    await expect(quote.getByTestId("quote-tax")).toHaveText("$3.50");
    await expect(page.getByTestId("place-order")).toHaveText("Place order ($21.00)");
    await expectAccessible(page, "/checkout");
    // Another country re-prices it (no tax outside GB and DE here), and back.
    await page.getByLabel("Country").selectOption("US");
    await expect(quote.getByTestId("quote-total")).toHaveText("$17.50");
    await expect(quote.getByTestId("quote-tax")).toHaveText("$0.00");
    await page.getByLabel("Country").selectOption("GB");
    await expect(quote.getByTestId("quote-total")).toHaveText("$21.00");
    // A change of the cart in another tab re-prices it too (the cart is shared by every tab).
    const cartTab = await context.newPage();
    await cartTab.goto("/cart");
    await cartTab.getByRole("button", { name: "One more (Quantity of Enamel Mug)" }).click();
    await expect(quote.getByTestId("quote-subtotal")).toHaveText("$25.00");
    await expect(quote).toContainText("2 × Enamel Mug — $25.00");
    const parts = await Promise.all(["quote-subtotal", "quote-shipping", "quote-tax", "quote-total"].map((id) => quote.getByTestId(id).textContent()));
    const [subtotal, shipping, tax, total] = parts.map((p) => (p === "Free" ? 0 : money(p)));
    expect(total, `the quote's parts ${parts} do not add up`).toBe(subtotal + shipping + tax);
    await cartTab.getByRole("button", { name: "One fewer (Quantity of Enamel Mug)" }).click();
    await expect(quote.getByTestId("quote-subtotal")).toHaveText("$12.50");
    await expect(quote.getByTestId("quote-total")).toHaveText("$21.00");
    await cartTab.close();
    const quotedTotal = await quote.getByTestId("quote-total").textContent();
    await page.getByLabel("Test payment token").blur(); // no focus ring in the picture
    await shot(page, "checkout");

    // A double click must make one order (one Idempotency-Key, one request in flight).
    await page.getByTestId("place-order").dblclick();
    await page.waitForURL(/\/orders\/[0-9a-f-]{36}/);
    const orderId = orderIdOf(page);
    await expect(page.getByTestId("order-status")).toHaveText("PAID");
    await expect(page.getByTestId("order-total")).toHaveText(quotedTotal!);
    await expect(page.locator("[data-testid=live-state][data-state=live]")).toBeVisible();
    await expectAccessible(page, `/orders/${orderId}`);
    const mine = await adminApi.adminOrders(`email=${encodeURIComponent(email)}`);
    expect(mine.map((o) => o.id), "the double click made more than one order").toEqual([orderId]);
    expect(await adminApi.productStock(mug.id), "the mug's stock after ordering one").toBe(19);
  });

  test("the country list, the simulated provider's test tokens, and the server's field errors next to their fields", async ({ customer, adminApi }) => {
    const { page } = customer;
    const mug = await adminApi.createProduct({ name: "Enamel Mug", description: null, price: 1250, stock_quantity: 20, sku: unique("MUG") });
    await addToCart(page, mug.sku);
    await page.goto("/checkout");
    // Countries by name, with their codes; nothing chosen yet, so no quote but a hint.
    const country = page.getByLabel("Country");
    await expect(country).toHaveValue("");
    const options = await country.locator("option").allTextContents();
    expect(options[0]).toBe("Choose a country…");
    expect(options).toContain("United Kingdom (GB)");
    expect(options).toContain("Germany (DE)");
    expect(options).toContain("United States (US)");
    const names = options.slice(1);
    expect(names, "countries not by name").toEqual([...names].sort((a, b) => a.localeCompare(b, "en")));
    await expect(page.getByTestId("quote")).toContainText("Choose the country to see shipping, tax and the total.");
    // The simulated provider (this build's): a test token field, tok_visa by default, with its tokens listed.
    const token = page.getByLabel("Test payment token");
    await expect(token).toHaveValue("tok_visa");
    expect(await page.locator("datalist#test-tokens option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual([
      "tok_visa",
      "tok_chargeDeclined",
      "tok_timeout",
      "tok_error",
    ]);
    await expect(page.locator("#token-help")).toContainText("simulated payment provider");
    await expect(page.getByLabel("Stripe PaymentMethod id")).toHaveCount(0);

    // The server's validation errors are shown at their fields (the browser's own checks are off
    // here, so the server answers): a blank city.
    await page.getByLabel("Full name").fill("Ada Lovelace");
    await page.getByLabel("Address line 1").fill("1 Main St");
    await page.getByLabel("City").fill("   ");
    await country.selectOption("GB");
    await expect(page.getByTestId("quote-total")).toHaveText("$21.00");
    await page.locator("form").first().evaluate((f) => f.setAttribute("novalidate", ""));
    await page.getByTestId("place-order").click();
    const city = page.getByLabel("City");
    await expect(page.getByTestId("error-city")).toBeVisible();
    await expect(city).toHaveAttribute("aria-invalid", "true");
    await expect(city).toHaveAttribute("aria-describedby", "addr-city-error");
    await expect(city).toBeFocused();
    await expect(page.getByTestId("problem")).toHaveAttribute("data-code", "validation_failed");
    await expect(page.getByTestId("problem")).toContainText("Please correct the fields marked below.");
    await expectAccessible(page, "/checkout with field errors");
    await shot(page, "checkout-field-errors");
    expect(await adminApi.productStock(mug.id), "a refused placement took stock").toBe(20);
  });

  test("a declined payment (tok_chargeDeclined) shows the decline, leaves the stock and the cart, and the address is remembered", async ({
    customer,
    adminApi,
  }) => {
    const { page } = customer;
    const lamp = await adminApi.createProduct({ name: "Desk Lamp", description: "Warm LED, brass arm.", price: 4200, stock_quantity: 5, sku: unique("LAMP") });
    await addToCart(page, lamp.sku);
    await fillCheckout(page, "tok_chargeDeclined");
    await expect(page.getByTestId("quote-total")).toBeVisible();
    await page.getByTestId("place-order").click();
    await expect(page.getByTestId("payment-declined")).toBeVisible();
    await expectAccessible(page, "/checkout declined");
    await shot(page, "checkout-declined");
    expect(page.url(), "left the checkout page after a decline").toMatch(/\/checkout$/);
    expect(await adminApi.productStock(lamp.id), "the stock changed").toBe(5);
    await page.goto("/");
    await page.getByLabel("Search by name or SKU").fill(lamp.sku);
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await expect(page.getByTestId(`product-${lamp.sku}`).getByTestId("stock")).toHaveText("5 in stock");
    // The last address is remembered on this device, and the cart is unchanged.
    await page.goto("/checkout");
    await expect(page.getByLabel("Full name")).toHaveValue("Ada Lovelace");
    await expect(page.getByLabel("City")).toHaveValue("London");
    await expect(page.getByLabel("Country")).toHaveValue("GB");
    await expect(page.getByTestId("quote")).toContainText("1 × Desk Lamp");
  });

  test("insufficient stock is shown by the quote before placing, with what is available", async ({ customer, adminApi }) => {
    const { page } = customer;
    const lamp = await adminApi.createProduct({ name: "Desk Lamp", description: "Warm LED, brass arm.", price: 4200, stock_quantity: 5, sku: unique("LAMP") });
    await addToCart(page, lamp.sku);
    await page.goto("/cart");
    const qty = page.getByRole("textbox", { name: "Quantity of Desk Lamp" });
    await qty.fill("5");
    await qty.blur();
    await expect(qty).toHaveValue("5");
    // The cart holds all 5 lamps; then the stock drops to 3.
    await adminApi.changeStock(lamp.id, -2);
    await fillCheckout(page, "tok_visa");
    await expect(page.getByTestId("insufficient-stock")).toContainText("Desk Lamp: only 3 available");
    await expectAccessible(page, "/checkout insufficient stock");
    await shot(page, "checkout-insufficient-stock");
    // The cart can be cut down to what is there, and then it is priced.
    await page.getByRole("button", { name: "Reduce my cart to what is available" }).click();
    await expect(page.getByTestId("quote")).toContainText("3 × Desk Lamp");
    await expect(page.getByTestId("insufficient-stock")).toHaveCount(0);
  });

  test("phone width: the checkout with its quote fits 390 px", async ({ browser, request, adminApi }) => {
    const lamp = await adminApi.createProduct({ name: "Desk Lamp", description: "Warm LED, brass arm.", price: 4200, stock_quantity: 5, sku: unique("LAMP") });
    const shopper = await newCustomer(browser, request, PHONE);
    const page = shopper.page;
    await addToCart(page, lamp.sku);
    await fillCheckout(page, "tok_visa");
    await expect(page.getByTestId("quote-total")).toBeVisible();
    expect(await sidewaysOverflow(page), "the checkout scrolls sideways").toBeLessThanOrEqual(0);
    await expectAccessible(page, "/checkout (phone)");
    await shot(page, "checkout-phone");
    await shopper.context.close();
  });
});
