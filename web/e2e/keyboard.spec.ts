import { expect, expectAccessible, test, unique } from "./fixtures";

/** Keyboard and screen-reader basics: what run.mjs did not cover beyond the cart's focus handling. */
test.describe("keyboard and screen-reader basics", () => {
  test("the skip link is the first stop and takes focus to the content", async ({ page }) => {
    await page.goto("/");
    await expect(page.getByRole("heading", { name: "Catalogue" })).toBeVisible();
    await page.keyboard.press("Tab");
    const skip = page.getByRole("link", { name: "Skip to content" });
    await expect(skip).toBeFocused();
    await expect(skip).toBeInViewport();
    await page.keyboard.press("Enter");
    await expect(page.locator("main#main")).toBeFocused();
  });

  test("sign-in, search, add to cart and the quantity field work from the keyboard, and changes are announced", async ({ customer, adminApi }) => {
    const { page, context, email, password } = customer;
    const lamp = await adminApi.createProduct({ name: "Desk Lamp", description: "Warm LED, brass arm.", price: 4200, stock_quantity: 5, sku: unique("LAMP") });
    await context.clearCookies();
    // Sign in: Tab from the email to the password, Enter submits.
    await page.goto("/signin");
    await page.getByLabel("Email").focus();
    await page.keyboard.type(email);
    await page.keyboard.press("Tab");
    await expect(page.getByLabel("Password")).toBeFocused();
    await page.keyboard.type(password);
    await page.keyboard.press("Enter");
    await expect(page.getByTestId("signed-in-as")).toHaveText(email);

    // Search with Enter; add with Enter on the card's button; the status line announces it.
    await page.goto("/");
    await page.getByLabel("Search by name or SKU").focus();
    await page.keyboard.type(lamp.sku);
    await page.keyboard.press("Enter");
    const add = page.getByTestId(`product-${lamp.sku}`).getByRole("button", { name: "Add Desk Lamp to cart" });
    await add.focus();
    await page.keyboard.press("Enter");
    const announced = page.getByRole("status").filter({ hasText: "Added Desk Lamp to your cart." });
    await expect(announced).toHaveAttribute("aria-live", "polite");
    await expect(page.getByTestId("nav-cart")).toHaveText("Cart (1)");

    // The quantity field: arrows step within 1..stock, Enter settles a typed value (clamped).
    await page.goto("/cart");
    const qty = page.getByRole("textbox", { name: "Quantity of Desk Lamp" });
    await expect(qty).toHaveAttribute("aria-describedby", /-hint$/);
    await qty.focus();
    await page.keyboard.press("ArrowUp");
    await expect(qty).toHaveValue("2");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    await expect(qty).toHaveValue("1");
    await page.keyboard.press("Backspace");
    await page.keyboard.type("9");
    await page.keyboard.press("Enter");
    await expect(qty).toHaveValue("5");
    await expect(qty).toBeFocused();
    await expect(page.getByTestId("nav-cart")).toHaveText("Cart (5)");
    await expectAccessible(page, "/cart (keyboard)");
  });

  test("a signed-out visitor is sent to sign-in from a private page, and comes back after signing in", async ({ customer }) => {
    const { page, context, email, password } = customer;
    await context.clearCookies();
    await page.goto("/account");
    await page.waitForURL(/\/signin\?next=/);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/account$/);
    await expect(page.getByLabel("Current password")).toBeVisible();
  });
});
