/** The simulated payment provider's test tokens, explained next to every payment token field. */
export const TEST_TOKENS: { token: string; effect: string }[] = [
  { token: "tok_visa", effect: "succeeds: the order is paid at once" },
  { token: "tok_chargeDeclined", effect: "is declined: the order is cancelled and its stock released" },
  { token: "tok_timeout", effect: "is charged but answers too late: the order stays pending (processing) and turns paid live a little later" },
  { token: "tok_error", effect: "fails without charging: the order stays pending (processing) until the provider is asked again" },
];

/**
 * The payment field's label. Only the simulated provider has one: with Stripe (NEXT_PUBLIC_PAYMENT_PROVIDER)
 * the checkout and the order page take a card (components/StripeCard.tsx) instead.
 */
export function paymentTokenLabel(): string {
  return "Test payment token";
}

/**
 * What to type in the payment field: with the simulated provider (the server's default) no card
 * exists, and the field takes one of its test tokens.
 */
export function TestTokenHelp({ id }: { id: string }) {
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
