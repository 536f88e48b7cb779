/**
 * The admin order page's pure logic: each line's unit counts, what a shipment or a refund may take,
 * and the refund amount previewed exactly as the server computes it (shared/API.md, "Shipments and
 * refunds"), so the admin sees the amount before confirming.
 */
import { money } from "./format";
import type { Order, OrderHistoryEntry, OrderItem, RefundInput, RefundItem, Restock, ShipmentInput } from "./api";

/** A line's units: every unit is open, shipped or cancelled; shipped ones may be returned. */
export interface LineCounts {
  quantity: number;
  shipped: number;
  cancelled: number;
  returned: number;
  /** Still to ship. */
  open: number;
  /** Shipped and not yet refunded as returned / not restocked. */
  shippedRefundable: number;
}

export function lineCounts(item: OrderItem): LineCounts {
  const shipped = item.quantity_shipped ?? 0;
  const cancelled = item.quantity_cancelled ?? 0;
  const returned = item.quantity_returned ?? 0;
  return {
    quantity: item.quantity,
    shipped,
    cancelled,
    returned,
    open: Math.max(0, item.quantity - shipped - cancelled),
    shippedRefundable: Math.max(0, shipped - returned),
  };
}

/** How many units of `item` a refund with `restock` may take now. */
export function refundableUnits(item: OrderItem, restock: Restock): number {
  const c = lineCounts(item);
  return restock === "cancel" ? c.open : c.shippedRefundable;
}

/** Captured and not yet refunded: the most any refund can return. */
export function remainingCaptured(order: Order): number {
  if (order.payment_status !== "captured" && order.payment_status !== "partially_refunded") return 0;
  return Math.max(0, order.total_amount - (order.refunded_amount ?? 0));
}

export function isRefundable(order: Order): boolean {
  return remainingCaptured(order) > 0;
}

/** Only a PAID order with open units ships. */
export function isShippable(order: Order): boolean {
  return order.status === "PAID" && order.items.some((i) => lineCounts(i).open > 0);
}

/** Rounds `num / den` (den > 0, num ≥ 0) to an integer, half to even. */
export function divHalfEven(num: bigint, den: bigint): bigint {
  const q = num / den;
  const r = num % den;
  const twice = r * 2n;
  if (twice > den) return q + 1n;
  if (twice < den) return q;
  return q % 2n === 0n ? q : q + 1n;
}

export interface RefundPreview {
  /** What the refund will return (cents), after the cap. */
  amount: number;
  /** Units and shipping before tax. */
  base: number;
  tax: number;
  /** True when the computed amount exceeded what remains captured. */
  capped: boolean;
  remaining: number;
}

/**
 * The amount of a refund of `items` (and the shipping when `shipping`): Σ unit_price × quantity,
 * plus the shipping amount, plus the tax on that sum at the order's own rate (its `tax_amount` over
 * `subtotal + shipping_amount`, half to even), capped at what remains captured.
 */
export function previewItemsRefund(order: Order, items: { product_id: number; quantity: number }[], shipping: boolean): RefundPreview {
  const prices = new Map(order.items.map((i) => [i.product_id, i.unit_price]));
  let base = 0n;
  for (const it of items) base += BigInt(prices.get(it.product_id) ?? 0) * BigInt(it.quantity);
  if (shipping) base += BigInt(order.shipping_amount);
  const taxBase = BigInt(order.subtotal + order.shipping_amount);
  const tax = taxBase > 0n ? divHalfEven(base * BigInt(order.tax_amount), taxBase) : 0n;
  const total = Number(base + tax);
  const remaining = remainingCaptured(order);
  return { amount: Math.min(total, remaining), base: Number(base), tax: Number(tax), capped: total > remaining, remaining };
}

/** One line of the refund form as typed. */
export interface RefundLineDraft {
  product_id: number;
  quantity: string;
  restock: Restock;
}

export type RefundDraft =
  | { mode: "items"; lines: RefundLineDraft[]; shipping: boolean; reason: string }
  | { mode: "amount"; amount: string; reason: string };

/** Field errors keyed like the server's (`items[i].quantity`, `amount`, `reason`). */
export type FieldErrors = Record<string, string>;

/** A whole number typed in a field; null when it is not one. */
export function parseCount(text: string): number | null {
  const t = text.trim();
  if (t === "") return 0;
  return /^\d{1,6}$/.test(t) ? Number(t) : null;
}

/**
 * The refund request a draft makes, or the field errors that stop it. Lines left at 0 are left out;
 * the field keys of line errors use the line's index in the order (the form's row), not in the
 * request. `parseAmount` turns the typed amount into cents (null when invalid).
 */
