-- The hot row alone: one conditional UPDATE in autocommit (no order rows).
UPDATE catalog_sku SET stock = stock - 1, reserved = reserved + 1 WHERE id = 1 AND stock >= 1;
