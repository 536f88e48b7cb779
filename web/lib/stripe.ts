/**
 * Stripe.js for the checkout's card form, without an npm package: a script tag loads it from
 * `NEXT_PUBLIC_STRIPE_JS_URL` (default Stripe's own, https://js.stripe.com/v3/) and `window.Stripe`
 * is called with `NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY`. The types below cover only the calls this app
 * makes: a `card` Element, `createPaymentMethod` and `confirmCardPayment` (3-D Secure).
 */

export interface StripeError {
  type?: string;
  code?: string;
  decline_code?: string;
  message?: string;
}

/** A card Element's `change` event (Stripe.js passes one; a fake may pass nothing). */
export interface StripeCardChange {
  error?: StripeError;
  complete?: boolean;
  empty?: boolean;
}

export interface StripeCardElement {
  mount(target: HTMLElement): void;
  destroy(): void;
  on(event: "change", handler: (event?: StripeCardChange) => void): void;
  focus?(): void;
}

export interface StripeElements {
  create(type: "card", options?: Record<string, unknown>): StripeCardElement;
}

export interface StripeJs {
  elements(): StripeElements;
  createPaymentMethod(data: {
    type: "card";
    card: StripeCardElement;
    billing_details?: { name?: string };
  }): Promise<{ paymentMethod?: { id: string }; error?: StripeError } | undefined>;
  /** Finishes a PaymentIntent's next action (3-D Secure) in the page. */
  confirmCardPayment(clientSecret: string): Promise<{ paymentIntent?: { id: string; status: string }; error?: StripeError } | undefined>;
}

export type StripeFactory = (publishableKey: string) => StripeJs;

export const DEFAULT_STRIPE_JS_URL = "https://js.stripe.com/v3/";

export interface StripeConfig {
  /** The publishable key, or null when the app was built without one (no card form then). */
  publishableKey: string | null;
  /** Where Stripe.js is loaded from. */
  jsUrl: string;
}

/** The Stripe settings this app was built with (NEXT_PUBLIC_* are fixed at build time). */
export function stripeConfig(
  key: string | undefined = process.env.NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY,
  url: string | undefined = process.env.NEXT_PUBLIC_STRIPE_JS_URL,
): StripeConfig {
  const publishableKey = key?.trim() || null;
  return { publishableKey, jsUrl: url?.trim() || DEFAULT_STRIPE_JS_URL };
}

/** A card error's message for the field: Stripe's own (written for shoppers), else a plain one. */
export function cardErrorMessage(error: StripeError | undefined): string {
  const message = error?.message?.trim();
  return message || "The card could not be used. Check its number, expiry date and security code.";
}

/** A card error from Stripe.js (shown at the card field); its message is the one to show. */
export class CardError extends Error {
  constructor(readonly stripeError: StripeError | undefined) {
    super(cardErrorMessage(stripeError));
  }
}

/**
 * Creates a PaymentMethod from the mounted card Element and answers its id; a card error (or a
 * throw, e.g. a lost connection) is thrown as a CardError.
 */
export async function createCardPaymentMethod(stripe: StripeJs, card: StripeCardElement, name?: string): Promise<string> {
  const made = await stripe
    .createPaymentMethod({ type: "card", card, ...(name ? { billing_details: { name } } : {}) })
    .catch((): { paymentMethod?: { id: string }; error?: StripeError } => ({
      error: { message: "The card could not be checked with Stripe. Check your connection and try again." },
    }));
  if (!made?.paymentMethod?.id) throw new CardError(made?.error);
  return made.paymentMethod.id;
}

let loading: { url: string; promise: Promise<StripeFactory> } | null = null;

/**
 * Loads Stripe.js once per page (the same promise for every caller asking for the same URL),
 * with a plain (not module) script tag, so `document.currentScript` is set while it runs (the
 * fake Stripe.js of localstripe finds its server from it). A failed load is forgotten, so a later
 * call tries again.
 */
export function loadStripeJs(url: string): Promise<StripeFactory> {
  const existing = (window as { Stripe?: StripeFactory }).Stripe;
  if (typeof existing === "function") return Promise.resolve(existing);
  if (loading && loading.url === url) return loading.promise;
  const promise = new Promise<StripeFactory>((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.async = true;
    script.onload = () => {
      const loaded = (window as { Stripe?: StripeFactory }).Stripe;
      if (typeof loaded === "function") resolve(loaded);
      else reject(new Error(`${url} did not define Stripe`));
    };
    script.onerror = () => {
      script.remove();
      reject(new Error(`${url} could not be loaded`));
    };
    document.body.appendChild(script);
  });
  loading = { url, promise };
  promise.catch(() => {
    if (loading?.promise === promise) loading = null;
  });
  return promise;
}

/**
 * The PaymentMethod made from the card as it is typed now. While the card is unchanged, the one
 * made before is reused, so a retry after a network error sends the same order body (and so the
 * same Idempotency-Key: never a second order); `cardChanged` (the Element's change event) and
 * `forget` (after the server's final answer) make the next `get` create a new one.
 */
export class CardPaymentMethods {
  private version = 0;
  private cached: { version: number; id: string } | null = null;

  cardChanged(): void {
    this.version += 1;
    this.cached = null;
  }

  forget(): void {
    this.cached = null;
  }

  /** The cached id for the current card, or `make()`'s (cached unless the card changed meanwhile). */
  async get(make: () => Promise<string>): Promise<string> {
    if (this.cached && this.cached.version === this.version) return this.cached.id;
    const version = this.version;
    const id = await make();
    if (version === this.version) this.cached = { version, id };
    return id;
  }
}
