/** The simulated payment provider's test tokens, explained next to every payment token field. */
export const TEST_TOKENS: { token: string; effect: string }[] = [
  { token: "tok_visa", effect: "succeeds: the order is paid at once" },
  { token: "tok_chargeDeclined", effect: "is declined: the order is cancelled and its stock released" },
  { token: "tok_timeout", effect: "is charged but answers too late: the order stays pending (processing) and turns paid live a little later" },
  { token: "tok_error", effect: "fails without charging: the order stays pending (processing) until the provider is asked again" },
];

export function TestTokenHelp({ id }: { id: string }) {
  return (
    <div id={id} className="hint">
      <p>This shop runs a simulated card processor. Test tokens:</p>
      <ul>
        {TEST_TOKENS.map((t) => (
          <li key={t.token}>
            <code>{t.token}</code> {t.effect}
          </li>
        ))}
      </ul>
      <p>Any other token is declined.</p>
      <p>
        A shop that takes payments through Stripe asks for a Stripe PaymentMethod id instead (in Stripe&apos;s test mode:{" "}
        <code>pm_card_visa</code> succeeds, <code>pm_card_chargeCustomerFail</code> is declined).
      </p>
    </div>
  );
}
