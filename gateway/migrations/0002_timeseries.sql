-- Plain PostgreSQL: BRIN indexes on the time columns and sales_daily as an ordinary table,
-- refreshed by the gateway (gateway.sink.refresh_sales_daily). The twin
-- 0002_timeseries.timescale.sql makes hypertables and a continuous aggregate with the same
-- columns instead, so the same queries work on both.

CREATE INDEX tag_reads_cycle_brin ON tag_reads USING brin (cycle_start);
CREATE INDEX tag_events_time_brin ON tag_events USING brin (time);

-- day: the UTC day as timestamptz (midnight UTC), the type time_bucket('1 day', ...) gives.
CREATE TABLE sales_daily (
    store_id text NOT NULL,
    gtin     text,
    day      timestamptz NOT NULL,
    units    bigint NOT NULL
);
CREATE UNIQUE INDEX sales_daily_key ON sales_daily (store_id, gtin, day) NULLS NOT DISTINCT;
