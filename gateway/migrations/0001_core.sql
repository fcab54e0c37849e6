-- Core tables of the time-series store, identical on plain PostgreSQL and TimescaleDB.
-- TimescaleDB-specific objects (hypertables, policies, the continuous aggregate) live in 0002.

CREATE TABLE stores (
    store_id      text PRIMARY KEY,
    name          text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('shop', 'warehouse')),
    lat           double precision CHECK (lat BETWEEN -90 AND 90),
    lon           double precision CHECK (lon BETWEEN -180 AND 180),
    pick_capacity int NOT NULL DEFAULT 0 CHECK (pick_capacity >= 0)
);

CREATE TABLE readers (
    store_id  text NOT NULL REFERENCES stores ON UPDATE CASCADE,
    reader_id text NOT NULL,
    driver    text NOT NULL,
    zones     jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (store_id, reader_id)
);

CREATE TABLE products (
    gtin           text PRIMARY KEY CHECK (gtin ~ '^[0-9]{14}$'),
    sku            text,
    name           text NOT NULL,
    size           text,
    price          numeric(12,2) CHECK (price >= 0),
    cost           numeric(12,2) CHECK (cost >= 0),
    markdown_date  date,
    markdown_price numeric(12,2) CHECK (markdown_price >= 0),
    salvage_value  numeric(12,2) CHECK (salvage_value >= 0)
);

-- One row per reporting cycle x reader x antenna x EPC. The UNIQUE key is the idempotency key
-- of a read summary (a replay inserts nothing) and includes the time column (hypertables need it).
CREATE TABLE tag_reads (
    store_id    text NOT NULL,
    reader_id   text NOT NULL,
    antenna     smallint NOT NULL,
    epc         bytea NOT NULL,
    cycle_start timestamptz NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    read_count  int NOT NULL CHECK (read_count > 0),
    peak_rssi   real,
    -- Which gateway summarised the cycle: several gateways on one shared subscription each see a
    -- share of a reader's messages, so each writes its own summary row of the same cycle.
    ingester    text NOT NULL DEFAULT '',
    CONSTRAINT tag_reads_key UNIQUE (store_id, reader_id, antenna, epc, cycle_start, ingester),
    CONSTRAINT tag_reads_seen_order CHECK (first_seen <= last_seen)
);

-- Item events; (store_id, epc, seq, time) is the idempotency key of an event.
CREATE TABLE tag_events (
    store_id  text NOT NULL,
    epc       bytea NOT NULL,
    seq       bigint NOT NULL,
    time      timestamptz NOT NULL,
    kind      text NOT NULL
              CHECK (kind IN ('arrived', 'moved', 'departed', 'sold', 'missing', 'census', 'picked')),
    zone      text,
    from_zone text,
    gtin      text CHECK (gtin ~ '^[0-9]{14}$'),
    serial    text,
    CONSTRAINT tag_events_key UNIQUE (store_id, epc, seq, time)
);
CREATE INDEX tag_events_sold_idx ON tag_events (store_id, gtin, time) WHERE kind = 'sold';

-- One row per item: its latest known state (upserted only when newer).
CREATE TABLE tag_state (
    epc         bytea PRIMARY KEY,
    store_id    text NOT NULL,
    gtin        text CHECK (gtin ~ '^[0-9]{14}$'),
    serial      text,
    zone        text,
    status      text NOT NULL CHECK (status IN ('present', 'missing', 'departed', 'sold', 'picked')),
    last_seen   timestamptz NOT NULL,
    read_rate   real CHECK (read_rate >= 0),
    confidence  real CHECK (confidence BETWEEN 0 AND 1),
    last_census timestamptz,
    last_seq    bigint NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX tag_state_stock_idx ON tag_state (store_id, gtin, zone) WHERE status = 'present';

CREATE TABLE warehouse_stock (
    warehouse_id text NOT NULL REFERENCES stores ON UPDATE CASCADE,
    gtin         text NOT NULL CHECK (gtin ~ '^[0-9]{14}$'),
    on_hand      int NOT NULL CHECK (on_hand >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (warehouse_id, gtin)
);

-- Rows the database refused for good (SQLSTATE classes 22, 23, ...): kept with the reason, never lost.
-- dedup_key makes a replayed dead letter a no-op (a batch retried after an outage).
CREATE TABLE dead_letters (
    id         bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    target     text NOT NULL,
    sqlstate   text,
    reason     text NOT NULL,
    payload    jsonb NOT NULL,
    dedup_key  text UNIQUE
);

-- Items present per shop x GTIN x zone, with freshness.
CREATE VIEW stock_by_zone AS
SELECT store_id,
       gtin,
       zone,
       count(*)::bigint        AS units,
       max(last_seen)          AS newest_seen,
       min(last_seen)          AS oldest_seen,
       avg(confidence)::real   AS mean_confidence
FROM tag_state
WHERE status = 'present'
GROUP BY store_id, gtin, zone;
