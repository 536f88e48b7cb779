import { describe, expect, it } from "vitest";
import { commitQuantity, liveQuantity, maxQuantity, removeLine, restoreLine, type CartLine } from "../lib/cart";

const line = (product_id: number, quantity = 1, stock?: number): CartLine => ({ product_id, name: `P${product_id}`, sku: `SKU-${product_id}`, price: 100, quantity, stock });

describe("quantity rules", () => {
  it("bounds a line by its stock, at least 1 and at most 1000", () => {
    expect(maxQuantity({ stock: 5 })).toBe(5);
    expect(maxQuantity({})).toBe(1000);
    expect(maxQuantity({ stock: 0 })).toBe(1);
    expect(maxQuantity({ stock: 5000 })).toBe(1000);
  });
  it("clamps whole numbers on blur and never gives 0", () => {
    expect(commitQuantity("-3", 4, 10)).toBe(1);
    expect(commitQuantity("0", 4, 10)).toBe(1);
    expect(commitQuantity("99", 4, 10)).toBe(10);
    expect(commitQuantity(" 7 ", 4, 10)).toBe(7);
  });
  it("keeps the last valid quantity for text that is not a whole number", () => {
    expect(commitQuantity("", 4, 10)).toBe(4);
    expect(commitQuantity("abc", 4, 10)).toBe(4);
    expect(commitQuantity("1.5", 4, 10)).toBe(4);
    expect(commitQuantity("-", 4, 10)).toBe(4);
  });
  it("applies while typing only what is already valid (Backspace then 3 gives 3)", () => {
    expect(liveQuantity("", 10)).toBeNull();
    expect(liveQuantity("3", 10)).toBe(3);
    expect(liveQuantity("13", 10)).toBeNull();
    expect(liveQuantity("0", 10)).toBeNull();
    expect(liveQuantity("-3", 10)).toBeNull();
  });
});

describe("remove and undo", () => {
  it("restores a removed line at its place", () => {
    const lines = [line(1), line(2, 3), line(3)];
    const { lines: after, removed } = removeLine(lines, 2);
    expect(after.map((l) => l.product_id)).toEqual([1, 3]);
    expect(removed).toEqual({ line: lines[1], index: 1 });
    expect(restoreLine(after, removed!)).toEqual(lines);
  });
  it("restores the last line and a line into an emptied cart", () => {
    const { lines: after, removed } = removeLine([line(1), line(2)], 2);
    expect(restoreLine(after, removed!).map((l) => l.product_id)).toEqual([1, 2]);
    expect(restoreLine([], removed!).map((l) => l.product_id)).toEqual([2]);
  });
  it("merges with the same product added again meanwhile, within its stock", () => {
    const { removed } = removeLine([line(1, 4, 6)], 1);
    expect(restoreLine([line(1, 1, 6)], removed!)).toEqual([line(1, 5, 6)]);
    expect(restoreLine([line(1, 3, 6)], removed!)).toEqual([line(1, 6, 6)]);
  });
  it("removing an absent product removes nothing", () => {
    expect(removeLine([line(1)], 9)).toEqual({ lines: [line(1)], removed: null });
  });
});
