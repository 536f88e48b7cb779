import { describe, expect, it } from "vitest";
import { CardPaymentMethods, DEFAULT_STRIPE_JS_URL, cardErrorMessage, stripeConfig } from "../lib/stripe";

describe("stripeConfig", () => {
  it("has no publishable key when none or a blank one was built in, and Stripe's own Stripe.js by default", () => {
    expect(stripeConfig(undefined, undefined)).toEqual({ publishableKey: null, jsUrl: DEFAULT_STRIPE_JS_URL });
    expect(stripeConfig("  ", " ")).toEqual({ publishableKey: null, jsUrl: "https://js.stripe.com/v3/" });
  });

  it("takes the key and the Stripe.js URL, trimmed", () => {
    expect(stripeConfig(" pk_test_123 ", "http://127.0.0.1:8420/js.stripe.com/v3/")).toEqual({
      publishableKey: "pk_test_123",
      jsUrl: "http://127.0.0.1:8420/js.stripe.com/v3/",
    });
  });
});

describe("cardErrorMessage", () => {
  it("shows Stripe's message, else a plain one", () => {
    expect(cardErrorMessage({ code: "incorrect_number", message: "Your card number is incorrect." })).toBe("Your card number is incorrect.");
    expect(cardErrorMessage(undefined)).toMatch(/^The card could not be used/);
    expect(cardErrorMessage({ message: " " })).toMatch(/^The card could not be used/);
  });
});

describe("CardPaymentMethods", () => {
  it("reuses the PaymentMethod while the card is unchanged, so a retry sends the same body", async () => {
    const made: string[] = [];
    const make = async () => {
      const id = `pm_${made.length + 1}`;
      made.push(id);
      return id;
    };
    const methods = new CardPaymentMethods();
    expect(await methods.get(make)).toBe("pm_1");
    expect(await methods.get(make)).toBe("pm_1");
    methods.cardChanged();
    expect(await methods.get(make)).toBe("pm_2");
    methods.forget();
    expect(await methods.get(make)).toBe("pm_3");
    expect(made).toEqual(["pm_1", "pm_2", "pm_3"]);
  });

  it("does not keep a PaymentMethod made from a card changed meanwhile, nor a failed one", async () => {
    const methods = new CardPaymentMethods();
    let n = 0;
    expect(
      await methods.get(async () => {
        methods.cardChanged();
        return `pm_${++n}`;
      }),
    ).toBe("pm_1");
    expect(await methods.get(async () => `pm_${++n}`)).toBe("pm_2");
    const failing = new CardPaymentMethods();
    await expect(failing.get(async () => Promise.reject(new Error("declined")))).rejects.toThrow("declined");
    expect(await failing.get(async () => "pm_ok")).toBe("pm_ok");
  });
});
