/**
 * The checkout's pure logic: the countries offered, the placement/quote body built from the cart and
 * the address form, problem `errors[]` mapped onto the form's fields, and the last address kept in
 * localStorage (key `oms.address.v1`).
 */
import type { PlaceOrderBody, ProblemFieldError, ShippingAddress } from "./api";

export type AddressForm = Record<keyof ShippingAddress, string>;
export const EMPTY_ADDRESS: AddressForm = { name: "", line1: "", line2: "", city: "", region: "", postal_code: "", country: "" };
export const ADDRESS_KEYS: readonly (keyof ShippingAddress)[] = ["name", "line1", "line2", "city", "region", "postal_code", "country"];

/**
 * Countries offered at checkout: ISO 3166-1 alpha-2 codes (the server accepts every officially
 * assigned one; tax comes from its `TAX_RATES`, others pay none), by English name.
 */
export const COUNTRIES: readonly { code: string; name: string }[] = [
  { code: "AU", name: "Australia" },
  { code: "AT", name: "Austria" },
  { code: "BE", name: "Belgium" },
  { code: "BR", name: "Brazil" },
  { code: "CA", name: "Canada" },
  { code: "CH", name: "Switzerland" },
  { code: "CN", name: "China" },
  { code: "CZ", name: "Czechia" },
  { code: "DE", name: "Germany" },
  { code: "DK", name: "Denmark" },
  { code: "ES", name: "Spain" },
  { code: "FI", name: "Finland" },
  { code: "FR", name: "France" },
  { code: "GB", name: "United Kingdom" },
  { code: "GR", name: "Greece" },
  { code: "HU", name: "Hungary" },
  { code: "IE", name: "Ireland" },
  { code: "IN", name: "India" },
  { code: "IT", name: "Italy" },
  { code: "JP", name: "Japan" },
  { code: "KR", name: "South Korea" },
  { code: "LU", name: "Luxembourg" },
  { code: "MX", name: "Mexico" },
  { code: "NL", name: "Netherlands" },
  { code: "NO", name: "Norway" },
  { code: "NZ", name: "New Zealand" },
  { code: "PL", name: "Poland" },
  { code: "PT", name: "Portugal" },
  { code: "RO", name: "Romania" },
  { code: "SE", name: "Sweden" },
  { code: "SG", name: "Singapore" },
  { code: "US", name: "United States" },
  { code: "ZA", name: "South Africa" },
].sort((a, b) => a.name.localeCompare(b.name, "en"));

/** The body of `POST /api/orders` and `/quote`: trimmed, optional fields null, country upper-case. */
export function buildOrderBody(
  lines: readonly { product_id: number; quantity: number }[],
  address: AddressForm,
  token?: string,
): PlaceOrderBody {
  const body: PlaceOrderBody = {
    items: lines.map((l) => ({ product_id: l.product_id, quantity: l.quantity })),
    shipping_address: {
      name: address.name.trim(),
      line1: address.line1.trim(),
      line2: address.line2.trim() || null,
      city: address.city.trim(),
      region: address.region.trim() || null,
      postal_code: address.postal_code.trim() || null,
      country: address.country.trim().toUpperCase(),
    },
  };
  if (token !== undefined) body.payment = { token: token.trim() };
  return body;
}

/** Where a problem's field errors belong: on an address input, on a cart line, or nowhere known. */
export interface FieldErrors {
  /** By address field (`shipping_address.postal_code` → `postal_code`). */
  address: Partial<Record<keyof ShippingAddress, string>>;
  /** By cart line index (`items[2].quantity` → 2). */
  items: Record<number, string>;
  /** The payment token (`payment.token`). */
  payment?: string;
  /** Entries whose field matches no input (shown in the general alert). */
  other: ProblemFieldError[];
}

/** Maps problem+json `errors[].field` paths onto the checkout's inputs; the first message per field wins. */
export function mapFieldErrors(errors: readonly ProblemFieldError[] | undefined): FieldErrors {
  const out: FieldErrors = { address: {}, items: {}, other: [] };
  for (const e of errors ?? []) {
    const field = typeof e.field === "string" ? e.field : "";
    const addr = /^shipping_address\.([a-z0-9_]+)$/.exec(field);
    const item = /^items\[(\d+)\](?:\.[a-z_]+)?$/.exec(field);
    if (addr && (ADDRESS_KEYS as readonly string[]).includes(addr[1])) {
      const key = addr[1] as keyof ShippingAddress;
      out.address[key] ??= e.message;
    } else if (item) {
      const i = Number(item[1]);
      out.items[i] ??= e.message;
    } else if (field === "payment.token" || field === "payment") {
      out.payment ??= e.message;
    } else {
      out.other.push(e);
    }
  }
  return out;
}

const ADDRESS_KEY = "oms.address.v1";

/** The last address used at checkout, or null (nothing stored, or unreadable). */
export function loadAddress(storage: Pick<Storage, "getItem"> | undefined = globalThis.localStorage): AddressForm | null {
  try {
    const raw = storage?.getItem(ADDRESS_KEY);
    if (!raw) return null;
    const parsed: unknown = JSON.parse(raw);
    if (!parsed || typeof parsed !== "object") return null;
    const obj = parsed as Record<string, unknown>;
    const out = { ...EMPTY_ADDRESS };
    for (const k of ADDRESS_KEYS) if (typeof obj[k] === "string") out[k] = obj[k];
    return out;
  } catch {
    return null;
  }
}

export function saveAddress(address: AddressForm, storage: Pick<Storage, "setItem"> | undefined = globalThis.localStorage): void {
  try {
    storage?.setItem(ADDRESS_KEY, JSON.stringify(address));
  } catch {
    // Storage full or disabled: remembering the address is a convenience only.
  }
}

/**
 * The payment provider this app was built for (`NEXT_PUBLIC_PAYMENT_PROVIDER`, which must match the
 * server's `PAYMENT_PROVIDER`; the API does not expose it). Default `simulated`, the server's default.
 */
export function paymentProvider(value: string | undefined = process.env.NEXT_PUBLIC_PAYMENT_PROVIDER): "simulated" | "stripe" {
  return value?.trim().toLowerCase() === "stripe" ? "stripe" : "simulated";
}

/**
 * The address sent with a quote: the quote prices by the cart and the destination country only, so
 * the summary can show the total before the rest of the address is typed; the other fields carry
 * a stand-in that passes validation (the placement sends the real address and validates it).
 */
export function quoteAddress(country: string): AddressForm {
  return { name: "Quote", line1: "Quote", line2: "", city: "Quote", region: "", postal_code: "", country };
}
