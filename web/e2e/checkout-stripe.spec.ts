/**
 * The checkout with the Stripe provider: a card form from Stripe.js, against the second stack
 * scripts/web-e2e.sh starts (Playwright project `stripe`): the app built with
 * NEXT_PUBLIC_PAYMENT_PROVIDER=stripe and NEXT_PUBLIC_STRIPE_JS_URL at localstripe's fake Stripe.js,
 * oms with PAYMENT_PROVIDER=stripe charging localstripe. Without that stack (STRIPE_WEB_URL unset)
 * every test here is skipped.
 *
 * localstripe's Stripe.js draws the card Element as plain inputs in the page (placeholders `number`,
 * `exp_month`, `exp_year`, `cvc`, `postal_code`) where Stripe draws its own frame; they are the fake's
 * markup, not this app's, so the accessibility check leaves them out.
 *
 * localstripe 1.15's Stripe.js lacks one call the app makes: its `createPaymentMethod` is a stub that
 * answers nothing, and its server takes `POST /v1/payment_methods` only with the secret key. The spec
 * completes the fake in the browser (`completeFakeStripeJs`): it appends a `createPaymentMethod` that
 * does what Stripe.js does (the card Element's values to `/v1/payment_methods`, answering
 * `{paymentMethod}` or `{error}`), and adds the test-mode secret key to that request on its way. The
 * app's code is the same as with Stripe's own Stripe.js. Card numbers are localstripe's: 4242…4242
 * succeeds, 4000…0341 is declined when charged, 4000 0025 0000 3155 needs 3-D Secure.
 */
import type { APIRequestContext, Browser, BrowserContext, Page } from "@playwright/test";
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  Api,
  addToCart,
  expect,
  expectAccessible,
  logPageErrors,
  newCustomer,
  orderBody,
  orderIdOf,
  shot,
  test,
  unique,
  type Customer,
  type OrderBody,
} from "./fixtures";

const STRIPE_WEB_URL = process.env.STRIPE_WEB_URL ?? "";
const STRIPE_API_URL = process.env.STRIPE_API_URL ?? "";
const LOCALSTRIPE_URL = process.env.LOCALSTRIPE_URL ?? "";
const STRIPE_SECRET_KEY = process.env.STRIPE_SECRET_KEY ?? "";
/** The fake card Element's inputs (see above). */
const FAKE_CARD = ["#card-element"];

/** Appended to localstripe's Stripe.js: createPaymentMethod, as above (plain ES2017, no imports). */
const CREATE_PAYMENT_METHOD = `
;(function () {
  var source = LOCALSTRIPE_BASE_API;
  var make = Stripe;
  Stripe = function (key) {
    var stripe = make(key);
    stripe.createPaymentMethod = async function (data) {
      var card = data && data.card && data.card.value && data.card.value.card;
      if (!card || !card.number) {
        return { error: { type: "validation_error", code: "incomplete_number", message: "Your card number is incomplete." } };
      }
      var body = new URLSearchParams();
      body.set("type", "card");
      ["number", "exp_month", "exp_year", "cvc"].forEach(function (k) { body.set("card[" + k + "]", card[k]); });
      var response = await fetch(source + "/v1/payment_methods", { method: "POST", body: body });
      var json = await response.json().catch(function () { return {}; });
      return response.ok ? { paymentMethod: json } : { error: json.error || { message: "Your card could not be used." } };
    };
    return stripe;
  };
})();
`;

/** Completes localstripe's Stripe.js in this browser context (see the top of the file). */
async function completeFakeStripeJs(context: BrowserContext): Promise<void> {
  const jsUrl = `${LOCALSTRIPE_URL}/js.stripe.com/v3/`;
  await context.route(
    (url) => url.href === jsUrl,
    async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, body: (await response.text()) + CREATE_PAYMENT_METHOD });
    },
  );
  await context.route(
    (url) => url.href === `${LOCALSTRIPE_URL}/v1/payment_methods`,
    async (route) => {
      const response = await route.fetch({ headers: { ...route.request().headers(), authorization: `Bearer ${STRIPE_SECRET_KEY}` } });
      await route.fulfill({ response });
    },
  );
}

type Intent = { id: string; status: string; payment_method: string | null; metadata: Record<string, string> };

/** The PaymentIntents localstripe holds for the order. */
async function intentsOf(request: APIRequestContext, orderId: string): Promise<Intent[]> {
  const r = await request.get(`${LOCALSTRIPE_URL}/v1/payment_intents?limit=100`, { headers: { Authorization: `Bearer ${STRIPE_SECRET_KEY}` } });
  expect(r.status(), "GET localstripe /v1/payment_intents").toBe(200);
  return ((await r.json()).data as Intent[]).filter((i) => i.metadata?.order_id === orderId);
}

