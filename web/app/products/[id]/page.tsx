"use client";

import Link from "next/link";
import { useParams } from "next/navigation";
import { useEffect, useState } from "react";
import { Loading, ProblemAlert } from "@/components/ProblemAlert";
import { ProductImage } from "@/components/ProductImage";
import { ApiError, api, type Product } from "@/lib/api";
import { cart, maxQuantity, useCart } from "@/lib/cart";
import { stockLabel } from "@/lib/catalogue";
import { money } from "@/lib/format";
import { useSession } from "@/lib/session";

/** One product: picture, name, description, price, stock, and add to cart. */
export default function ProductPage() {
  const params = useParams<{ id: string }>();
  const id = Number(params.id);
  const valid = /^\d+$/.test(params.id) && Number.isSafeInteger(id);
  const { user } = useSession();
  const lines = useCart();
  const [product, setProduct] = useState<Product | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [added, setAdded] = useState<string | null>(null);

  useEffect(() => {
    if (!valid) return;
    let live = true;
    api
      .getProduct(id)
      .then((p) => {
        if (!live) return;
        setProduct(p);
        setError(null);
        document.title = `${p.name} · OMS`;
      })
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [id, valid]);

  const notFound = !valid || (error instanceof ApiError && error.status === 404);
  if (notFound) {
    return (
      <section>
        <h1>Product not found</h1>
        <p>
          This product does not exist or is no longer sold. <Link href="/">Back to the catalogue</Link>
        </p>
      </section>
    );
  }
  if (error) return <ProblemAlert error={error} />;
  if (!product) return <Loading label="Loading the product…" />;

  const stock = stockLabel(product.stock_quantity);
  const inCart = lines.find((l) => l.product_id === product.id)?.quantity ?? 0;
  const full = inCart >= maxQuantity({ stock: product.stock_quantity });
  return (
    <section>
      <p>
        <Link href="/">← Catalogue</Link>
      </p>
      <div className="product-page" data-testid="product-detail">
        <ProductImage url={product.image_url} name={product.name} size={480} eager />
        <div>
          <h1>{product.name}</h1>
          {user?.role === "ADMIN" ? <p className="muted" data-testid="sku">SKU {product.sku}</p> : null}
          <p className="price" data-testid="price">{money(product.price)}</p>
          <p className={`stock-${stock.tone}`} data-testid="stock">
            {stock.text}
          </p>
          {product.description ? <p className="description">{product.description}</p> : null}
          <div className="form-actions">
            <button
              type="button"
              disabled={product.stock_quantity === 0 || full}
              onClick={() => {
                cart.add({ product_id: product.id, name: product.name, sku: product.sku, price: product.price, stock: product.stock_quantity });
                setAdded(`Added ${product.name} to your cart.`);
              }}
            >
              Add to cart
            </button>
            {inCart > 0 ? (
              <Link href="/cart">
                In your cart: {inCart} (view cart)
              </Link>
            ) : null}
          </div>
          <p className="muted" role="status" aria-live="polite">
            {added}
          </p>
        </div>
      </div>
    </section>
  );
}
