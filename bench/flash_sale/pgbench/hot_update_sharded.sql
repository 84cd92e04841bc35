-- The stock split over 8 rows (inventory sharding): each buyer takes a unit from one shard.
\set shard random(1, 8)
UPDATE catalog_sku SET stock = stock - 1, reserved = reserved + 1 WHERE product_id = 1 AND code = 'SHARD-' || :shard AND stock >= 1;
