import { describe, expect, it } from "vitest";
import { parseSort, sortProducts, stockLabel } from "../lib/catalogue";

const P = [
  { id: 1, name: "Notebook 10", price: 500 },
  { id: 2, name: "desk lamp", price: 4200 },
  { id: 3, name: "Notebook 2", price: 500 },
  { id: 4, name: "Enamel Mug", price: 1250 },
];

describe("sortProducts", () => {
  it("sorts by name, case-insensitively and numerically", () => {
    expect(sortProducts(P, "name").map((p) => p.id)).toEqual([2, 4, 3, 1]);
  });
  it("sorts by price both ways, ties by name", () => {
    expect(sortProducts(P, "price-asc").map((p) => p.id)).toEqual([3, 1, 4, 2]);
    expect(sortProducts(P, "price-desc").map((p) => p.id)).toEqual([2, 4, 3, 1]);
  });
  it("keeps the API's order (id) by default and does not touch its input", () => {
    const input = [P[3], P[0]];
    expect(sortProducts(input, "default").map((p) => p.id)).toEqual([1, 4]);
    expect(input.map((p) => p.id)).toEqual([4, 1]);
  });
  it("reads unknown sort values as the default", () => {
    expect(parseSort("price-desc")).toBe("price-desc");
    expect(parseSort("drop table")).toBe("default");
    expect(parseSort(null)).toBe("default");
  });
});

describe("stockLabel", () => {
  it("says out, low and in stock", () => {
    expect(stockLabel(0)).toEqual({ text: "Out of stock", tone: "out" });
    expect(stockLabel(5)).toEqual({ text: "5 in stock", tone: "low" });
    expect(stockLabel(50)).toEqual({ text: "50 in stock", tone: "in" });
  });
});
