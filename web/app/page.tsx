"use client";

import { useEffect, useState } from "react";
import { Empty, Loading, ProblemAlert } from "@/components/ProblemAlert";
import { Pager } from "@/components/Pager";
import { api, type Page, type Product } from "@/lib/api";
import { cart } from "@/lib/cart";
import { money } from "@/lib/format";
import { CursorTrail } from "@/lib/paging";

const PAGE_SIZE = 12;

/** The catalogue: active products, searchable by name or SKU, paged by cursor. */
export default function CataloguePage() {
  const [q, setQ] = useState("");
  const [search, setSearch] = useState("");
  const [trail, setTrail] = useState(CursorTrail.first());
  const [page, setPage] = useState<Page<Product> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [added, setAdded] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    api
      .listProducts({ limit: PAGE_SIZE, cursor: trail.current, q: search || undefined })
      .then((p) => {
        if (!live) return;
        setPage(p);
        setError(null);
      })
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [trail, search]);

  return (
    <section>
      <h1>Catalogue</h1>
      <form
        role="search"
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setPage(null);
          setSearch(q.trim());
          setTrail(CursorTrail.first());
        }}
      >
        <div>
          <label htmlFor="q">Search by name or SKU</label>
          <input id="q" type="search" value={q} onChange={(e) => setQ(e.target.value)} />
        </div>
        <button type="submit">Search</button>
      </form>
      <p className="muted" role="status" aria-live="polite">
        {added}
      </p>
      <ProblemAlert error={error} />
      {!page && !error ? <Loading label="Loading products…" /> : null}
      {page && page.items.length === 0 ? <Empty>{search ? `No product matches “${search}”.` : "No products yet."}</Empty> : null}
      {page && page.items.length > 0 ? (
        <ul className="grid" aria-label="Products">
          {page.items.map((p) => (
            <li key={p.id} className="card" data-testid={`product-${p.sku}`}>
              <h2>{p.name}</h2>
              <span className="muted">SKU {p.sku}</span>
              {p.description ? <p>{p.description}</p> : null}
              <span className="price">{money(p.price)}</span>
              <span className={p.stock_quantity > 0 ? "muted" : ""} data-testid="stock">
                {p.stock_quantity > 0 ? `${p.stock_quantity} in stock` : "Out of stock"}
              </span>
              <div className="actions">
                <button
                  type="button"
                  disabled={p.stock_quantity === 0}
                  aria-label={`Add ${p.name} to cart`}
                  onClick={() => {
                    cart.add({ product_id: p.id, name: p.name, sku: p.sku, price: p.price });
                    setAdded(`Added ${p.name} to your cart.`);
                  }}
                >
                  Add to cart
                </button>
              </div>
            </li>
          ))}
        </ul>
      ) : null}
      {page ? (
        <Pager
          label="Catalogue pages"
          trail={trail}
          nextCursor={page.next_cursor}
          onChange={(t) => {
            setPage(null);
            setTrail(t);
          }}
        />
      ) : null}
    </section>
  );
}
