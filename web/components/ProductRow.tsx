"use client";

import { useState } from "react";
import { useConfirm } from "@/components/ConfirmDialog";
import { ProblemAlert } from "@/components/ProblemAlert";
import { api, type Product } from "@/lib/api";
import { money, parseMoney } from "@/lib/format";

/** One product in the admin table: edit, stock delta, archive (confirmed) / un-archive. */
export function ProductRow({ product, onChanged }: { product: Product; onChanged: (p: Product) => void }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(product.name);
  const [sku, setSku] = useState(product.sku);
  const [price, setPrice] = useState((product.price / 100).toFixed(2));
  const [description, setDescription] = useState(product.description ?? "");
  const [image, setImage] = useState(product.image_url ?? "");
  const [delta, setDelta] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const base = `p-${product.id}`;
  const { confirm, dialog } = useConfirm();

  const run = async (work: () => Promise<Product>) => {
    setBusy(true);
    setError(null);
    try {
      onChanged(await work());
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };

  return (
    <tr data-testid={`admin-product-${product.sku}`} className={product.archived ? "muted" : undefined}>
      <td>{product.id}</td>
      <td>
        {editing ? (
          <form
            className="status-changer"
            onSubmit={async (e) => {
              e.preventDefault();
              const cents = parseMoney(price);
              if (cents === null) {
                setError(new Error("Price must be a number of dollars, e.g. 12.50"));
                return;
              }
              if (await run(() => api.updateProduct(product.id, { name, sku, price: cents, description: description || null, image_url: image.trim() || null }))) setEditing(false);
            }}
          >
            <label htmlFor={`${base}-name`}>Name</label>
            <input id={`${base}-name`} value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
            <label htmlFor={`${base}-sku`}>SKU</label>
            <input id={`${base}-sku`} value={sku} onChange={(e) => setSku(e.target.value)} required pattern="[A-Za-z0-9_\-]{2,64}" />
            <label htmlFor={`${base}-price`}>Price ($)</label>
            <input id={`${base}-price`} value={price} onChange={(e) => setPrice(e.target.value)} inputMode="decimal" required />
            <label htmlFor={`${base}-desc`}>Description</label>
            <textarea id={`${base}-desc`} value={description} onChange={(e) => setDescription(e.target.value)} maxLength={5000} />
            <label htmlFor={`${base}-image`}>Picture URL</label>
            <input id={`${base}-image`} value={image} onChange={(e) => setImage(e.target.value)} maxLength={2048} />
            <div className="form-actions">
              <button type="submit" disabled={busy}>
                Save
              </button>
              <button type="button" className="secondary" onClick={() => setEditing(false)}>
                Cancel
              </button>
            </div>
          </form>
        ) : (
          <>
            <strong>{product.name}</strong>
            <br />
            <span className="muted">{product.sku}</span>
            {product.archived ? (
              <>
                {" "}
                <span className="badge badge-cancelled">archived</span>
              </>
            ) : null}
          </>
        )}
      </td>
      <td className="num">{money(product.price)}</td>
      <td className="num" data-testid="admin-stock">
        {product.stock_quantity}
      </td>
      <td>
        <form
          className="status-changer"
          onSubmit={async (e) => {
            e.preventDefault();
            const n = Number(delta);
            if (!Number.isInteger(n) || n === 0) {
              setError(new Error("The stock change must be a whole number other than 0, e.g. 10 or -3"));
              return;
            }
            if (await run(() => api.updateProduct(product.id, { stock_delta: n }))) setDelta("");
          }}
        >
          <label className="sr-only" htmlFor={`${base}-delta`}>
            Stock change for {product.name} (e.g. 10 or -3)
          </label>
          <input id={`${base}-delta`} value={delta} onChange={(e) => setDelta(e.target.value)} inputMode="numeric" placeholder="+10 / -3" />
          <button type="submit" className="secondary" disabled={busy}>
            Apply stock change
          </button>
        </form>
      </td>
      <td>
        <div className="status-changer">
          {!editing ? (
            <button type="button" className="secondary" onClick={() => setEditing(true)}>
              Edit
            </button>
          ) : null}
          <button
            type="button"
            className="secondary"
            disabled={busy}
            onClick={async () => {
              if (
                !product.archived &&
                !(await confirm({
                  title: `Archive ${product.name}?`,
                  body: <p>It leaves the catalogue: customers can no longer see or order it. Existing orders keep it. You can un-archive it later.</p>,
                  confirmLabel: "Archive",
                  cancelLabel: "Keep it listed",
                  danger: true,
                }))
              ) {
                return;
              }
              await run(() => api.updateProduct(product.id, { archived: !product.archived }));
            }}
          >
            {product.archived ? "Un-archive" : "Archive"}
          </button>
        </div>
        <ProblemAlert error={error} />
        {dialog}
      </td>
    </tr>
  );
}
