import { afterEach, describe, expect, it, vi } from "vitest";
import { dayLabel, debounce, lastDaysRange, salesSeries } from "../lib/dashboard";

describe("lastDaysRange", () => {
  it("covers 30 whole UTC days ending with today", () => {
    const r = lastDaysRange(new Date("2026-12-04T17:40:12.345Z"));
    expect(r).toEqual({ created_from: "2026-11-05T00:00:00.000Z", created_to: "2026-12-05T00:00:00.000Z" });
    expect((Date.parse(r.created_to) - Date.parse(r.created_from)) / 86_400_000).toBe(30);
  });
  it("crosses a year end", () => {
    expect(lastDaysRange(new Date("2027-01-01T00:00:00Z"), 2)).toEqual({ created_from: "2026-12-31T00:00:00.000Z", created_to: "2027-01-02T00:00:00.000Z" });
  });
});

describe("salesSeries", () => {
  it("labels days in UTC and turns cents into currency units", () => {
    const s = salesSeries([
      { period_start: "2026-12-03T00:00:00Z", orders: 2, paid_orders: 1, units: 3, gross: 2100, refunded: 100, net: 2000 },
      { period_start: "2026-12-04T00:00:00Z", orders: 0, paid_orders: 0, units: 0, gross: 0, refunded: 0, net: 0 },
    ]);
    expect(s).toEqual({ labels: ["3 Dec", "4 Dec"], orders: [2, 0], net: [20, 0] });
    expect(dayLabel("nonsense")).toBe("nonsense");
  });
});

describe("debounce", () => {
  afterEach(() => vi.useRealTimers());
  it("calls once after a burst, and not after cancel", () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const d = debounce(fn, 500);
    d.call();
    vi.advanceTimersByTime(300);
    d.call();
    d.call();
    vi.advanceTimersByTime(499);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
    d.call();
    d.cancel();
    vi.advanceTimersByTime(1000);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
