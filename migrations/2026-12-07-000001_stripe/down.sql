DROP TABLE stripe_events;
DROP TABLE stripe_payment_intents;
