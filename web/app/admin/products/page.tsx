"use client";

import { useCallback, useEffect, useState } from "react";
import { Pager } from "@/components/Pager";
import { Empty, Loading, ProblemAlert } from "@/components/ProblemAlert";
import { ProductRow } from "@/components/ProductRow";
import { api, type Page, type Product } from "@/lib/api";
import { parseMoney } from "@/lib/format";
import { CursorTrail } from "@/lib/paging";
import { useRequireUser, useSession } from "@/lib/session";

const EMPTY = { name: "", sku: "", price: "", stock: "0", description: "", image: "" };

/** Product management: create, edit, archive / un-archive, stock changes. */
export default function AdminProductsPage() {
  const user = useRequireUser("ADMIN");
  const { user: signedIn, loading } = useSession();
  const [q, setQ] = useState("");
  const [search, setSearch] = useState("");
  const [archived, setArchived] = useState(true);
  const [trail, setTrail] = useState(CursorTrail.first());
  const [page, setPage] = useState<Page<Product> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [form, setForm] = useState(EMPTY);
  const [createError, setCreateError] = useState<unknown>(null);
  const [created, setCreated] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setPage(await api.listAdminProducts({ limit: 25, cursor: trail.current, q: search || undefined, include_archived: archived }));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [trail, search, archived]);

  useEffect(() => {
    // eslint-disable-next-line react-hooks/set-state-in-effect -- loading data from the API
    if (user) void load();
  }, [user, load]);

  if (!user) {
    if (!loading && signedIn && signedIn.role !== "ADMIN") {
      return (
        <div className="alert alert-error" role="alert">
          <strong>Forbidden</strong>
          <p>This page is for administrators.</p>
        </div>
      );
    }
    return <Loading label="Checking your session…" />;
  }

  return (
    <section>
      <h1>Products</h1>
      <details open={page?.items.length === 0}>
        <summary>New product</summary>
        <form
          className="form"
          onSubmit={async (e) => {
            e.preventDefault();
            const price = parseMoney(form.price);
            const stock = Number(form.stock);
            if (price === null || !Number.isInteger(stock) || stock < 0) {
              setCreateError(new Error("Price must be dollars (e.g. 12.50) and stock a whole number ≥ 0."));
              return;
            }
            setBusy(true);
            setCreateError(null);
            try {
              const p = await api.createProduct({
                name: form.name.trim(),
                sku: form.sku.trim(),
                price,
                stock_quantity: stock,
                description: form.description.trim() || null,
                image_url: form.image.trim() || null,
              });
              setCreated(`Created ${p.name} (${p.sku}).`);
              setForm(EMPTY);
              await load();
            } catch (err) {
              setCreateError(err);
            } finally {
              setBusy(false);
            }
          }}
        >
          <label htmlFor="np-name">Name</label>
          <input id="np-name" required maxLength={200} value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
          <label htmlFor="np-sku">SKU</label>
          <input
            id="np-sku"
            required
            pattern="[A-Za-z0-9_\-]{2,64}"
            aria-describedby="np-sku-hint"
            value={form.sku}
            onChange={(e) => setForm({ ...form, sku: e.target.value })}
          />
          <p id="np-sku-hint" className="hint">
            2 to 64 letters, digits, - or _; unique.
          </p>
          <label htmlFor="np-price">Price ($)</label>
          <input id="np-price" required inputMode="decimal" value={form.price} onChange={(e) => setForm({ ...form, price: e.target.value })} />
          <label htmlFor="np-stock">Stock</label>
          <input id="np-stock" required inputMode="numeric" value={form.stock} onChange={(e) => setForm({ ...form, stock: e.target.value })} />
          <label htmlFor="np-desc">Description</label>
          <textarea id="np-desc" maxLength={5000} value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} />
          <label htmlFor="np-image">Picture URL (optional)</label>
          <input
            id="np-image"
            maxLength={2048}
            aria-describedby="np-image-hint"
            value={form.image}
            onChange={(e) => setForm({ ...form, image: e.target.value })}
          />
          <p id="np-image-hint" className="hint">
            An https:// address, or a path on this site such as /images/mug.svg.
          </p>
          <ProblemAlert error={createError} />
          <div className="form-actions">
            <button type="submit" disabled={busy}>
              Create product
            </button>
            <span role="status" aria-live="polite" className="muted">
              {created}
            </span>
          </div>
        </form>
      </details>
      <form
        role="search"
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setSearch(q.trim());
          setTrail(CursorTrail.first());
        }}
      >
        <div>
          <label htmlFor="pq">Search by name or SKU</label>
          <input id="pq" type="search" value={q} onChange={(e) => setQ(e.target.value)} />
        </div>
        <label className="inline">
          <input
            type="checkbox"
            checked={archived}
            onChange={(e) => {
              setArchived(e.target.checked);
              setTrail(CursorTrail.first());
            }}
          />
          Show archived
        </label>
        <button type="submit">Search</button>
      </form>
      <ProblemAlert error={error} />
      {!page && !error ? <Loading label="Loading products…" /> : null}
      {page && page.items.length === 0 ? <Empty>No products.</Empty> : null}
      {page && page.items.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Product</th>
                <th scope="col" className="num">Price</th>
                <th scope="col" className="num">Stock</th>
                <th scope="col">Stock change</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((p) => (
                <ProductRow
                  key={`${p.id}-${p.updated_at}`}
                  product={p}
                  onChanged={(changed) => setPage((pg) => (pg ? { ...pg, items: pg.items.map((x) => (x.id === changed.id ? changed : x)) } : pg))}
                />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {page ? <Pager label="Product pages" trail={trail} nextCursor={page.next_cursor} onChange={setTrail} /> : null}
    </section>
  );
}
