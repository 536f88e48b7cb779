"use client";

import Link from "next/link";
import { Fragment, useEffect, useRef, useState } from "react";
import { Empty } from "@/components/ProblemAlert";
import { QuantityControl } from "@/components/QuantityControl";
import { api } from "@/lib/api";
import { cart, maxQuantity, useCart, type RemovedLine } from "@/lib/cart";
import { money } from "@/lib/format";
import { useSession } from "@/lib/session";

const UNDO_MS = 15_000;

export default function CartPage() {
  const lines = useCart();
  const { user } = useSession();
  const [removed, setRemoved] = useState<RemovedLine | null>(null);
  const undoRef = useRef<HTMLButtonElement>(null);
  const qtyRefs = useRef(new Map<number, HTMLInputElement>());
  const focusAfterUndo = useRef<number | null>(null);
  const subtotal = lines.reduce((s, l) => s + l.price * l.quantity, 0);

  // The products' current stock bounds the quantities (the cart may be days old).
  const ids = lines.map((l) => l.product_id).join(",");
  useEffect(() => {
    if (!ids) return;
    let live = true;
    void Promise.allSettled(ids.split(",").map((id) => api.getProduct(Number(id)))).then((answers) => {
      if (!live) return;
      const stock = new Map<number, number>();
      for (const a of answers) if (a.status === "fulfilled") stock.set(a.value.id, a.value.stock_quantity);
      cart.setStock(stock);
    });
    return () => {
      live = false;
    };
  }, [ids]);

  // The Undo offer lasts a while, then the removal is final.
  useEffect(() => {
    if (!removed) return;
    undoRef.current?.focus();
    const timer = setTimeout(() => setRemoved(null), UNDO_MS);
    return () => clearTimeout(timer);
  }, [removed]);

  // After Undo, focus goes back to the restored line's quantity.
  useEffect(() => {
    if (focusAfterUndo.current === null) return;
    const input = qtyRefs.current.get(focusAfterUndo.current);
    if (input) {
      input.focus();
      focusAfterUndo.current = null;
    }
  });

  const undo = () => {
    if (!removed) return;
    cart.restore(removed);
    focusAfterUndo.current = removed.line.product_id;
    setRemoved(null);
  };

  const undoRow = removed ? (
    <tr className="undo-row" data-testid="undo-row">
      <td colSpan={5}>
        <span role="status">Removed {removed.line.name} from your cart.</span>{" "}
        <button ref={undoRef} type="button" className="secondary" onClick={undo} data-testid="undo-remove">
          Undo
        </button>
      </td>
    </tr>
  ) : null;

  return (
    <section>
      <h1>Your cart</h1>
      {lines.length === 0 && !removed ? (
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
                {lines.map((l, i) => {
                  const max = maxQuantity(l);
                  return (
                    <Fragment key={l.product_id}>
                      {removed && removed.index === i ? undoRow : null}
                      <tr data-testid={`cart-line-${l.product_id}`}>
                        <td>
                          <Link href={`/products/${l.product_id}`}>{l.name}</Link>
                          {user?.role === "ADMIN" ? <span className="muted"> ({l.sku})</span> : null}
                          {typeof l.stock === "number" && l.stock < l.quantity ? (
                            <p className="field-error">Only {l.stock} in stock.</p>
                          ) : null}
                        </td>
                        <td className="num">{money(l.price)}</td>
                        <td>
                          <QuantityControl
                            ref={(el) => {
                              if (el) qtyRefs.current.set(l.product_id, el);
                              else qtyRefs.current.delete(l.product_id);
                            }}
                            id={`qty-${l.product_id}`}
                            label={`Quantity of ${l.name}`}
                            value={l.quantity}
                            max={max}
                            onChange={(q) => cart.setQuantity(l.product_id, q)}
                          />
                        </td>
                        <td className="num" data-testid="line-total">{money(l.price * l.quantity)}</td>
                        <td>
                          <button
                            type="button"
                            className="secondary"
                            onClick={() => setRemoved(cart.removeForUndo(l.product_id))}
                            aria-label={`Remove ${l.name}`}
                          >
                            Remove
                          </button>
                        </td>
                      </tr>
                    </Fragment>
                  );
                })}
                {removed && removed.index >= lines.length ? undoRow : null}
              </tbody>
            </table>
          </div>
          <p>
            Subtotal: <strong data-testid="cart-subtotal">{money(subtotal)}</strong>{" "}
            <span className="muted">(shipping and tax are shown at checkout)</span>
          </p>
          <div className="form-actions">
            {lines.length > 0 ? (
              <Link className="button" href="/checkout">
                Checkout
              </Link>
            ) : null}
            {lines.length > 0 ? (
              <button type="button" className="secondary" onClick={() => cart.clear()}>
                Empty cart
              </button>
            ) : null}
          </div>
        </>
      )}
    </section>
  );
}
