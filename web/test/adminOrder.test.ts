import { describe, expect, it } from "vitest";
import type { Order } from "../lib/api";
import {
  buildRefund,
  buildShipment,
  divHalfEven,
  historyLabel,
  isRefundable,
  isShippable,
  lineCounts,
  lineErrorsFromProblem,
  previewItemsRefund,
  remainingCaptured,
} from "../lib/adminOrder";
import { parseMoney } from "../lib/format";

/** Two mugs at $12.50 and a lamp at $30, to GB (20 % tax), flat shipping $5: 55 + 5 = 60, tax 12, total 72. */
function order(patch: Partial<Order> = {}): Order {
  return {
    id: "0193-aaaa",
    user_id: 7,
    status: "PAID",
    payment_status: "captured",
    payment_collected: true,
    allowed_transitions: ["FULFILLED", "CANCELLED"],
    subtotal: 5500,
    shipping_amount: 500,
    tax_amount: 1200,
    total_amount: 7200,
    refunded_amount: 0,
    currency: "USD",
    shipping_address: { name: "Ada", line1: "1 Main St", line2: null, city: "London", region: null, postal_code: null, country: "GB" },
    tracking: null,
    items: [
      { product_id: 1, sku: "MUG", name: "Mug", quantity: 2, unit_price: 1250, line_total: 2500, quantity_shipped: 0, quantity_cancelled: 0, quantity_returned: 0 },
      { product_id: 2, sku: "LAMP", name: "Lamp", quantity: 1, unit_price: 3000, line_total: 3000, quantity_shipped: 0, quantity_cancelled: 0, quantity_returned: 0 },
    ],
    shipments: [],
    refunds: [],
    created_at: "2026-12-04T10:00:00Z",
    updated_at: "2026-12-04T10:00:00Z",
    ...patch,
  };
}

describe("line counts", () => {
  it("open = ordered - shipped - cancelled; shipped units not yet returned are refundable", () => {
    const c = lineCounts({ ...order().items[0], quantity: 5, quantity_shipped: 2, quantity_cancelled: 1, quantity_returned: 1 });
    expect(c).toMatchObject({ open: 2, shipped: 2, cancelled: 1, returned: 1, shippedRefundable: 1 });
  });
  it("treats missing v3 counts as 0", () => {
    const { quantity_shipped: _s, quantity_cancelled: _c, quantity_returned: _r, ...old } = order().items[0];
    expect(lineCounts(old).open).toBe(2);
  });
  it("a PAID order with open units ships; a fully shipped or cancelled one does not", () => {
    expect(isShippable(order())).toBe(true);
    expect(isShippable(order({ status: "PENDING" }))).toBe(false);
    const shipped = order({ items: order().items.map((i) => ({ ...i, quantity_shipped: i.quantity })) });
    expect(isShippable(shipped)).toBe(false);
  });
});

describe("refund preview (as the server computes it)", () => {
  it("units plus tax at the order's own rate", () => {
    // one mug: 1250 + 1250 * 1200 / 6000 = 1250 + 250
    expect(previewItemsRefund(order(), [{ product_id: 1, quantity: 1 }], false)).toMatchObject({ amount: 1500, base: 1250, tax: 250, capped: false });
  });
  it("adds the shipping and its tax", () => {
    expect(previewItemsRefund(order(), [], true)).toMatchObject({ amount: 600, base: 500, tax: 100 });
  });
  it("rounds the tax half to even", () => {
    // tax rate 1/8: 100 * 1/8 = 12.5 -> 12; 300 * 1/8 = 37.5 -> 38
    const o = order({ subtotal: 800, shipping_amount: 0, tax_amount: 100, total_amount: 900, items: [{ ...order().items[0], unit_price: 100, quantity: 8 }] });
    expect(previewItemsRefund(o, [{ product_id: 1, quantity: 1 }], false).tax).toBe(12);
    expect(previewItemsRefund(o, [{ product_id: 1, quantity: 3 }], false).tax).toBe(38);
    expect(divHalfEven(5n, 2n)).toBe(2n);
    expect(divHalfEven(7n, 2n)).toBe(4n);
    expect(divHalfEven(7n, 3n)).toBe(2n);
  });
  it("is capped at what remains captured", () => {
    const o = order({ payment_status: "partially_refunded", refunded_amount: 7000 });
    expect(remainingCaptured(o)).toBe(200);
    expect(previewItemsRefund(o, [{ product_id: 2, quantity: 1 }], false)).toMatchObject({ amount: 200, capped: true });
  });
  it("nothing is refundable unless captured or partially refunded", () => {
    expect(isRefundable(order({ payment_status: "unpaid" }))).toBe(false);
    expect(isRefundable(order({ payment_status: "refunded", refunded_amount: 7200 }))).toBe(false);
    expect(isRefundable(order())).toBe(true);
  });
});

