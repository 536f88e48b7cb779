import { describe, expect, it } from "vitest";
import { ApiClient, type Fetch } from "../lib/api";
import {
  COUNTRIES,
  EMPTY_ADDRESS,
  buildOrderBody,
  loadAddress,
  mapFieldErrors,
  paymentProvider,
  quoteAddress,
  saveAddress,
} from "../lib/checkout";

const ADDRESS = { name: " Ada Lovelace ", line1: "1 Main St", line2: " ", city: "London", region: "", postal_code: " N1 9GU ", country: "gb" };

describe("buildOrderBody", () => {
  it("trims, nulls empty optional fields and upper-cases the country", () => {
    const body = buildOrderBody([{ product_id: 3, quantity: 2 }], ADDRESS, " tok_visa ");
    expect(body).toEqual({
      items: [{ product_id: 3, quantity: 2 }],
      shipping_address: { name: "Ada Lovelace", line1: "1 Main St", line2: null, city: "London", region: null, postal_code: "N1 9GU", country: "GB" },
      payment: { token: "tok_visa" },
    });
  });
  it("leaves payment out of a quote body and keeps only product and quantity of the lines", () => {
    const body = buildOrderBody([{ product_id: 1, quantity: 1, name: "Mug", price: 100 } as never], quoteAddress("DE"));
    expect(body.payment).toBeUndefined();
    expect(body.items).toEqual([{ product_id: 1, quantity: 1 }]);
    expect(body.shipping_address.country).toBe("DE");
    expect(body.shipping_address.name).not.toBe("");
  });
  it("is what the client posts to /api/orders/quote", async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const fetch: Fetch = async (url, init = {}) => {
      calls.push({ url, init });
      return new Response(JSON.stringify({ items: [], subtotal: 0, shipping_amount: 0, tax_amount: 0, total_amount: 0, currency: "USD" }), { status: 200 });
    };
    const client = new ApiClient({ fetch, readCookie: () => "csrf-1" });
    await client.quote(buildOrderBody([{ product_id: 7, quantity: 3 }], quoteAddress("GB")));
    expect(calls[0].url).toBe("/api/orders/quote");
    expect(calls[0].init.method).toBe("POST");
    expect((calls[0].init.headers as Record<string, string>)["X-CSRF-Token"]).toBe("csrf-1");
    expect(JSON.parse(String(calls[0].init.body)).items).toEqual([{ product_id: 7, quantity: 3 }]);
  });
});

describe("mapFieldErrors", () => {
  it("maps address paths to their inputs, items to line indexes, keeps the rest", () => {
    const m = mapFieldErrors([
      { field: "shipping_address.postal_code", message: "at most 20 characters" },
      { field: "shipping_address.postal_code", message: "second message is dropped" },
      { field: "shipping_address.country", message: "must be an ISO 3166-1 alpha-2 country code" },
      { field: "items[1].quantity", message: "1 to 1000" },
      { field: "payment.token", message: "required" },
      { field: "items", message: "1 to 100 lines" },
      { field: "shipping_address.planet", message: "unknown field" },
    ]);
    expect(m.address).toEqual({ postal_code: "at most 20 characters", country: "must be an ISO 3166-1 alpha-2 country code" });
    expect(m.items).toEqual({ 1: "1 to 1000" });
    expect(m.payment).toBe("required");
    expect(m.other.map((e) => e.field)).toEqual(["items", "shipping_address.planet"]);
  });
  it("accepts no errors", () => {
    expect(mapFieldErrors(undefined)).toEqual({ address: {}, items: {}, other: [] });
  });
});

describe("the remembered address", () => {
  it("round-trips through storage and ignores junk", () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
    expect(loadAddress(storage)).toBeNull();
    saveAddress({ ...EMPTY_ADDRESS, name: "Ada", country: "GB" }, storage);
    expect(loadAddress(storage)).toEqual({ ...EMPTY_ADDRESS, name: "Ada", country: "GB" });
    store.set("oms.address.v1", "{not json");
    expect(loadAddress(storage)).toBeNull();
    store.set("oms.address.v1", JSON.stringify({ name: 5, city: "Paris" }));
    expect(loadAddress(storage)).toEqual({ ...EMPTY_ADDRESS, city: "Paris" });
  });
});

describe("countries and provider", () => {
  it("lists upper-case alpha-2 codes once each, sorted by name, with the common ones", () => {
    const codes = COUNTRIES.map((c) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^[A-Z]{2}$/);
    for (const c of ["GB", "US", "DE", "FR"]) expect(codes).toContain(c);
    const names = COUNTRIES.map((c) => c.name);
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b, "en")));
  });
  it("is simulated unless built for stripe", () => {
    expect(paymentProvider(undefined)).toBe("simulated");
    expect(paymentProvider("Stripe")).toBe("stripe");
    expect(paymentProvider("other")).toBe("simulated");
  });
});
