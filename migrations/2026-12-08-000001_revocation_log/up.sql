-- Every committed token revocation, in commit order: the bus publisher (EVENT_BUS=nats) hands
-- them to every instance over the bus (API.md, "Event bus"). Written in the revoking transaction
-- under the transaction-level advisory lock "oms_revk" (taken just before the insert, held to
-- commit), so ids ascend in commit order and a reader past id N never misses a later commit below
-- it. `payload` is what `oms_revocations` carries: a jti, or `user:<id>:<generation>`. Rows are
-- kept a day (housekeeping), long past any publisher's need.
CREATE TABLE revocation_log (
    id BIGSERIAL PRIMARY KEY,
    payload TEXT NOT NULL,
    logged_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX revocation_log_logged_idx ON revocation_log (logged_at);
