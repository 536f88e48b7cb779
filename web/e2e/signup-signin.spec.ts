import type { Page } from "@playwright/test";
import { ADMIN_EMAIL, ADMIN_PASSWORD, expect, expectAccessible, logPageErrors, shot, signIn, signUp, test, unique } from "./fixtures";

/** Fills the sign-in form of the page that is open (keeping its ?next=). */
async function signInHere(page: Page, email: string, password: string) {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-as")).toHaveText(email);
}

test.describe("sign-up and sign-in", () => {
  test("a visitor signs up, signs out and signs in again", async ({ page }) => {
    logPageErrors(page, "visitor");
    const email = `${unique("signup")}@example.com`;
    const password = "correct-horse-battery";
    await page.goto("/signup");
    await expect(page.getByRole("heading", { name: "Create an account" })).toBeVisible();
    await expectAccessible(page, "/signup");
    await signUp(page, email, password);
    await page.context().clearCookies();
    await page.goto("/signin");
    await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
    await expectAccessible(page, "/signin");
    await signIn(page, email, password);
  });

  test("the admin signs in and lands on the dashboard", async ({ page }) => {
    logPageErrors(page, "admin");
    await signIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.waitForURL(/\/admin$/);
    await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  });

  test("a wrong password is refused", async ({ customer }) => {
    const { page, context, email } = customer;
    await context.clearCookies();
    await page.goto("/signin");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("not-my-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByTestId("problem")).toHaveAttribute("data-code", "invalid_credentials");
    await expect(page.getByTestId("problem")).toHaveAttribute("role", "alert");
    await expect(page.getByTestId("signed-in-as")).toHaveCount(0);
    await expectAccessible(page, "/signin with an error");
  });

  test("session expired: a 401 sends the customer back to sign-in", async ({ customer, adminApi }) => {
    const { page, context, email, password, api } = customer;
    const mug = await adminApi.createProduct({ name: "Enamel Mug", description: "Speckled blue, 350 ml.", price: 1250, stock_quantity: 20, sku: unique("MUG") });
    const order = await api.placePaidOrder(mug.id);
    await context.clearCookies();
    await page.goto(`/orders/${order.id}`);
    // /me says nobody is signed in: straight to sign-in, remembering the page, which signing in
    // goes back to.
    await page.waitForURL(/\/signin\?next=/);
    await signInHere(page, email, password);
    await page.waitForURL(new RegExp(`/orders/${order.id}$`));
    await expect(page.getByTestId("order-status")).toHaveText("PAID");
    await page.goto("/orders");
    await expect(page.locator("tbody tr").first()).toBeVisible();
    await context.clearCookies(); // the session is gone while the page is open
    await page.getByLabel("Status").selectOption("FULFILLED");
    await page.waitForURL(/\/signin\?expired=1&next=/);
    await expect(page.getByTestId("session-expired")).toBeVisible();
    await expectAccessible(page, "/signin?expired=1");
    await shot(page, "session-expired");
    // Signing in again goes back to the page the session ran out on.
    await signInHere(page, email, password);
    await page.waitForURL(/\/orders$/);
    await expect(page.locator("tbody tr").first()).toBeVisible();
  });
});
