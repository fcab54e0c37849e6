-- Nothing to add: TimescaleDB gives the sales_daily continuous aggregate an index per GROUP BY
-- column with the bucket, (store_id, day) and (gtin, day), when it creates it (0002).
SELECT 1;
