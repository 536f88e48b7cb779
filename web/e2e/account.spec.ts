import { expect, expectAccessible, signIn, test } from "./fixtures";

test.describe("the account page", () => {
  test("a wrong current password is shown at its field; the new password signs in", async ({ customer }) => {
    const { page, context, email, password } = customer;
    await page.goto("/account");
    await expect(page.getByLabel("Current password")).toBeVisible();
    await expectAccessible(page, "/account");
    await page.getByLabel("Current password").fill("not-my-password");
    await page.getByLabel("New password (8 to 128 characters)").fill("second-password-2");
    await page.getByLabel("New password again").fill("second-password-2");
    await page.getByRole("button", { name: "Change password" }).click();
    await expect(page.getByText("This is not your current password.")).toBeVisible();
    await expect(page.getByLabel("Current password")).toHaveAttribute("aria-invalid", "true");
    await expectAccessible(page, "/account with a field error");
    await page.getByLabel("Current password").fill(password);
    await page.getByRole("button", { name: "Change password" }).click();
    await expect(page.getByTestId("password-changed")).toBeVisible();
    // The fresh session works for a write (its new CSRF token is in use).
    await page.getByLabel("Current password").fill("second-password-2");
    await page.getByLabel("New password (8 to 128 characters)").fill("third-password-3");
    await page.getByLabel("New password again").fill("third-password-3");
    await page.getByRole("button", { name: "Change password" }).click();
    await expect(page.getByTestId("password-changed")).toBeVisible();
    await context.clearCookies();
    await signIn(page, email, "third-password-3");
  });
});