export function buildRefund(
  order: Order,
  draft: RefundDraft,
  parseAmount: (text: string) => number | null,
): { input: RefundInput; preview: RefundPreview } | { errors: FieldErrors } {
  const errors: FieldErrors = {};
  const reason = draft.reason.trim();
  if (!reason) errors.reason = "Give a reason (the customer does not see it).";
  else if (reason.length > 500) errors.reason = "At most 500 characters.";
  const remaining = remainingCaptured(order);
  if (draft.mode === "amount") {
    const cents = parseAmount(draft.amount);
    if (cents === null || cents < 1) errors.amount = "An amount such as 5 or 12.50, at least 0.01.";
    else if (cents > remaining) errors.amount = `At most what remains captured (${money(remaining, order.currency)}).`;
    if (Object.keys(errors).length || cents === null) return { errors };
    return {
      input: { amount: cents, reason },
      preview: { amount: cents, base: cents, tax: 0, capped: false, remaining },
    };
  }
  const items: RefundItem[] = [];
  draft.lines.forEach((line, index) => {
    const item = order.items.find((i) => i.product_id === line.product_id);
    const n = parseCount(line.quantity);
    const key = `lines[${index}].quantity`;
    if (!item || n === null) {
      errors[key] = "A whole number.";
      return;
    }
    if (n === 0) return;
    const max = refundableUnits(item, line.restock);
    if (n > max) {
      errors[key] =
        line.restock === "cancel" ? `Only ${max} unit(s) not shipped yet.` : `Only ${max} shipped unit(s) not refunded yet.`;
      return;
    }
    items.push({ product_id: line.product_id, quantity: n, restock: line.restock });
  });
  if (!items.length && !draft.shipping && !Object.keys(errors).some((k) => k.startsWith("lines"))) {
    errors.form = "Choose units to refund, or the shipping.";
  }
  if (Object.keys(errors).length) return { errors };
  const input: RefundInput = { reason };
  if (items.length) input.items = items;
  if (draft.shipping) input.shipping = true;
  return { input, preview: previewItemsRefund(order, items, draft.shipping) };
}

/** One line of the shipment form as typed. */
export interface ShipLineDraft {
  product_id: number;
  quantity: string;
}

/**
 * The shipment request of a draft: `all` ships every open unit (no `items`); else the lines with a
 * quantity above 0. Carrier and tracking number go together.
 */
export function buildShipment(
  order: Order,
  draft: { all: boolean; lines: ShipLineDraft[]; carrier: string; tracking: string; note: string },
): { input: ShipmentInput; units: number } | { errors: FieldErrors } {
  const errors: FieldErrors = {};
  const carrier = draft.carrier.trim();
  const tracking = draft.tracking.trim();
  if (carrier && !tracking) errors.tracking_number = "A carrier needs a tracking number.";
  if (tracking && !carrier) errors.carrier = "A tracking number needs a carrier.";
  if (carrier.length > 100) errors.carrier = "At most 100 characters.";
  if (tracking.length > 100) errors.tracking_number = "At most 100 characters.";
  const input: ShipmentInput = {};
  let units = 0;
  if (draft.all) {
    units = order.items.reduce((n, i) => n + lineCounts(i).open, 0);
    if (units === 0) errors.form = "Nothing is left to ship.";
  } else {
    const items: { product_id: number; quantity: number }[] = [];
    draft.lines.forEach((line, index) => {
      const item = order.items.find((i) => i.product_id === line.product_id);
      const n = parseCount(line.quantity);
      const key = `lines[${index}].quantity`;
      if (!item || n === null) {
        errors[key] = "A whole number.";
        return;
      }
      if (n === 0) return;
      const open = lineCounts(item).open;
      if (n > open) {
        errors[key] = `Only ${open} unit(s) left to ship.`;
        return;
      }
      items.push({ product_id: line.product_id, quantity: n });
      units += n;
    });
    if (!items.length && !Object.keys(errors).some((k) => k.startsWith("lines"))) errors.form = "Choose at least one unit to ship.";
    input.items = items;
  }
  if (Object.keys(errors).length) return { errors };
  if (carrier) {
    input.carrier = carrier;
    input.tracking_number = tracking;
  }
  if (draft.note.trim()) input.note = draft.note.trim();
  return { input, units };
}

/**
 * Maps a problem's `errors` (request field paths such as `items[1].quantity`, with `product_id`) to
 * the form's keys (`lines[<row>].quantity`, the row being the line's index in the order).
 */
export function lineErrorsFromProblem(
  order: Order,
  errors: { field: string; message: string; product_id?: number }[] | undefined,
): FieldErrors {
  const out: FieldErrors = {};
  for (const e of errors ?? []) {
    const row = e.product_id !== undefined ? order.items.findIndex((i) => i.product_id === e.product_id) : -1;
    if (row >= 0 && /^items\[\d+\]/.test(e.field)) out[`lines[${row}].quantity`] = e.message;
    else out[e.field] = e.message;
  }
  return out;
}

/** How a history entry reads on the admin page; notes are internal. */
export function historyLabel(entry: OrderHistoryEntry): { text: string; internal: boolean } {
  if (entry.type === "note") return { text: "Internal note", internal: true };
  const kinds: Record<string, string> = {
    "order.shipped": "Shipment",
    "order.refunded": "Refund",
    "order.created": "Placed",
    "order.paid": "Paid",
    "order.cancelled": "Cancelled",
  };
  const move = entry.from_status && entry.to_status && entry.from_status !== entry.to_status ? `${entry.from_status} → ${entry.to_status}` : "";
  const kind = kinds[entry.type];
  if (kind && move) return { text: `${kind}: ${move}`, internal: false };
  if (kind) return { text: kind, internal: false };
  return { text: move || entry.to_status || entry.type, internal: false };
}
