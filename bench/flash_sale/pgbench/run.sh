#!/usr/bin/env bash
# The database side alone (no Python): how fast can one hot SKU row take orders, by statement shape?
# Run after bench/flash_sale/run.py has created and seeded the database (it is reseeded next run).
#   bash bench/flash_sale/pgbench/run.sh [seconds] [clients]
set -euo pipefail
cd "$(dirname "$0")"
DB=${BENCH_PGBENCH_DB:-grassroots_bench}
SECONDS_EACH=${1:-10}
CLIENTS=${2:-8}
PG=(-h 127.0.0.1 -U postgres)
# Eight extra SKU rows of the same product stand in for stock shards (the *_sharded scripts).
psql "${PG[@]}" -d "$DB" -q -c "INSERT INTO catalog_sku (product_id, code, options, price_amount, currency, stock, reserved,
    sold, max_per_user, is_active, position) SELECT 1, 'SHARD-' || n, '{}', 9900, 'CNY', 0, 0, 0, 0, true, n
    FROM generate_series(1, 8) n ON CONFLICT DO NOTHING"
for script in hot_update hot_update_sharded lock_first lock_last one_statement one_statement_sharded; do
    psql "${PG[@]}" -d "$DB" -q -c "UPDATE catalog_sku SET stock = 100000000, reserved = 0, sold = 0 WHERE product_id = 1" \
        -c "VACUUM catalog_sku" -c "CHECKPOINT"
    printf '%-22s ' "$script"
    pgbench "${PG[@]}" -n -c "$CLIENTS" -j 2 -T "$SECONDS_EACH" -f "$script.sql" "$DB" 2>/dev/null \
        | grep -E "^(tps|latency average)" | tr '\n' ' '
    echo
done
