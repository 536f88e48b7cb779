//! The database refuses what must never be stored, whatever the code does.

use adapters_postgres::errors::check_violation;

use crate::support::ctx;

#[tokio::test]
async fn negative_stock_is_refused_by_the_database() {
    let c = ctx().await;
    let p = c.product("A-1", 100, 3).await;
    let err = c
        .sql(&format!(
            "UPDATE products SET stock_quantity = stock_quantity - 4 WHERE id = {}",
            p.id
        ))
        .await
        .unwrap_err();
    assert_eq!(check_violation(&err), Some("products_stock_quantity_check"));
    assert_eq!(c.stock(p.id).await, 3);
    let err = c
        .sql(&format!(
            "UPDATE products SET price = -1 WHERE id = {}",
            p.id
        ))
        .await
        .unwrap_err();
    assert_eq!(check_violation(&err), Some("products_price_check"));
    assert!(
        c.sql("UPDATE products SET stock_quantity = 2147483648")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn impossible_orders_are_refused_by_the_database() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let p = c.product("A-1", 100, 3).await;
    let order = c.place(ada.id, &[(p.id, 1)]).await;
    let cases = [
        (
            format!(
                "UPDATE orders SET status = 'SHIPPED' WHERE id = '{}'",
                order.id
            ),
            "orders_status_check",
        ),
        (
            format!(
                "UPDATE orders SET total_amount = total_amount + 1 WHERE id = '{}'",
                order.id
            ),
            "orders_total_adds_up",
        ),
        (
            format!(
                "UPDATE order_items SET quantity = 0 WHERE order_id = '{}'",
                order.id
            ),
            "order_items_quantity_check",
        ),
        (
            format!(
                "UPDATE orders SET status = 'PAID' WHERE id = '{}'",
                order.id
            ),
            "orders_paid_is_collected",
        ),
        (
            format!(
                "UPDATE orders SET payment_status = 'lost' WHERE id = '{}'",
                order.id
            ),
            "orders_payment_status_check",
        ),
    ];
    for (sql, constraint) in cases {
        let err = c.sql(&sql).await.unwrap_err();
        assert_eq!(check_violation(&err), Some(constraint), "{sql}");
    }
    assert!(
        c.sql("UPDATE users SET role = 'ROOT'").await.is_err(),
        "unknown role"
    );
    // Unique sku and email, whatever the case, even written directly.
    assert!(
        c.sql("INSERT INTO products (name, price, stock_quantity, sku) VALUES ('x', 1, 1, 'a-1')")
            .await
            .is_err()
    );
    assert!(
        c.sql("INSERT INTO users (email, password_hash) VALUES ('ADA@example.com', 'h')")
            .await
            .is_err()
    );
}