async function stripeShopper(browser: Browser, request: APIRequestContext): Promise<Customer> {
  const shopper = await newCustomer(browser, request, { baseURL: STRIPE_WEB_URL }, STRIPE_API_URL);
  logPageErrors(shopper.page, "stripe shopper");
  await completeFakeStripeJs(shopper.context);
  return shopper;
}

/** Opens the checkout, fills the address (GB) and waits for the card form. */
async function fillAddress(page: Page): Promise<void> {
  await page.goto("/checkout");
  await page.getByLabel("Full name").fill("Ada Lovelace");
  await page.getByLabel("Address line 1").fill("1 Main St");
  await page.getByLabel("City").fill("London");
  await page.getByLabel("Postal code (optional)").fill("N1 9GU");
  await page.getByLabel("Country").selectOption("GB");
  await expect(page.getByTestId("card-element")).toHaveAttribute("data-state", "ready");
}

/** Types a card into localstripe's card Element (expiry 12/2040). */
async function fillCard(page: Page, number: string): Promise<void> {
  const card = page.getByTestId("card-element");
  await card.getByPlaceholder("number", { exact: true }).fill(number);
  await card.getByPlaceholder("exp_month", { exact: true }).fill("12");
  await card.getByPlaceholder("exp_year", { exact: true }).fill("40");
  await card.getByPlaceholder("cvc", { exact: true }).fill("123");
  await card.getByPlaceholder("postal_code", { exact: true }).fill("42424");
}

