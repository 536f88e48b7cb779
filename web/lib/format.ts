/** Formats an integer number of cents as money in the order's currency (USD by default). */
export function money(cents: number, currency = "USD"): string {
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

/** Parses a money field typed by a person ("12", "12.5", "12.50") into cents; null if invalid. */
export function parseMoney(text: string): number | null {
  const t = text.trim();
  if (!/^\d{1,9}(\.\d{1,2})?$/.test(t)) return null;
  const [whole, frac = ""] = t.split(".");
  return Number(whole) * 100 + Number(frac.padEnd(2, "0"));
}

export function dateTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" });
}

/**
 * A short label for an order id. Order ids are UUID v7: their first characters are a timestamp
 * shared by orders placed within the same minute, so the label is the random tail instead.
 */
export function shortId(id: string): string {
  return id.slice(-8);
}
