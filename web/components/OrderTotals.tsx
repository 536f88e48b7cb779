import type { ReactNode } from "react";
import type { Order } from "@/lib/api";
import { money } from "@/lib/format";

/** An order's subtotal, shipping, tax and total, then any further rows (`children`: `<dt>`/`<dd>` pairs). */
export function OrderTotals({ order, children }: { order: Order; children?: ReactNode }) {
  return (
    <dl className="summary">
      <dt>Subtotal</dt>
      <dd>{money(order.subtotal, order.currency)}</dd>
      <dt>Shipping</dt>
      <dd>{money(order.shipping_amount, order.currency)}</dd>
      <dt>Tax</dt>
      <dd>{money(order.tax_amount, order.currency)}</dd>
      <dt>Total</dt>
      <dd>
        <strong data-testid="order-total">{money(order.total_amount, order.currency)}</strong>
      </dd>
      {children}
    </dl>
  );
}