test.describe("the Stripe checkout (card form, localstripe)", () => {
  test.skip(!STRIPE_WEB_URL || !STRIPE_API_URL || !LOCALSTRIPE_URL, "no Stripe stack: scripts/web-e2e.sh starts one (STRIPE_WEB_URL, STRIPE_API_URL)");

  test("a card that succeeds pays the order: the order's page shows it PAID; no test-token field", async ({ browser, request }) => {
    const admin = await Api.signIn(request, ADMIN_EMAIL, ADMIN_PASSWORD, STRIPE_API_URL);
    const mug = await admin.createProduct({ name: "Enamel Mug", description: "Speckled blue, 350 ml.", price: 1250, stock_quantity: 20, sku: unique("MUG") });
    const { page, context } = await stripeShopper(browser, request);
    await addToCart(page, mug.sku);
    await fillAddress(page);
    // The card form, labelled, instead of the simulated provider's token field.
    await expect(page.getByRole("group", { name: "Card" })).toBeVisible();
    await expect(page.getByLabel("Test payment token")).toHaveCount(0);
    await expect(page.locator("#payment-token")).toHaveCount(0);
    await expect(page.getByLabel("Stripe PaymentMethod id")).toHaveCount(0);
    await expect(page.getByTestId("quote-total")).toHaveText("$21.00");
    await fillCard(page, "4242424242424242");
    await expectAccessible(page, "/checkout (Stripe)", FAKE_CARD);
    await shot(page, "checkout-stripe");

    await page.getByTestId("place-order").click();
    await page.waitForURL(/\/orders\/[0-9a-f-]{36}/);
    const orderId = orderIdOf(page);
    await expect(page.getByTestId("order-status")).toHaveText("PAID");
    await expect(page.getByTestId("order-total")).toHaveText("$21.00");
    await expectAccessible(page, `/orders/${orderId} (Stripe)`);
    // Charged once, through a PaymentMethod the page made with Stripe.js.
    const intents = await intentsOf(request, orderId);
    expect(intents.map((i) => i.status)).toEqual(["succeeded"]);
    expect(intents[0].payment_method ?? "").toMatch(/^pm_/);
    expect((await admin.order(orderId)).payment_status).toBe("captured");
    await context.close();
  });

  test("a declined card is shown at the card field, charges nothing and keeps the cart", async ({ browser, request }) => {
    const admin = await Api.signIn(request, ADMIN_EMAIL, ADMIN_PASSWORD, STRIPE_API_URL);
    const lamp = await admin.createProduct({ name: "Desk Lamp", description: "Warm LED, brass arm.", price: 4200, stock_quantity: 5, sku: unique("LAMP") });
    const { page, context, email } = await stripeShopper(browser, request);
    await addToCart(page, lamp.sku);
    await fillAddress(page);
    await fillCard(page, "4000000000000341");
    await page.getByTestId("place-order").click();
    const declined = page.getByRole("group", { name: "Payment" }).getByTestId("payment-declined");
    await expect(declined).toBeVisible();
    await expect(declined).toHaveAttribute("role", "alert");
    await expect(declined).toContainText("Your card was declined.");
    const describedBy = (await page.getByRole("group", { name: "Card" }).getAttribute("aria-describedby")) ?? "";
    expect(describedBy.split(" "), "the card field is not described by the decline").toContain("payment-declined");
    expect(page.url(), "left the checkout page after a decline").toMatch(/\/checkout$/);
    await expectAccessible(page, "/checkout (Stripe, declined)", FAKE_CARD);
    await shot(page, "checkout-stripe-declined");
    // Nothing chargeable: the one order made is cancelled, its stock back, no intent succeeded.
    const orders = await admin.adminOrders(`email=${encodeURIComponent(email)}`);
    expect(orders.map((o) => o.status)).toEqual(["CANCELLED"]);
    expect(await admin.productStock(lamp.id), "the stock changed").toBe(5);
    expect((await intentsOf(request, orders[0].id)).filter((i) => i.status === "succeeded")).toEqual([]);
    await expect(page.getByTestId("quote")).toContainText("1 × Desk Lamp");
    await context.close();
  });

  test("a card Stripe.js refuses is shown at the field (role=alert) and places nothing", async ({ browser, request }) => {
    const admin = await Api.signIn(request, ADMIN_EMAIL, ADMIN_PASSWORD, STRIPE_API_URL);
    const mug = await admin.createProduct({ name: "Enamel Mug", description: null, price: 1250, stock_quantity: 20, sku: unique("MUG") });
    const { page, context, email } = await stripeShopper(browser, request);
    await addToCart(page, mug.sku);
    await fillAddress(page);
    // Too short for a card number: refused when the PaymentMethod is made, before any order.
    await fillCard(page, "424242424242");
    await page.getByTestId("place-order").click();
    const error = page.getByTestId("card-error");
    await expect(error).toBeVisible();
    await expect(error).toHaveAttribute("role", "alert");
    const describedBy = (await page.getByRole("group", { name: "Card" }).getAttribute("aria-describedby")) ?? "";
    expect(describedBy.split(" ")).toContain("card-error");
    await expect(page.getByTestId("place-order")).toBeEnabled();
    await expectAccessible(page, "/checkout (Stripe, card error)", FAKE_CARD);
    expect(await admin.adminOrders(`email=${encodeURIComponent(email)}`), "an order was placed").toEqual([]);
    await context.close();
  });

  test("an unpaid order is paid from its page with a card (no token field there either)", async ({ browser, request }) => {
    const admin = await Api.signIn(request, ADMIN_EMAIL, ADMIN_PASSWORD, STRIPE_API_URL);
    const mug = await admin.createProduct({ name: "Enamel Mug", description: null, price: 1250, stock_quantity: 20, sku: unique("MUG") });
    const { page, context, api } = await stripeShopper(browser, request);
    // Placed without a payment (the API allows it): PENDING, unpaid, payable from its page.
    const { payment: _none, ...unpaid } = orderBody(mug.id);
    const placed = await api.placeOrder(unpaid as OrderBody);
    expect(placed.body.status, JSON.stringify(placed.body)).toBe("PENDING");
    await page.goto(`/orders/${placed.body.id}`);
    await expect(page.getByTestId("payment-status")).toHaveText("unpaid");
    await expect(page.getByLabel("Test payment token")).toHaveCount(0);
    await expect(page.getByLabel("Stripe PaymentMethod id")).toHaveCount(0);
    await expect(page.getByTestId("card-element")).toHaveAttribute("data-state", "ready");
    await fillCard(page, "4242424242424242");
    await expectAccessible(page, `/orders/${placed.body.id} (Stripe, unpaid)`, FAKE_CARD);
    await page.getByRole("button", { name: "Pay now" }).click();
    await expect(page.getByTestId("order-status")).toHaveText("PAID");
    expect((await intentsOf(request, placed.body.id)).map((i) => i.status)).toEqual(["succeeded"]);
    await context.close();
  });

  test("a card that needs 3-D Secure: the bank's confirmation in the page, then the order turns PAID live", async ({ browser, request }) => {
    const admin = await Api.signIn(request, ADMIN_EMAIL, ADMIN_PASSWORD, STRIPE_API_URL);
    const mug = await admin.createProduct({ name: "Enamel Mug", description: null, price: 1250, stock_quantity: 20, sku: unique("MUG") });
    const { page, context } = await stripeShopper(browser, request);
    await addToCart(page, mug.sku);
    await fillAddress(page);
    await fillCard(page, "4000002500003155");
    await page.getByTestId("place-order").click();
    // 202 processing with the client secret: the page shows it waits for the bank, and Stripe.js
    // its confirmation (localstripe: a box with two buttons).
    await expect(page.getByTestId("payment-action")).toBeVisible();
    await page.getByRole("button", { name: "Complete authentication" }).click();
    await page.waitForURL(/\/orders\/[0-9a-f-]{36}/);
    const orderId = orderIdOf(page);
    // localstripe's payment_intent.succeeded webhook pays it; the page follows live.
    await expect(page.getByTestId("order-status")).toHaveText("PAID");
    expect((await intentsOf(request, orderId)).map((i) => i.status)).toEqual(["succeeded"]);
    await context.close();
  });
});
