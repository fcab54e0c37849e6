-- The allocator reads sales_daily by GTIN (velocity of a GTIN in every shop, `WHERE gtin = ANY
-- AND day >= ...`); the unique key leads with store_id, so without this index each such read
-- scanned the whole table (at 200 shops x 20k GTINs, millions of rows per GTIN refresh).
CREATE INDEX sales_daily_gtin_day ON sales_daily (gtin, day);
