-- The allocation API's own tables: orders, allocations and their lines, reservations with expiry,
-- hashed API keys, idempotency keys; and the one function that reserves stock atomically.
-- Stock itself is read from the gateway's tables (tag_state, warehouse_stock), never written here
-- except by a confirmed pick (tag_state.status = 'picked' plus a 'picked' tag_event).

CREATE TABLE orders (
    order_id      text PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    ship_lat      double precision NOT NULL,
    ship_lon      double precision NOT NULL,
    service_level text NOT NULL,
    collect_shop  text NULL,
    lines         jsonb NOT NULL
);

CREATE TABLE allocations (
    allocation_id uuid PRIMARY KEY,
    order_id      text NOT NULL REFERENCES orders (order_id),
    status        text NOT NULL
                  CHECK (status IN ('reserved', 'picking', 'fulfilled', 'cancelled', 'expired')),
    policy        text NOT NULL,
    total_cost    double precision NOT NULL,
    decision      jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX allocations_order ON allocations (order_id);

CREATE TABLE allocation_lines (
    allocation_id uuid NOT NULL REFERENCES allocations (allocation_id) ON DELETE CASCADE,
    line_no       int NOT NULL CHECK (line_no >= 0),
    node_id       text NOT NULL,
    gtin          text NOT NULL,
    qty           int NOT NULL CHECK (qty > 0),
    PRIMARY KEY (allocation_id, line_no, node_id)
);

-- One row per allocation x node x GTIN. Outstanding units = qty - picked while status = 'active'
-- and expires_at > now(); expired rows stop counting at once, the sweep only relabels them.
CREATE TABLE reservations (
    reservation_id bigserial PRIMARY KEY,
    allocation_id  uuid NOT NULL REFERENCES allocations (allocation_id) ON DELETE CASCADE
                   DEFERRABLE INITIALLY DEFERRED,
    node_id        text NOT NULL,
    gtin           text NOT NULL,
    qty            int NOT NULL CHECK (qty > 0),
    picked         int NOT NULL DEFAULT 0 CHECK (picked >= 0 AND picked <= qty),
    status         text NOT NULL DEFAULT 'active'
                   CHECK (status IN ('active', 'fulfilled', 'cancelled', 'expired')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    UNIQUE (allocation_id, node_id, gtin)
);
-- Open reservations by GTIN (the snapshot reads one GTIN across nodes) and by cell.
CREATE INDEX reservations_open ON reservations (gtin, node_id) WHERE status = 'active';
CREATE INDEX reservations_expiry ON reservations (expires_at) WHERE status = 'active';
CREATE INDEX reservations_day ON reservations (node_id, created_at);

-- Keys are `ssk_<key_id>_<secret>`; only sha256(secret) is stored.
CREATE TABLE api_keys (
    key_id      text PRIMARY KEY,
    secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
    scopes      text[] NOT NULL CHECK (cardinality(scopes) > 0),
    note        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz NULL
);

-- A POST's first answer, replayed for a retry with the same key (per API key).
CREATE TABLE idempotency_keys (
    api_key_id   text NOT NULL,
    idem_key     text NOT NULL,
    method       text NOT NULL,
    path         text NOT NULL,
    request_hash bytea NOT NULL,
    status       int NULL,
    content_type text NULL,
    body         bytea NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key_id, idem_key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

-- Units a node can still promise for one GTIN: recorded units (items present in a shop, on hand
-- in a warehouse) minus open reservations minus the protected units of a shop.
CREATE FUNCTION shelfsight_available(p_node text, p_gtin text, p_protect int)
RETURNS int LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_kind   text;
    v_units  bigint;
    v_open   bigint;
BEGIN
    SELECT kind INTO v_kind FROM stores WHERE store_id = p_node;
    IF v_kind IS NULL THEN
        RETURN NULL;
    ELSIF v_kind = 'warehouse' THEN
        SELECT coalesce(sum(on_hand), 0) INTO v_units
          FROM warehouse_stock WHERE warehouse_id = p_node AND gtin = p_gtin;
    ELSE
        SELECT count(*) INTO v_units
          FROM tag_state WHERE store_id = p_node AND gtin = p_gtin AND status = 'present';
        v_units := v_units - p_protect;
    END IF;
    SELECT coalesce(sum(qty - picked), 0) INTO v_open
      FROM reservations
     WHERE node_id = p_node AND gtin = p_gtin AND status = 'active' AND expires_at > now();
    RETURN greatest(v_units - v_open, 0)::int;
END $$;

-- Reserve every (node, GTIN, qty) cell of one allocation, all or nothing.
-- Cells are locked (transaction advisory locks) in one global order, so two callers never
-- deadlock; availability is recounted under the locks (each statement of a VOLATILE function
-- sees rows committed before it started, so a reservation committed by the previous lock holder
-- is counted); nothing is inserted unless every cell fits. Returns the cells that do not fit
-- (node, gtin, wanted, available) and then holds no lock (the subtransaction is rolled back, so a
-- caller may retry other cells in the same transaction without a lock-order deadlock); an empty
-- result means the reservations were inserted and the cells stay locked until the caller's
-- transaction ends: commit promptly.
CREATE FUNCTION shelfsight_reserve(
    p_allocation uuid, p_expires timestamptz, p_nodes text[], p_gtins text[], p_qtys int[],
    p_protect int
) RETURNS TABLE (node_id text, gtin text, wanted int, available int)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    c record;
    v_avail int;
    v_nodes text[] := '{}';
    v_gtins text[] := '{}';
    v_wanted int[] := '{}';
    v_short_nodes text[] := '{}';
    v_short_gtins text[] := '{}';
    v_short_wanted int[] := '{}';
    v_short_avail int[] := '{}';
BEGIN
    IF cardinality(p_nodes) IS DISTINCT FROM cardinality(p_gtins)
       OR cardinality(p_nodes) IS DISTINCT FROM cardinality(p_qtys) THEN
        RAISE EXCEPTION 'shelfsight_reserve: arrays differ in length' USING ERRCODE = '22023';
    END IF;
    BEGIN  -- a subtransaction: when a cell is short, its rollback releases the locks taken
        FOR c IN
            SELECT t.n, t.g, sum(t.q)::int AS q
              FROM unnest(p_nodes, p_gtins, p_qtys) AS t (n, g, q)
             GROUP BY t.n, t.g
             ORDER BY hashtext(t.n), hashtext(t.g), t.n, t.g
        LOOP
            IF c.q <= 0 THEN
                RAISE EXCEPTION 'shelfsight_reserve: quantity % for %/%', c.q, c.n, c.g
                    USING ERRCODE = '22023';
            END IF;
            PERFORM pg_advisory_xact_lock(hashtext(c.n), hashtext(c.g));
            v_avail := shelfsight_available(c.n, c.g, p_protect);
            IF v_avail IS NULL OR v_avail < c.q THEN
                v_short_nodes := v_short_nodes || c.n;
                v_short_gtins := v_short_gtins || c.g;
                v_short_wanted := v_short_wanted || c.q;
                v_short_avail := v_short_avail || coalesce(v_avail, 0);
            END IF;
            v_nodes := v_nodes || c.n;
            v_gtins := v_gtins || c.g;
            v_wanted := v_wanted || c.q;
        END LOOP;
        IF cardinality(v_short_nodes) > 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'SS001', MESSAGE = 'shelfsight_reserve: short';
        END IF;
        INSERT INTO reservations (allocation_id, node_id, gtin, qty, expires_at)
        SELECT p_allocation, t.n, t.g, t.q, p_expires
          FROM unnest(v_nodes, v_gtins, v_wanted) AS t (n, g, q);
    EXCEPTION WHEN SQLSTATE 'SS001' THEN
        RETURN QUERY SELECT * FROM unnest(v_short_nodes, v_short_gtins, v_short_wanted, v_short_avail);
    END;
    RETURN;
END $$;

-- One allocation in one call (the API's hot path): upsert the order and lock its row (refusing
-- when it already has an open allocation), reserve every cell (shelfsight_reserve), and store the
-- allocation with its lines. Returns one row: ('reserved', ..., info = created_at), or
-- ('order_open', ..., info = the open allocation's id), or one ('short', node, gtin, wanted,
-- available) row per cell that does not fit (nothing reserved or stored then).
CREATE FUNCTION shelfsight_allocate(
    p_allocation uuid, p_expires timestamptz, p_protect int,
    p_order text, p_ship_lat double precision, p_ship_lon double precision, p_service text,
    p_collect text, p_order_lines jsonb, p_policy text, p_total double precision, p_decision jsonb,
    p_line_nos int[], p_nodes text[], p_gtins text[], p_qtys int[]
) RETURNS TABLE (outcome text, node_id text, gtin text, wanted int, available int, info text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    v_open uuid;
    v_short int;
BEGIN
    INSERT INTO orders (order_id, ship_lat, ship_lon, service_level, collect_shop, lines)
    VALUES (p_order, p_ship_lat, p_ship_lon, p_service, p_collect, p_order_lines)
    ON CONFLICT (order_id) DO UPDATE SET ship_lat = EXCLUDED.ship_lat,
        ship_lon = EXCLUDED.ship_lon, service_level = EXCLUDED.service_level,
        collect_shop = EXCLUDED.collect_shop, lines = EXCLUDED.lines;
    SELECT a.allocation_id INTO v_open FROM allocations a
     WHERE a.order_id = p_order AND a.status IN ('reserved', 'picking') LIMIT 1;
    IF v_open IS NOT NULL THEN
        RETURN QUERY SELECT 'order_open'::text, NULL::text, NULL::text, 0, 0, v_open::text;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'short'::text, r.node_id, r.gtin, r.wanted, r.available, NULL::text
                   FROM shelfsight_reserve(p_allocation, p_expires, p_nodes, p_gtins, p_qtys,
                                           p_protect) r;
    GET DIAGNOSTICS v_short = ROW_COUNT;
    IF v_short > 0 THEN
        RETURN;
    END IF;
    INSERT INTO allocations (allocation_id, order_id, status, policy, total_cost, decision,
                             expires_at)
    VALUES (p_allocation, p_order, 'reserved', p_policy, p_total, p_decision, p_expires);
    INSERT INTO allocation_lines (allocation_id, line_no, node_id, gtin, qty)
    SELECT p_allocation, t.l, t.n, t.g, t.q FROM unnest(p_line_nos, p_nodes, p_gtins, p_qtys)
        AS t (l, n, g, q);
    RETURN QUERY SELECT 'reserved'::text, NULL::text, NULL::text, 0, 0, now()::text;
END $$;

-- Relabel lapsed reservations (and allocations with nothing left open); returns rows relabelled.
CREATE FUNCTION shelfsight_expire_reservations() RETURNS int LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_count int;
BEGIN
    UPDATE reservations SET status = 'expired', updated_at = now()
     WHERE status = 'active' AND expires_at <= now();
    GET DIAGNOSTICS v_count = ROW_COUNT;
    UPDATE allocations a SET status = 'expired', updated_at = now()
     WHERE a.status = 'reserved' AND a.expires_at <= now()
       AND NOT EXISTS (SELECT 1 FROM reservations r
                        WHERE r.allocation_id = a.allocation_id AND r.status = 'active');
    RETURN v_count;
END $$;

-- The allocator reads one GTIN across every shop (the gateway's index leads with store_id).
CREATE INDEX tag_state_gtin_present_idx ON tag_state (gtin, store_id) WHERE status = 'present';
