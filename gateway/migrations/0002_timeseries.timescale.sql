-- TimescaleDB (>= 2.13): hypertables, compression and retention, and sales_daily as a
-- continuous aggregate with the same columns as the plain table of 0002_timeseries.sql.
-- Policies are run by the TimescaleDB scheduler (tests call run_job explicitly, DESIGN §11).

SELECT create_hypertable('tag_reads', by_range('cycle_start', INTERVAL '1 day'));
SELECT create_hypertable('tag_events', by_range('time', INTERVAL '7 days'));

-- Every column of the unique keys is a segmentby or orderby column, as compression requires.
ALTER TABLE tag_reads SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'store_id',
    timescaledb.compress_orderby = 'cycle_start DESC, reader_id, antenna, epc, ingester'
);
ALTER TABLE tag_events SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'store_id',
    timescaledb.compress_orderby = 'time DESC, epc, seq'
);
SELECT add_compression_policy('tag_reads', INTERVAL '7 days');
SELECT add_compression_policy('tag_events', INTERVAL '30 days');
SELECT add_retention_policy('tag_reads', INTERVAL '90 days');
SELECT add_retention_policy('tag_events', INTERVAL '730 days');

CREATE MATERIALIZED VIEW sales_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT store_id,
       gtin,
       time_bucket(INTERVAL '1 day', time) AS day,
       count(*)::bigint AS units
FROM tag_events
WHERE kind = 'sold'
GROUP BY store_id, gtin, time_bucket(INTERVAL '1 day', time)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('sales_daily',
    start_offset => INTERVAL '35 days',
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '1 hour');
