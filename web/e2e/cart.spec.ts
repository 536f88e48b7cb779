import { addToCart, expect, expectAccessible, shot, test, unique } from "./fixtures";

test.describe("the cart", () => {
  test("the quantity control: -3, empty, Backspace then 3, over the stock, the steppers; remove and undo", async ({ customer, adminApi }) => {
    const { page } = customer;
    const mug = await adminApi.createProduct({ name: "Enamel Mug", description: "Speckled blue, 350 ml.", price: 1250, stock_quantity: 20, sku: unique("MUG") });
    const lamp = await adminApi.createProduct({ name: "Desk Lamp", description: "Warm LED, brass arm.", price: 4200, stock_quantity: 5, sku: unique("LAMP") });

    await page.goto("/cart");
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
    await expectAccessible(page, "/cart (empty)");

    await addToCart(page, mug.sku);
    await addToCart(page, lamp.sku);
    await page.goto("/cart");
    await expect(page.getByRole("cell", { name: "Enamel Mug", exact: true })).toBeVisible();
    await expect(page.getByTestId("cart-subtotal")).toHaveText("$54.50");
    await expectAccessible(page, "/cart");
    await shot(page, "cart");

    const qty = page.getByRole("textbox", { name: "Quantity of Desk Lamp" });
    const lampLine = page.getByTestId(`cart-line-${lamp.id}`);
    // -3 is clamped to 1 on blur: the line stays.
    await qty.fill("-3");
    await qty.blur();
    await expect(qty).toHaveValue("1");
    await expect(lampLine).toBeVisible();
    // An empty field keeps the last valid quantity.
    await qty.fill("");
    await qty.blur();
    await expect(qty).toHaveValue("1");
    // Backspace then 3 gives 3, not 13 (and the line total follows while typing).
    await qty.click();
    await qty.press("End");
    await qty.press("Backspace");
    await qty.press("3");
    await expect(lampLine.getByTestId("line-total")).toHaveText("$126.00");
    await qty.blur();
    await expect(qty).toHaveValue("3");
    // More than the stock (5) is clamped to it.
    await qty.fill("9");
    await qty.blur();
    await expect(qty).toHaveValue("5");
    await expect(lampLine.getByTestId("line-total")).toHaveText("$210.00");
    // The steppers stop at the stock and at 1.
    await expect(page.getByRole("button", { name: "One more (Quantity of Desk Lamp)" })).toBeDisabled();
    await page.getByRole("button", { name: "One fewer (Quantity of Desk Lamp)" }).click();
    await expect(qty).toHaveValue("4");
    await page.getByRole("button", { name: "One more (Quantity of Desk Lamp)" }).click();
    await expect(qty).toHaveValue("5");
    await expect(page.getByRole("button", { name: "One fewer (Quantity of Enamel Mug)" })).toBeDisabled();

    // Remove the first line, then undo: it comes back first, with its quantity, and focus returns to it.
    const lines = page.locator("[data-testid^=cart-line-]");
    const linesBefore = await lines.evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.testid));
    expect(linesBefore).toEqual([`cart-line-${mug.id}`, `cart-line-${lamp.id}`]);
    await page.getByRole("button", { name: "Remove Enamel Mug" }).click();
    await expect(page.getByTestId("undo-row")).toContainText("Removed Enamel Mug");
    await expect(lines).toHaveCount(1);
    await expect(page.getByTestId("undo-remove")).toBeFocused();
    await expectAccessible(page, "/cart (undo offered)");
    await shot(page, "cart-undo");
    await page.getByTestId("undo-remove").click();
    await expect(page.getByTestId(`cart-line-${mug.id}`)).toBeVisible();
    await expect.poll(() => lines.evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.testid))).toEqual(linesBefore);
    await expect(page.getByRole("textbox", { name: "Quantity of Enamel Mug" })).toBeFocused();
    await expect(qty).toHaveValue("5");
    await expect(page.getByTestId("cart-subtotal")).toHaveText("$222.50");
  });
});
