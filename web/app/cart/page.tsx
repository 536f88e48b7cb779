"use client";

import Link from "next/link";
import { Empty } from "@/components/ProblemAlert";
import { cart, useCart } from "@/lib/cart";
import { money } from "@/lib/format";

export default function CartPage() {
  const lines = useCart();
  const subtotal = lines.reduce((s, l) => s + l.price * l.quantity, 0);
  return (
    <section>
      <h1>Your cart</h1>
      {lines.length === 0 ? (
        <Empty>
          Your cart is empty. <Link href="/">Browse the catalogue</Link>.
        </Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table>
              <caption className="sr-only">Cart lines</caption>
              <thead>
                <tr>
                  <th scope="col">Product</th>
                  <th scope="col" className="num">Price</th>
                  <th scope="col">Quantity</th>
                  <th scope="col" className="num">Line total</th>
                  <th scope="col"><span className="sr-only">Remove</span></th>
                </tr>
              </thead>
              <tbody>
                {lines.map((l) => (
                  <tr key={l.product_id}>
                    <td>
                      {l.name} <span className="muted">({l.sku})</span>
                    </td>
                    <td className="num">{money(l.price)}</td>
                    <td>
                      <label className="sr-only" htmlFor={`qty-${l.product_id}`}>
                        Quantity of {l.name}
                      </label>
                      <input
                        id={`qty-${l.product_id}`}
                        type="number"
                        min={1}
                        max={1000}
                        value={l.quantity}
                        style={{ maxWidth: "6rem" }}
                        onChange={(e) => cart.setQuantity(l.product_id, Number(e.target.value) || 1)}
                      />
                    </td>
                    <td className="num">{money(l.price * l.quantity)}</td>
                    <td>
                      <button type="button" className="secondary" onClick={() => cart.remove(l.product_id)} aria-label={`Remove ${l.name}`}>
                        Remove
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p>
            Subtotal: <strong>{money(subtotal)}</strong> <span className="muted">(shipping and tax are computed at checkout)</span>
          </p>
          <div className="form-actions">
            <Link className="button" href="/checkout">
              Checkout
            </Link>
            <button type="button" className="secondary" onClick={() => cart.clear()}>
              Empty cart
            </button>
          </div>
        </>
      )}
    </section>
  );
}
