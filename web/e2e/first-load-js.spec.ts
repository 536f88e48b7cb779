import { gzipSync } from "node:zlib";
import { expect, test, unique } from "./fixtures";

/**
 * A figure, not a check: the JavaScript a fresh visitor downloads for each route (raw and gzip), the
 * largest first. Printed and attached to the report.
 */
test("first-load JS per route", async ({ browser, customer, adminApi }) => {
  const mug = await adminApi.createProduct({ name: "Enamel Mug", description: null, price: 1250, stock_quantity: 20, sku: unique("MUG") });
  const order = await customer.api.placePaidOrder(mug.id);
  const routes = ["/", "/signin", "/cart", "/checkout", "/orders", `/orders/${order.id}`, `/products/${mug.id}`, "/account", "/admin", "/admin/orders", "/admin/products"];
  const sizes: { path: string; raw: number; gzip: number; files: number }[] = [];
  for (const path of routes) {
    const context = await browser.newContext({ baseURL: test.info().project.use.baseURL });
    const page = await context.newPage();
    const bodies: Promise<Buffer>[] = [];
    page.on("response", (response) => {
      if (/\/_next\/static\/.*\.js(\?|$)/.test(response.url())) bodies.push(response.body().catch(() => Buffer.alloc(0)));
    });
    await page.goto(path, { waitUntil: "load" });
    // Rendered (every route has a heading, a signed-out visitor's included), then a settling window
    // for late chunks, as the figure has always been taken (it measures; it asserts nothing timed).
    // Prefetches that start later are not counted. (networkidle never comes: live connections.)
    await expect(page.getByRole("heading", { level: 1 }).first()).toBeVisible();
    await page.waitForTimeout(1000);
    const all = await Promise.all(bodies);
    await context.close();
    sizes.push({ path, raw: all.reduce((n, b) => n + b.length, 0), gzip: all.reduce((n, b) => n + gzipSync(b).length, 0), files: all.length });
  }
  expect(sizes.every((s) => s.files > 0), "a route loaded no JavaScript").toBe(true);
  sizes.sort((a, b) => b.gzip - a.gzip);
  for (const s of sizes) {
    console.log(`  ${s.path.padEnd(48)} ${(s.raw / 1024).toFixed(1)} kB raw, ${(s.gzip / 1024).toFixed(1)} kB gzip, ${s.files} files`);
  }
  const figure = `largest first-load JS: ${sizes[0].path} ${(sizes[0].gzip / 1024).toFixed(1)} kB gzip (${(sizes[0].raw / 1024).toFixed(1)} kB raw)`;
  console.log(`figure: ${figure}`);
  test.info().annotations.push({ type: "figure", description: figure });
});
