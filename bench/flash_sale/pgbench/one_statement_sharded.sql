-- one_statement.sql with the stock split over 8 rows (inventory sharding): no single hot row.
-- Each buyer takes a unit from a random shard (a real version would fall back to the others).
\set buyer random(2, 1001)
\set shard random(1, 8)
WITH s AS (
    UPDATE catalog_sku SET stock = stock - 1, reserved = reserved + 1
    WHERE product_id = 1 AND code = 'SHARD-' || :shard AND stock >= 1 RETURNING id, product_id, price_amount
), c AS (
    INSERT INTO orders_checkout (buyer_id, currency, goods_total, shipping_total, discount_total, total, coupon_code, status, expires_at, created_at)
    SELECT :buyer, 'CNY', price_amount, 0, 0, price_amount, '', 'pending_payment', now() + interval '30 minutes', now() FROM s
    RETURNING id, total
), o AS (
    INSERT INTO orders_order (checkout_id, merchant_id, buyer_id, address, status, currency, goods_total, shipping_total, discount_total, total, platform_fee, placed_at, carrier, tracking_number)
    SELECT c.id, 1, :buyer, '{}', 'pending_payment', 'CNY', c.total, 0, 0, c.total, 0, now(), '', '' FROM c
    RETURNING id
), l AS (
    INSERT INTO orders_orderline (order_id, sku_id, product_id, product_title, sku_label, unit_price, quantity, discount_amount, paid_amount, platform_fee, refunded_amount, refunded_quantity, attribution_held, attribution_hold_reason, attribution_rule, commission_rate_bps, member_discount, platform_discount)
    SELECT o.id, s.id, s.product_id, 'Flash-sale tea', 'TEA-1', s.price_amount, 1, 0, s.price_amount, 0, 0, 0, false, '', '', 0, 0, 0 FROM o, s
)
INSERT INTO orders_orderstatuschange (order_id, from_status, to_status, action, note, created_at, actor_id)
SELECT o.id, '', 'pending_payment', 'place', '', now(), :buyer FROM o;
