import { paymentProvider } from "@/lib/checkout";

/** The simulated payment provider's test tokens, explained next to every payment token field. */
export const TEST_TOKENS: { token: string; effect: string }[] = [
  { token: "tok_visa", effect: "succeeds: the order is paid at once" },
  { token: "tok_chargeDeclined", effect: "is declined: the order is cancelled and its stock released" },
  { token: "tok_timeout", effect: "is charged but answers too late: the order stays pending (processing) and turns paid live a little later" },
  { token: "tok_error", effect: "fails without charging: the order stays pending (processing) until the provider is asked again" },
];

/** The payment field's label for the provider this app was built for (NEXT_PUBLIC_PAYMENT_PROVIDER). */
export function paymentTokenLabel(): string {
  return paymentProvider() === "stripe" ? "Stripe PaymentMethod id" : "Test payment token";
}

/**
 * What to type in the payment field. With the simulated provider (the server's default) no card
 * exists: the field takes one of its test tokens. With Stripe it takes a PaymentMethod id (this app
 * has no card form of its own).
 */
export function TestTokenHelp({ id }: { id: string }) {
  if (paymentProvider() === "stripe") {
    return (
      <p id={id} className="hint">
        Payments go through Stripe. This page has no card form yet: it takes the id of a PaymentMethod made with Stripe (in
        Stripe&apos;s test mode, <code>pm_card_visa</code>).
      </p>
    );
  }
  return (
    <div id={id} className="hint">
      <p>This shop runs a simulated payment provider: no real card is charged. Test tokens:</p>
      <ul>
        {TEST_TOKENS.map((t) => (
          <li key={t.token}>
            <code>{t.token}</code> {t.effect}
          </li>
        ))}
      </ul>
      <p>Any other token is declined.</p>
    </div>
  );
}
