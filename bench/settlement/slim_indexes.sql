-- Experiment (--prepare-sql bench/settlement/slim_indexes.sql): the index changes suggested in
-- RESULTS.md, applied to the bench database only. Not part of the schema.
-- Superseded: migrations commissions 0002 and orders 0004 made these changes (mostly) in the schema;
-- on a database migrated with them this file fails (the indexes it drops no longer exist).
-- commissions_commissionline: 13 indexes, 10 after this, 3 of them partial.
DROP INDEX commissions_commissionline_shopkeeper_id_0c339304;   -- a prefix of commission_by_shopkeeper
DROP INDEX commissions_commissionline_status_24da59a9_like;     -- LIKE-only copy of the status index
DROP INDEX commissions_commissionline_available_at_cead6e6e;    -- no query filters on available_at
DROP INDEX commissions_commissionline_decided_by_id_1d45da72;
CREATE INDEX commission_decided_by ON commissions_commissionline (decided_by_id) WHERE decided_by_id IS NOT NULL;
DROP INDEX commissions_commissionline_override_beneficiary_id_7ee4e202;
CREATE INDEX commission_override_beneficiary ON commissions_commissionline (override_beneficiary_id)
    WHERE override_beneficiary_id IS NOT NULL;
DROP INDEX commissions_commissionline_settlement_id_d99de9df;
CREATE INDEX commission_settlement ON commissions_commissionline (settlement_id) WHERE settlement_id IS NOT NULL;
-- orders_orderline: the attribution snapshot's foreign keys are NULL for most lines.
DROP INDEX orders_orderline_attributed_shop_id_3b3d0a7a;
CREATE INDEX orderline_attributed_shop ON orders_orderline (attributed_shop_id) WHERE attributed_shop_id IS NOT NULL;
DROP INDEX orders_orderline_attributed_shopkeeper_id_0aa0ca9c;
CREATE INDEX orderline_attributed_shopkeeper ON orders_orderline (attributed_shopkeeper_id)
    WHERE attributed_shopkeeper_id IS NOT NULL;
DROP INDEX orders_orderline_attribution_click_id_f0af8861;
CREATE INDEX orderline_attribution_click ON orders_orderline (attribution_click_id)
    WHERE attribution_click_id IS NOT NULL;
