/** The catalogue's pure logic: sorting and the stock label. */
import type { Product } from "./api";

export type ProductSort = "default" | "name" | "price-asc" | "price-desc";
export const PRODUCT_SORTS: readonly { value: ProductSort; label: string }[] = [
  { value: "default", label: "Newest last (default)" },
  { value: "name", label: "Name (A to Z)" },
  { value: "price-asc", label: "Price (low to high)" },
  { value: "price-desc", label: "Price (high to low)" },
];

export function parseSort(value: string | null | undefined): ProductSort {
  return PRODUCT_SORTS.some((s) => s.value === value) ? (value as ProductSort) : "default";
}

const byName = new Intl.Collator("en", { sensitivity: "base", numeric: true });

/**
 * Sorts products (a new array); ties fall back to the id, so the order is stable across reloads.
 * "Notebook 2" comes before "Notebook 10" (numeric collation).
 */
export function sortProducts<T extends Pick<Product, "id" | "name" | "price">>(products: readonly T[], sort: ProductSort): T[] {
  const out = products.slice();
  const byId = (a: T, b: T) => a.id - b.id;
  switch (sort) {
    case "name":
      return out.sort((a, b) => byName.compare(a.name, b.name) || byId(a, b));
    case "price-asc":
      return out.sort((a, b) => a.price - b.price || byName.compare(a.name, b.name) || byId(a, b));
    case "price-desc":
      return out.sort((a, b) => b.price - a.price || byName.compare(a.name, b.name) || byId(a, b));
    default:
      return out.sort(byId);
  }
}

/** What a shopper is told about stock; "low" from 5 left. */
export function stockLabel(stock: number): { text: string; tone: "out" | "low" | "in" } {
  if (stock <= 0) return { text: "Out of stock", tone: "out" };
  return { text: `${stock} in stock`, tone: stock <= 5 ? "low" : "in" };
}