describe("buildRefund", () => {
  const lines = (q0: string, q1: string) => [
    { product_id: 1, quantity: q0, restock: "cancel" as const },
    { product_id: 2, quantity: q1, restock: "cancel" as const },
  ];
  it("sends the lines above 0 with their restock, and the preview", () => {
    const r = buildRefund(order(), { mode: "items", lines: lines("1", "0"), shipping: false, reason: " damaged " }, parseMoney);
    expect(r).toEqual({
      input: { items: [{ product_id: 1, quantity: 1, restock: "cancel" }], reason: "damaged" },
      preview: expect.objectContaining({ amount: 1500 }),
    });
  });
  it("refuses more units than the line has in that state, keyed by the form's row", () => {
    const r = buildRefund(order(), { mode: "items", lines: [lines("0", "0")[0], { product_id: 2, quantity: "1", restock: "return" }], shipping: false, reason: "x" }, parseMoney);
    expect(r).toEqual({ errors: { "lines[1].quantity": "Only 0 shipped unit(s) not refunded yet." } });
  });
  it("needs units or the shipping, and a reason", () => {
    expect(buildRefund(order(), { mode: "items", lines: lines("0", ""), shipping: false, reason: "" }, parseMoney)).toEqual({
      errors: { reason: expect.any(String), form: expect.any(String) },
    });
    const shipping = buildRefund(order(), { mode: "items", lines: lines("0", "0"), shipping: true, reason: "late" }, parseMoney);
    expect(shipping).toMatchObject({ input: { shipping: true, reason: "late" }, preview: { amount: 600 } });
  });
  it("an amount alone: at least a cent, at most what remains captured", () => {
    expect(buildRefund(order(), { mode: "amount", amount: "5", reason: "sorry" }, parseMoney)).toMatchObject({ input: { amount: 500, reason: "sorry" }, preview: { amount: 500 } });
    expect(buildRefund(order(), { mode: "amount", amount: "0", reason: "sorry" }, parseMoney)).toHaveProperty("errors.amount");
    expect(buildRefund(order(), { mode: "amount", amount: "72.01", reason: "sorry" }, parseMoney)).toEqual({ errors: { amount: "At most what remains captured ($72.00)." } });
    expect(buildRefund(order(), { mode: "amount", amount: "abc", reason: "sorry" }, parseMoney)).toHaveProperty("errors.amount");
  });
});

describe("buildShipment", () => {
  const draft = { all: false, lines: [{ product_id: 1, quantity: "1" }, { product_id: 2, quantity: "0" }], carrier: "", tracking: "", note: "" };
  it("ships some units: only the lines above 0", () => {
    expect(buildShipment(order(), draft)).toEqual({ input: { items: [{ product_id: 1, quantity: 1 }] }, units: 1 });
  });
  it("ships everything without items", () => {
    expect(buildShipment(order(), { ...draft, all: true, carrier: "DHL", tracking: "JD1", note: " fragile " })).toEqual({
      input: { carrier: "DHL", tracking_number: "JD1", note: "fragile" },
      units: 3,
    });
  });
  it("carrier and tracking number go together; no more than the open units", () => {
    expect(buildShipment(order(), { ...draft, carrier: "DHL" })).toEqual({ errors: { tracking_number: expect.any(String) } });
    expect(buildShipment(order(), { ...draft, lines: [{ product_id: 1, quantity: "3" }, { product_id: 2, quantity: "0" }] })).toEqual({
      errors: { "lines[0].quantity": "Only 2 unit(s) left to ship." },
    });
    expect(buildShipment(order(), { ...draft, lines: [{ product_id: 1, quantity: "0" }, { product_id: 2, quantity: "0" }] })).toHaveProperty("errors.form");
  });
});

describe("problems and history", () => {
  it("maps the server's line errors (request index) to the form's rows (by product)", () => {
    expect(lineErrorsFromProblem(order(), [{ field: "items[0].quantity", message: "too many", product_id: 2 }, { field: "reason", message: "empty" }])).toEqual({
      "lines[1].quantity": "too many",
      reason: "empty",
    });
  });
  it("marks notes as internal", () => {
    const base = { id: 1, from_status: null, to_status: null, actor: { id: 1, role: "ADMIN" as const }, note: "call back", occurred_at: "" };
    expect(historyLabel({ ...base, type: "note" })).toEqual({ text: "Internal note", internal: true });
    expect(historyLabel({ ...base, type: "order.paid", from_status: "PENDING", to_status: "PAID" })).toEqual({ text: "Paid: PENDING → PAID", internal: false });
    expect(historyLabel({ ...base, type: "order.shipped", from_status: "PAID", to_status: "PAID" })).toEqual({ text: "Shipment", internal: false });
  });
});
