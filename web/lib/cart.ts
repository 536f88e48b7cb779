"use client";

/**
 * The cart, kept in localStorage (key `oms.cart.v1`) so it survives reloads; shared by every tab
 * through the `storage` event. Prices here are for display only: the server prices the order.
 */
import { useSyncExternalStore } from "react";

export interface CartLine {
  product_id: number;
  name: string;
  sku: string;
  price: number;
  quantity: number;
  /** The product's stock when last seen (added, or refreshed by the cart page): the quantity's upper bound. */
  stock?: number;
}

/** The most of one product an order line may hold (API: quantity 1 to 1000). */
export const MAX_LINE_QUANTITY = 1000;

/** The upper bound of a line's quantity: its product's stock when known (at least 1), never over 1000. */
export function maxQuantity(line: Pick<CartLine, "stock">): number {
  const stock = typeof line.stock === "number" ? line.stock : MAX_LINE_QUANTITY;
  return Math.max(1, Math.min(MAX_LINE_QUANTITY, stock));
}

/**
 * What a quantity field's text means once the person leaves it (blur, Enter): a whole number is
 * clamped to 1..max (so -3 becomes 1, 9999 the stock); anything else (empty, "abc", "1.5") keeps
 * the last valid quantity. Never 0: a quantity field never removes a line.
 */
export function commitQuantity(text: string, last: number, max: number): number {
  const t = text.trim();
  if (!/^[-+]?\d+$/.test(t)) return last;
  const n = Number(t);
  return Math.max(1, Math.min(max, n));
}

/**
 * While the person types: the quantity to apply at once, or null to wait (the text is empty, not a
 * number, or out of range, so "" after Backspace stays "" and the next "3" gives 3, not 13).
 */
export function liveQuantity(text: string, max: number): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n >= 1 && n <= max ? n : null;
}

/** A removed line and where it stood, for Undo. */
export interface RemovedLine {
  line: CartLine;
  index: number;
}

export function removeLine(lines: readonly CartLine[], productId: number): { lines: CartLine[]; removed: RemovedLine | null } {
  const index = lines.findIndex((l) => l.product_id === productId);
  if (index < 0) return { lines: lines.slice(), removed: null };
  return { lines: [...lines.slice(0, index), ...lines.slice(index + 1)], removed: { line: lines[index], index } };
}

/**
 * Puts a removed line back where it stood. If the product was added again meanwhile, that line
 * takes the removed line's quantity plus what was added, in its current place.
 */
export function restoreLine(lines: readonly CartLine[], removed: RemovedLine): CartLine[] {
  const existing = lines.findIndex((l) => l.product_id === removed.line.product_id);
  if (existing >= 0) {
    const out = lines.slice();
    const merged = out[existing].quantity + removed.line.quantity;
    out[existing] = { ...out[existing], quantity: Math.min(maxQuantity(out[existing]), merged) };
    return out;
  }
  const at = Math.max(0, Math.min(lines.length, removed.index));
  return [...lines.slice(0, at), removed.line, ...lines.slice(at)];
}

const KEY = "oms.cart.v1";
const listeners = new Set<() => void>();
let cache: { raw: string | null; lines: CartLine[] } = { raw: null, lines: [] };
const EMPTY: CartLine[] = [];

function read(): CartLine[] {
  if (typeof window === "undefined") return EMPTY;
  const raw = window.localStorage.getItem(KEY);
  if (raw === cache.raw) return cache.lines;
  let lines: CartLine[] = [];
  try {
    const parsed: unknown = raw ? JSON.parse(raw) : [];
    if (Array.isArray(parsed)) {
      lines = parsed.filter(
        (l): l is CartLine =>
          l && typeof l.product_id === "number" && typeof l.quantity === "number" && l.quantity > 0,
      );
    }
  } catch {
    lines = [];
  }
  cache = { raw, lines };
  return lines;
}

function write(lines: CartLine[]): void {
  window.localStorage.setItem(KEY, JSON.stringify(lines));
  listeners.forEach((l) => l());
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  const onStorage = (e: StorageEvent) => {
    if (e.key === KEY) listener();
  };
  window.addEventListener("storage", onStorage);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("storage", onStorage);
  };
}

export function useCart(): CartLine[] {
  return useSyncExternalStore(subscribe, read, () => EMPTY);
}

export const cart = {
  add(line: Omit<CartLine, "quantity">, quantity = 1): void {
    const lines = read().slice();
    const i = lines.findIndex((l) => l.product_id === line.product_id);
    if (i >= 0) {
      const next = { ...lines[i], ...line };
      lines[i] = { ...next, quantity: Math.min(maxQuantity(next), lines[i].quantity + quantity) };
    } else lines.push({ ...line, quantity: Math.min(maxQuantity(line), quantity) });
    write(lines);
  },
  /** Records the products' current stock on their lines (the quantity bound); quantities are left alone. */
  setStock(stock: ReadonlyMap<number, number>): void {
    const lines = read();
    if (lines.every((l) => !stock.has(l.product_id) || stock.get(l.product_id) === l.stock)) return;
    write(lines.map((l) => (stock.has(l.product_id) ? { ...l, stock: stock.get(l.product_id) } : l)));
  },
  /** Removes a line and returns it with its place, for {@link cart.restore}. */
  removeForUndo(productId: number): RemovedLine | null {
    const { lines, removed } = removeLine(read(), productId);
    if (removed) write(lines);
    return removed;
  },
  restore(removed: RemovedLine): void {
    write(restoreLine(read(), removed));
  },
  setQuantity(productId: number, quantity: number): void {
    const q = Math.max(0, Math.min(1000, Math.floor(quantity)));
    write(read().flatMap((l) => (l.product_id !== productId ? [l] : q > 0 ? [{ ...l, quantity: q }] : [])));
  },
  remove(productId: number): void {
    write(read().filter((l) => l.product_id !== productId));
  },
  clear(): void {
    write([]);
  },
};
