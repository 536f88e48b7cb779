import { expect, expectAccessible, shot, test, unique } from "./fixtures";

test.describe("the admin's products", () => {
  test("create, stock delta, archive and un-archive", async ({ adminPage: admin, adminApi }) => {
    await admin.goto("/admin/products");
    await expect(admin.getByRole("heading", { level: 1 })).toBeVisible();
    await expectAccessible(admin, "/admin/products");
    await admin.getByText("New product").click();
    const sku = unique("POSTER");
    await admin.getByLabel("Name", { exact: true }).fill("Gallery Poster");
    await admin.getByLabel("SKU", { exact: true }).fill(sku);
    await admin.getByLabel("Price ($)", { exact: true }).fill("19.90");
    await admin.getByLabel("Stock", { exact: true }).fill("3");
    await admin.getByLabel("Picture URL (optional)").fill("/images/bag-tote-cn.svg");
    await expectAccessible(admin, "/admin/products (new product form)");
    await admin.getByRole("button", { name: "Create product" }).click();
    await expect(admin.getByText(`Created Gallery Poster (${sku}).`)).toBeVisible();
    const made = await adminApi.searchProducts(sku);
    expect(made).toHaveLength(1);
    expect(made[0].image_url).toBe("/images/bag-tote-cn.svg");
    expect(made[0].price).toBe(1990);
    expect(made[0].stock_quantity).toBe(3);

    await admin.getByLabel("Search by name or SKU").fill(sku);
    await admin.getByRole("button", { name: "Search", exact: true }).click();
    const row = admin.getByTestId(`admin-product-${sku}`);
    await expect(row).toBeVisible();
    await row.getByLabel(/Stock change for/).fill("7");
    await row.getByRole("button", { name: "Apply stock change" }).click();
    await expect(row.getByTestId("admin-stock")).toHaveText(/^10$/);
    expect(await adminApi.productStock(made[0].id)).toBe(10);
    // Archiving is confirmed first (declining keeps it listed).
    await row.getByRole("button", { name: "Archive", exact: true }).click();
    const dialog = admin.getByTestId("confirm-dialog");
    await dialog.getByRole("button", { name: "Keep it listed" }).click();
    await expect(dialog).toHaveCount(0);
    expect(await adminApi.searchProducts(sku)).toHaveLength(1);
    await row.getByRole("button", { name: "Archive", exact: true }).click();
    await dialog.getByRole("button", { name: "Archive", exact: true }).click();
    await expect(row.getByRole("button", { name: "Un-archive" })).toBeVisible();
    expect(await adminApi.searchProducts(sku), "an archived product is still in the catalogue").toHaveLength(0);
    await expectAccessible(admin, "/admin/products (archived row)");
    await shot(admin, "admin-products");
    await row.getByRole("button", { name: "Un-archive" }).click();
    await expect(row.getByRole("button", { name: "Archive", exact: true })).toBeVisible();
    expect(await adminApi.searchProducts(sku)).toHaveLength(1);
  });
});
