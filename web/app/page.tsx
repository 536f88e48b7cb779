"use client";

import Link from "next/link";
import { useEffect, useState } from "react";
import { Empty, Loading, ProblemAlert } from "@/components/ProblemAlert";
import { Pager } from "@/components/Pager";
import { ProductImage } from "@/components/ProductImage";
import { allPages, api, type Page, type Product } from "@/lib/api";
import { cart } from "@/lib/cart";
import { PRODUCT_SORTS, parseSort, sortProducts, stockLabel, type ProductSort } from "@/lib/catalogue";
import { money } from "@/lib/format";
import { CursorTrail } from "@/lib/paging";
import { useSession } from "@/lib/session";

const PAGE_SIZE = 12;
/** A sorted catalogue is read whole (the API lists by id only), up to this many products. */
const SORT_LIMIT = 1000;

/**
 * The catalogue: active products, searchable by name or SKU. In the API's order (by id) it pages by
 * cursor; sorted by name or price it reads the matching products (up to 1,000) and pages them here.
 */
export default function CataloguePage() {
  const { user } = useSession();
  const isAdmin = user?.role === "ADMIN";
  const [q, setQ] = useState("");
  const [search, setSearch] = useState("");
  const [sort, setSort] = useState<ProductSort>("default");
  const [trail, setTrail] = useState(CursorTrail.first());
  const [page, setPage] = useState<Page<Product> | null>(null);
  // Sorted mode: every matching product, sorted, and the page shown.
  const [sorted, setSorted] = useState<{ items: Product[]; truncated: boolean } | null>(null);
  const [localPage, setLocalPage] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [added, setAdded] = useState<string | null>(null);

  useEffect(() => {
    if (sort !== "default") return;
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
  }, [trail, search, sort]);

  useEffect(() => {
    if (sort === "default") return;
    let live = true;
    (async () => {
      const items: Product[] = [];
      let truncated = false;
      for await (const chunk of allPages((cursor) => api.listProducts({ limit: 200, cursor, q: search || undefined }), SORT_LIMIT / 200 + 1)) {
        items.push(...chunk);
        if (items.length >= SORT_LIMIT) {
          truncated = true;
          break;
        }
      }
      return { items: items.slice(0, SORT_LIMIT), truncated };
    })()
      .then((all) => {
        if (!live) return;
        setSorted(all);
        setError(null);
      })
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [search, sort]);

  const shown: Product[] | null =
    sort === "default" ? (page?.items ?? null) : sorted ? sortProducts(sorted.items, sort).slice(localPage * PAGE_SIZE, (localPage + 1) * PAGE_SIZE) : null;
  const localPages = sorted ? Math.max(1, Math.ceil(sorted.items.length / PAGE_SIZE)) : 1;

  return (
    <section>
      <h1>Catalogue</h1>
      <form
        role="search"
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setPage(null);
          setSorted(null);
          setLocalPage(0);
          setSearch(q.trim());
          setTrail(CursorTrail.first());
        }}
      >
        <div>
          <label htmlFor="q">Search by name or SKU</label>
          <input id="q" type="search" value={q} onChange={(e) => setQ(e.target.value)} />
        </div>
        <button type="submit">Search</button>
        <div>
          <label htmlFor="sort">Sort by</label>
          <select
            id="sort"
            value={sort}
            onChange={(e) => {
              setSort(parseSort(e.target.value));
              setSorted(null);
              setLocalPage(0);
              setPage(null);
              setTrail(CursorTrail.first());
            }}
          >
            {PRODUCT_SORTS.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </div>
      </form>
      <p className="muted" role="status" aria-live="polite">
        {added}
      </p>
      <ProblemAlert error={error} />
      {!shown && !error ? <Loading label="Loading products…" /> : null}
      {shown && shown.length === 0 ? <Empty>{search ? `No product matches “${search}”.` : "No products yet."}</Empty> : null}
      {sorted?.truncated && sort !== "default" ? <p className="hint">Sorted among the first {SORT_LIMIT} products; search to narrow the list.</p> : null}
      {shown && shown.length > 0 ? (
        <ul className="grid" aria-label="Products">
          {shown.map((p, i) => {
            const stock = stockLabel(p.stock_quantity);
            return (
              <li key={p.id} className="card" data-testid={`product-${p.sku}`}>
                <ProductImage url={p.image_url} name={p.name} size={240} eager={i < 4} />
                <h2>
                  <Link href={`/products/${p.id}`}>{p.name}</Link>
                </h2>
                {isAdmin ? <span className="muted" data-testid="sku">SKU {p.sku}</span> : null}
                {p.description ? <p>{p.description}</p> : null}
                <span className="price" data-testid="price">{money(p.price)}</span>
                <span className={`stock-${stock.tone}`} data-testid="stock">
                  {stock.text}
                </span>
                <div className="actions">
                  <button
                    type="button"
                    disabled={p.stock_quantity === 0}
                    aria-label={`Add ${p.name} to cart`}
                    onClick={() => {
                      cart.add({ product_id: p.id, name: p.name, sku: p.sku, price: p.price, stock: p.stock_quantity });
                      setAdded(`Added ${p.name} to your cart.`);
                    }}
                  >
                    Add to cart
                  </button>
                </div>
              </li>
            );
          })}
        </ul>
      ) : null}
      {sort === "default" && page ? (
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
      {sort !== "default" && sorted ? (
        <nav className="pager" aria-label="Catalogue pages">
          <button type="button" disabled={localPage === 0} onClick={() => setLocalPage(localPage - 1)}>
            ← Previous
          </button>
          <span aria-live="polite">
            Page {localPage + 1} of {localPages}
          </span>
          <button type="button" disabled={localPage + 1 >= localPages} onClick={() => setLocalPage(localPage + 1)}>
            Next →
          </button>
        </nav>
      ) : null}
    </section>
  );
}
