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
    if (i >= 0) lines[i] = { ...lines[i], quantity: Math.min(1000, lines[i].quantity + quantity) };
    else lines.push({ ...line, quantity });
    write(lines);
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
