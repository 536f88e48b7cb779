import { PHONE, expect, expectAccessible, newAdminPage, shot, sidewaysOverflow, test, unique, type Api, type Product } from "./fixtures";

/**
 * The storefront's own products: 14 whose SKUs share a tag, so searching the tag shows exactly them
 * (the catalogue also holds every other spec's products).
 */
async function stock(adminApi: Api, tag: string) {
  const mug = await adminApi.createProduct({ name: "Enamel Mug", description: "Speckled blue, 350 ml.", price: 1250, stock_quantity: 20, sku: `${tag}-MUG` });
  const lamp = await adminApi.createProduct({ name: "Desk Lamp", description: "Warm LED, brass arm.", price: 4200, stock_quantity: 5, sku: `${tag}-LAMP` });
  const daypack = await adminApi.createProduct({
    name: "Trail Daypack",
    description: "20 litres.\nPadded straps.",
    price: 9900,
    stock_quantity: 8,
    sku: `${tag}-BAG`,
    image_url: "/images/bag-bkp-20.svg",
  });
  const notebooks: Product[] = [];
  for (let i = 1; i <= 11; i++) {
    notebooks.push(await adminApi.createProduct({ name: `Notebook ${i}`, description: null, price: 300 + i * 25, stock_quantity: 50, sku: `${tag}-NB-${i}` }));
  }
  return { mug, lamp, daypack, notebooks };
}

test.describe("the storefront", () => {
  test("the catalogue pages by cursor and searches; cards with pictures or a placeholder, sorting, the product page; SKUs for admins only", async ({
    customer,
    adminApi,
    browser,
  }) => {
    const tag = unique("SF");
    const { mug, daypack } = await stock(adminApi, tag);
    const { page } = customer;
    const products = page.locator("[data-testid^=product-]");

    // The whole catalogue: a first page of 12 (every spec's products count).
    await page.goto("/");
    await expect(page.getByRole("list", { name: "Products" })).toBeVisible();
    await expect(products).toHaveCount(12);
    await expectAccessible(page, "/ (catalogue)");
    await shot(page, "catalogue");

    // Searching the tag: exactly the 14 products made here, 12 then 2.
    await page.getByLabel("Search by name or SKU").fill(tag);
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await expect(page.getByTestId(`product-${mug.sku}`)).toBeVisible();
    await expect(products).toHaveCount(12);
    await page.getByRole("button", { name: "Next →" }).click();
    await expect(page.getByText("Page 2")).toBeVisible();
    await expect(products).toHaveCount(2);
    await expect(page.getByRole("button", { name: "Next →" })).toBeDisabled();
    await page.getByRole("button", { name: "← Previous" }).click();
    await expect(page.getByText("Page 1")).toBeVisible();
    await expect(products).toHaveCount(12);

    // Cards: a picture with its alt text, loaded; a placeholder without one; no SKU for a shopper.
    const card = page.getByTestId(`product-${daypack.sku}`);
    const img = card.getByRole("img", { name: "Trail Daypack" });
    await expect(img).toHaveAttribute("src", "/images/bag-bkp-20.svg");
    await expect.poll(() => img.evaluate((el) => el instanceof HTMLImageElement && el.complete && el.naturalWidth > 0)).toBe(true);
    await expect(page.getByTestId(`product-${mug.sku}`).getByTestId("picture-none")).toBeVisible();
    await expect(page.getByTestId(`product-${mug.sku}`).getByRole("img", { name: "No picture of Enamel Mug" })).toBeVisible();
    await expect(page.locator("[data-testid=sku]")).toHaveCount(0);

    // Sorting (among the search's results): by price, highest first, then by name.
    await page.getByLabel("Sort by").selectOption("price-desc");
    await expect(page.getByText("Page 1 of 2")).toBeVisible();
    const prices = await page.locator("[data-testid^=product-] [data-testid=price]").allTextContents();
    const cents = prices.map((p) => Math.round(Number(p.replace(/[^0-9.]/g, "")) * 100));
    expect(cents[0], `not by price, highest first: ${prices}`).toBe(9900);
    expect(cents, `not by price, highest first: ${prices}`).toEqual([...cents].sort((a, b) => b - a));
    await page.getByLabel("Sort by").selectOption("name");
    await expect(page.locator("[data-testid^=product-] h2").first()).toHaveText("Desk Lamp");
    const names = await page.locator("[data-testid^=product-] h2").allTextContents();
    expect(names, "not by name").toEqual([...names].sort((a, b) => a.localeCompare(b, "en", { numeric: true, sensitivity: "base" })));
    expect(names.slice(0, 4)).toEqual(["Desk Lamp", "Enamel Mug", "Notebook 1", "Notebook 2"]);
    await expectAccessible(page, "/ sorted by name");

    // The product page (from the default order, where the daypack is on the first page of the search).
    await page.getByLabel("Sort by").selectOption("default");
    await card.getByRole("link", { name: "Trail Daypack" }).click();
    await page.waitForURL(new RegExp(`/products/${daypack.id}$`));
    const detail = page.getByTestId("product-detail");
    await expect(detail.getByRole("heading", { name: "Trail Daypack" })).toBeVisible();
    await expect(detail.getByRole("img", { name: "Trail Daypack" })).toBeVisible();
    await expect(detail.getByTestId("price")).toHaveText("$99.00");
    await expect(detail.getByTestId("stock")).toHaveText("8 in stock");
    await expect(detail.getByText("Padded straps.")).toBeVisible();
    await expect(detail.getByTestId("sku")).toHaveCount(0);
    await detail.getByRole("button", { name: "Add to cart" }).click();
    await expect(detail.getByText("In your cart: 1")).toBeVisible();
    await expectAccessible(page, `/products/${daypack.id}`);
    await shot(page, "product-page");

    // A missing product says so.
    await page.goto("/products/999999999");
    await expect(page.getByRole("heading", { name: "Product not found" })).toBeVisible();
    await expectAccessible(page, "/products/999999999");

    // Admins see SKUs, in the catalogue and on the product page.
    const admin = await newAdminPage(browser);
    await admin.goto("/");
    await admin.getByLabel("Search by name or SKU").fill(tag);
    await admin.getByRole("button", { name: "Search", exact: true }).click();
    await expect(admin.getByTestId(`product-${mug.sku}`).getByTestId("sku")).toHaveText(`SKU ${mug.sku}`);
    await expectAccessible(admin, "/ (catalogue, admin)");
    await admin.goto(`/products/${daypack.id}`);
    await expect(admin.getByTestId("product-detail").getByTestId("sku")).toHaveText(`SKU ${daypack.sku}`);
    await admin.context().close();
  });

  test("phone width: the catalogue fits 390 px", async ({ browser, adminApi }) => {
    const tag = unique("SFP");
    await adminApi.createProduct({ name: "Trail Daypack", description: "20 litres.", price: 9900, stock_quantity: 8, sku: `${tag}-BAG`, image_url: "/images/bag-bkp-20.svg" });
    const context = await browser.newContext(PHONE);
    const page = await context.newPage();
    await page.goto("/");
    await expect(page.getByRole("list", { name: "Products" })).toBeVisible();
    expect(await sidewaysOverflow(page), "the catalogue scrolls sideways").toBeLessThanOrEqual(0);
    await expectAccessible(page, "/ (phone)");
    await shot(page, "catalogue-phone");
    await context.close();
  });
});
