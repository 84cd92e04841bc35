-- The shape of ours and of naive: lock the SKU row first, then write the order rows, then COMMIT.
-- The row is held for 7 round trips (here with no Python between them).
\set buyer random(2, 1001)
BEGIN;
SELECT id FROM catalog_sku WHERE id = 1 FOR UPDATE;
UPDATE catalog_sku SET stock = stock - 1, reserved = reserved + 1 WHERE id = 1 AND stock >= 1;
INSERT INTO orders_checkout (buyer_id, currency, goods_total, shipping_total, discount_total, total, coupon_code, status, expires_at, created_at)
    VALUES (:buyer, 'CNY', 9900, 0, 0, 9900, '', 'pending_payment', now() + interval '30 minutes', now()) RETURNING id AS checkout_id \gset
INSERT INTO orders_order (checkout_id, merchant_id, buyer_id, address, status, currency, goods_total, shipping_total, discount_total, total, platform_fee, placed_at, carrier, tracking_number)
    VALUES (:checkout_id, 1, :buyer, '{}', 'pending_payment', 'CNY', 9900, 0, 0, 9900, 0, now(), '', '') RETURNING id AS order_id \gset
INSERT INTO orders_orderline (order_id, sku_id, product_id, product_title, sku_label, unit_price, quantity, discount_amount, paid_amount, platform_fee, refunded_amount, refunded_quantity, attribution_held, attribution_hold_reason, attribution_rule, commission_rate_bps, member_discount, platform_discount)
    VALUES (:order_id, 1, 1, 'Flash-sale tea', 'TEA-1', 9900, 1, 0, 9900, 0, 0, 0, false, '', '', 0, 0, 0);
INSERT INTO orders_orderstatuschange (order_id, from_status, to_status, action, note, created_at, actor_id)
    VALUES (:order_id, '', 'pending_payment', 'place', '', now(), :buyer);
COMMIT;
