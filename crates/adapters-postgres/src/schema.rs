//! The tables, as diesel sees them (written by hand from `migrations/`; keep the two in step).

diesel::table! {
    users (id) {
        id -> Int8,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        status -> Text,
        version -> Int8,
        token_generation -> Int8,
        tokens_revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    order_notes (id) {
        id -> Int8,
        order_id -> Uuid,
        actor_id -> Int8,
        actor_role -> Text,
        note -> Text,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        occurred_at -> Timestamptz,
        action -> Text,
        actor_id -> Nullable<Int8>,
        actor_role -> Nullable<Text>,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        changes -> Nullable<Jsonb>,
        request_id -> Nullable<Text>,
        client_ip -> Nullable<Text>,
    }
}

diesel::table! {
    audit_purges (id) {
        id -> Int8,
        cutoff -> Timestamptz,
        deleted -> Int8,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    products (id) {
        id -> Int8,
        name -> Text,
        description -> Nullable<Text>,
        price -> Int8,
        stock_quantity -> Int8,
        sku -> Text,
        archived -> Bool,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        image_url -> Nullable<Text>,
    }
}

diesel::table! {
    orders (id) {
        id -> Uuid,
        user_id -> Int8,
        status -> Text,
        payment_status -> Text,
        payment_collected -> Bool,
        payment_reference -> Nullable<Text>,
        payment_attempted_at -> Nullable<Timestamptz>,
        payment_attempt -> Int4,
        fulfillment_status -> Text,
        refunded_amount -> Int8,
        shipping_refunded -> Bool,
        refund_count -> Int4,
        subtotal -> Int8,
        shipping_amount -> Int8,
        tax_amount -> Int8,
        total_amount -> Int8,
        currency -> Text,
        shipping_address -> Jsonb,
        tracking_carrier -> Nullable<Text>,
        tracking_number -> Nullable<Text>,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        item_count -> Nullable<Int8>,
    }
}

diesel::table! {
    order_items (id) {
        id -> Int8,
        order_id -> Uuid,
        product_id -> Int8,
        sku -> Text,
        name -> Text,
        quantity -> Int8,
        unit_price -> Int8,
        created_at -> Timestamptz,
        quantity_shipped -> Int8,
        quantity_cancelled -> Int8,
        quantity_returned -> Int8,
    }
}

diesel::table! {
    order_events (id) {
        id -> Int8,
        order_id -> Uuid,
        user_id -> Int8,
        #[sql_name = "type"]
        kind -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        payment_status -> Text,
        total_amount -> Int8,
        actor_id -> Nullable<Int8>,
        actor_role -> Nullable<Text>,
        note -> Nullable<Text>,
        occurred_at -> Timestamptz,
        fulfillment_status -> Text,
        refunded_amount -> Int8,
        shipment_id -> Nullable<Uuid>,
        refund_id -> Nullable<Uuid>,
        amount -> Nullable<Int8>,
    }
}

diesel::table! {
    idempotency_keys (user_id, scope, key) {
        user_id -> Int8,
        scope -> Text,
        key -> Text,
        request_hash -> Text,
        response_status -> Nullable<Int4>,
        response_body -> Nullable<Text>,
        response_location -> Nullable<Text>,
        created_at -> Timestamptz,
        claim -> Uuid,
        resource_id -> Nullable<Uuid>,
        leased_until -> Timestamptz,
    }
}

diesel::table! {
    revoked_tokens (jti) {
        jti -> Text,
        expires_at -> Timestamptz,
        revoked_at -> Timestamptz,
    }
}

diesel::table! {
    revocation_log (id) {
        id -> Int8,
        payload -> Text,
        logged_at -> Timestamptz,
    }
}

diesel::table! {
    simulated_charges (order_id) {
        order_id -> Uuid,
        token -> Text,
        amount -> Int8,
        currency -> Text,
        status -> Text,
        reference -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        attempt -> Int4,
    }
}

diesel::table! {
    shipments (id) {
        id -> Uuid,
        order_id -> Uuid,
        carrier -> Nullable<Text>,
        tracking_number -> Nullable<Text>,
        note -> Nullable<Text>,
        actor_id -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    shipment_items (shipment_id, product_id) {
        shipment_id -> Uuid,
        order_id -> Uuid,
        product_id -> Int8,
        quantity -> Int8,
    }
}

diesel::table! {
    refunds (id) {
        id -> Uuid,
        order_id -> Uuid,
        amount -> Int8,
        shipping -> Bool,
        reason -> Text,
        status -> Text,
        provider_reference -> Nullable<Text>,
        actor_id -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    refund_items (refund_id, product_id, restock) {
        refund_id -> Uuid,
        order_id -> Uuid,
        product_id -> Int8,
        quantity -> Int8,
        restock -> Text,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Uuid,
        url -> Text,
        event_types -> Array<Text>,
        description -> Nullable<Text>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_expires_at -> Nullable<Timestamptz>,
        after_event_id -> Int8,
        failing_since -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Uuid,
        endpoint_id -> Uuid,
        event_id -> Int8,
        event_type -> Text,
        order_id -> Nullable<Uuid>,
        payload -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        last_attempt_at -> Nullable<Timestamptz>,
        last_response_status -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        lease_token -> Nullable<Uuid>,
        leased_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_fanout (singleton) {
        singleton -> Bool,
        last_event_id -> Int8,
    }
}

diesel::table! {
    stripe_payment_intents (order_id, attempt) {
        order_id -> Uuid,
        attempt -> Int4,
        intent_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    stripe_events (event_id) {
        event_id -> Text,
        #[sql_name = "type"]
        kind -> Text,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    email_deliveries (id) {
        id -> Uuid,
        event_id -> Int8,
        kind -> Text,
        recipient -> Text,
        order_id -> Uuid,
        shipment_id -> Nullable<Uuid>,
        refund_id -> Nullable<Uuid>,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        last_attempt_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        lease_token -> Nullable<Uuid>,
        leased_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    email_fanout (singleton) {
        singleton -> Bool,
        last_event_id -> Int8,
    }
}

diesel::joinable!(orders -> users (user_id));
diesel::joinable!(order_items -> orders (order_id));
diesel::joinable!(order_items -> products (product_id));
diesel::joinable!(order_events -> orders (order_id));
diesel::joinable!(order_notes -> orders (order_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    products,
    orders,
    order_items,
    order_events,
    idempotency_keys,
    revoked_tokens,
    revocation_log,
    simulated_charges,
    shipments,
    shipment_items,
    refunds,
    refund_items,
    order_notes,
    audit_log,
    audit_purges,
    webhook_endpoints,
    webhook_deliveries,
    webhook_fanout,
    stripe_payment_intents,
    stripe_events,
    email_deliveries,
    email_fanout,
);
