-- Open units per cell kept as a running total, so that counting what a cell can still promise
-- no longer sums every open reservation it holds (that grew with them: with 25k open
-- reservations, most on warehouse cells, PostgreSQL's CPU per reservation had grown from 0.34 to
-- 0.58 ms in bench api's chain).
--
-- reservation_open(gtin, node_id).units = sum(qty - picked) over the cell's reservations with
-- status 'active', whatever their expiry: triggers keep it on every insert, update and delete of
-- reservations (statement-level, over the transition tables, cells in (gtin, node_id) order so
-- that two statements never lock two totals in opposite orders). Rows past expires_at stop
-- counting at once, as before: shelfsight_open_units subtracts the cell's active rows already
-- expired, which the expiry sweep relabels, so there are few (an index range on expires_at).
-- No reservation may change between the backfill below and the triggers (the migration runs in
-- one transaction): writers wait until it commits; readers go on.
LOCK TABLE reservations IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE reservation_open (
    gtin    text NOT NULL,
    node_id text NOT NULL,
    units   bigint NOT NULL,
    PRIMARY KEY (gtin, node_id)
);
INSERT INTO reservation_open (gtin, node_id, units)
SELECT gtin, node_id, sum(qty - picked) FROM reservations WHERE status = 'active' GROUP BY 1, 2;

-- The same leading columns as reservations_open, which it replaces, and the expiry for the
-- range of expired rows per cell.
CREATE INDEX reservations_open_expiry ON reservations (gtin, node_id, expires_at)
    WHERE status = 'active';
DROP INDEX reservations_open;

CREATE FUNCTION shelfsight_reservation_open_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO reservation_open AS o (gtin, node_id, units)
        SELECT gtin, node_id, sum(qty - picked) FROM new_rows WHERE status = 'active'
         GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (gtin, node_id) DO UPDATE SET units = o.units + excluded.units;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO reservation_open AS o (gtin, node_id, units)
        SELECT d.gtin, d.node_id, sum(d.units) FROM (
            SELECT gtin, node_id, qty - picked AS units FROM new_rows WHERE status = 'active'
            UNION ALL
            SELECT gtin, node_id, picked - qty FROM old_rows WHERE status = 'active'
        ) d GROUP BY 1, 2 HAVING sum(d.units) <> 0 ORDER BY 1, 2
        ON CONFLICT (gtin, node_id) DO UPDATE SET units = o.units + excluded.units;
    ELSE
        INSERT INTO reservation_open AS o (gtin, node_id, units)
        SELECT gtin, node_id, sum(picked - qty) FROM old_rows WHERE status = 'active'
         GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (gtin, node_id) DO UPDATE SET units = o.units + excluded.units;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER reservations_open_insert AFTER INSERT ON reservations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION shelfsight_reservation_open_sync();
CREATE TRIGGER reservations_open_update AFTER UPDATE ON reservations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION shelfsight_reservation_open_sync();
CREATE TRIGGER reservations_open_delete AFTER DELETE ON reservations
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION shelfsight_reservation_open_sync();

CREATE FUNCTION shelfsight_reservation_open_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM reservation_open;
    RETURN NULL;
END $$;
CREATE TRIGGER reservations_open_truncate AFTER TRUNCATE ON reservations
    FOR EACH STATEMENT EXECUTE FUNCTION shelfsight_reservation_open_clear();

-- Units a cell's open reservations still hold: the running total less its active rows that
-- expired already (not yet relabelled by the sweep).
CREATE FUNCTION shelfsight_open_units(p_node text, p_gtin text)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT o.units FROM reservation_open o
                      WHERE o.gtin = p_gtin AND o.node_id = p_node), 0)
         - (SELECT coalesce(sum(r.qty - r.picked), 0) FROM reservations r
             WHERE r.gtin = p_gtin AND r.node_id = p_node AND r.status = 'active'
               AND r.expires_at <= now())
$$;

CREATE OR REPLACE FUNCTION shelfsight_available(p_node text, p_gtin text, p_protect int)
RETURNS int LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_kind   text;
    v_units  bigint;
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
    RETURN greatest(v_units - shelfsight_open_units(p_node, p_gtin), 0)::int;
END $$;

-- shelfsight_allocate_batch of 0003, its availability from shelfsight_open_units.
CREATE OR REPLACE FUNCTION shelfsight_allocate_batch(
    p_protect int,
    p_allocation uuid[], p_created timestamptz[], p_expires timestamptz[],
    p_order text[], p_ship_lat double precision[], p_ship_lon double precision[],
    p_service text[], p_collect text[], p_order_lines jsonb[],
    p_policy text[], p_total double precision[], p_decision jsonb[],
    p_api_key text[], p_idem_key text[], p_method text[], p_path text[], p_request_hash bytea[],
    p_status int[], p_content_type text[], p_body bytea[],
    p_cell_req int[], p_cell_nodes text[], p_cell_gtins text[], p_cell_qtys int[],
    p_line_req int[], p_line_nos int[], p_line_nodes text[], p_line_gtins text[], p_line_qtys int[]
) RETURNS TABLE (req int, outcome text, node_id text, gtin text, wanted int, available int, info text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    n int := coalesce(cardinality(p_order), 0);
    m int := coalesce(cardinality(p_cell_req), 0);
    v_nodes text[];
    v_gtins text[];
    v_keys text[];
    v_avail int[];
    v_granted int[] := '{}';
    v_granted_orders text[] := '{}';
    v_short_at int[];
    v_open uuid;
    v_new boolean;
    v_short boolean;
    i int;
    j int;
    k int := 1;
    k0 int;
    c int;
BEGIN
    IF cardinality(p_cell_nodes) IS DISTINCT FROM m OR cardinality(p_cell_gtins) IS DISTINCT FROM m
       OR cardinality(p_cell_qtys) IS DISTINCT FROM m THEN
        RAISE EXCEPTION 'shelfsight_allocate_batch: cell arrays differ in length' USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_cell_qtys) q WHERE q IS NULL OR q <= 0) THEN
        RAISE EXCEPTION 'shelfsight_allocate_batch: a cell quantity is not positive' USING ERRCODE = '22023';
    END IF;

    -- 1. Lock every cell of the batch in the global order, then count availability once.
    SELECT array_agg(c.n ORDER BY hashtext(c.n), hashtext(c.g), c.n, c.g),
           array_agg(c.g ORDER BY hashtext(c.n), hashtext(c.g), c.n, c.g)
      INTO v_nodes, v_gtins
      FROM (SELECT DISTINCT t.n, t.g FROM unnest(p_cell_nodes, p_cell_gtins) AS t (n, g)) c;
    FOR j IN 1 .. coalesce(cardinality(v_nodes), 0) LOOP
        PERFORM pg_advisory_xact_lock(hashtext(v_nodes[j]), hashtext(v_gtins[j]));
    END LOOP;
    SELECT array_agg(x.key ORDER BY x.o), array_agg(x.avail ORDER BY x.o) INTO v_keys, v_avail
      FROM (
        SELECT c.o, c.n || E'\x1f' || c.g AS key,
               CASE WHEN s.kind IS NULL THEN NULL
                    WHEN s.kind = 'warehouse' THEN
                        (SELECT coalesce(sum(w.on_hand), 0) FROM warehouse_stock w
                          WHERE w.warehouse_id = c.n AND w.gtin = c.g)
                    ELSE (SELECT count(*) FROM tag_state t
                           WHERE t.store_id = c.n AND t.gtin = c.g AND t.status = 'present')
                         - p_protect
               END
               - shelfsight_open_units(c.n, c.g) AS avail
          FROM unnest(v_nodes, v_gtins) WITH ORDINALITY AS c (n, g, o)
          LEFT JOIN stores s ON s.store_id = c.n
      ) x;

    -- 2. Each request in order against the tally.
    FOR i IN 1 .. n LOOP
        k0 := k;
        WHILE k <= m AND p_cell_req[k] = i LOOP
            k := k + 1;
        END LOOP;
        IF p_idem_key[i] IS NOT NULL THEN
            INSERT INTO idempotency_keys (api_key_id, idem_key, method, path, request_hash,
                                          status, content_type, body)
            VALUES (p_api_key[i], p_idem_key[i], p_method[i], p_path[i], p_request_hash[i],
                    p_status[i], p_content_type[i], p_body[i])
            ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN
                RETURN QUERY SELECT i, 'replay'::text, NULL::text, NULL::text, 0, 0, NULL::text;
                CONTINUE;
            END IF;
        END IF;
        -- The order: a new row, or the existing one locked (a concurrent request for the same
        -- order waits here until the first commits, then sees its allocation).
        v_open := NULL;
        INSERT INTO orders (order_id, ship_lat, ship_lon, service_level, collect_shop, lines)
        VALUES (p_order[i], p_ship_lat[i], p_ship_lon[i], p_service[i], p_collect[i],
                p_order_lines[i])
        ON CONFLICT (order_id) DO NOTHING;
        v_new := FOUND;
        IF NOT v_new THEN
            PERFORM 1 FROM orders o WHERE o.order_id = p_order[i] FOR UPDATE;
            SELECT a.allocation_id INTO v_open FROM allocations a
             WHERE a.order_id = p_order[i] AND a.status IN ('reserved', 'picking') LIMIT 1;
        END IF;
        IF v_open IS NULL AND p_order[i] = ANY (v_granted_orders) THEN
            v_open := p_allocation[v_granted[array_position(v_granted_orders, p_order[i])]];
        END IF;
        IF v_open IS NOT NULL THEN
            IF p_idem_key[i] IS NOT NULL THEN
                DELETE FROM idempotency_keys
                 WHERE api_key_id = p_api_key[i] AND idem_key = p_idem_key[i];
            END IF;
            RETURN QUERY SELECT i, 'order_open'::text, NULL::text, NULL::text, 0, 0, v_open::text;
            CONTINUE;
        END IF;
        v_short := false;
        v_short_at := '{}';
        FOR j IN k0 .. k - 1 LOOP
            c := array_position(v_keys, p_cell_nodes[j] || E'\x1f' || p_cell_gtins[j]);
            IF v_avail[c] IS NULL OR v_avail[c] < p_cell_qtys[j] THEN
                v_short := true;
                v_short_at := v_short_at || j;
            END IF;
        END LOOP;
        IF v_short THEN
            IF p_idem_key[i] IS NOT NULL THEN
                DELETE FROM idempotency_keys
                 WHERE api_key_id = p_api_key[i] AND idem_key = p_idem_key[i];
            END IF;
            IF v_new THEN
                DELETE FROM orders o WHERE o.order_id = p_order[i];
            END IF;
            RETURN QUERY
                SELECT i, 'short'::text, p_cell_nodes[s.x], p_cell_gtins[s.x], p_cell_qtys[s.x],
                       greatest(coalesce(v_avail[array_position(v_keys,
                           p_cell_nodes[s.x] || E'\x1f' || p_cell_gtins[s.x])], 0), 0), NULL::text
                  FROM unnest(v_short_at) AS s (x);
            CONTINUE;
        END IF;
        IF NOT v_new THEN
            UPDATE orders o SET ship_lat = p_ship_lat[i], ship_lon = p_ship_lon[i],
                   service_level = p_service[i], collect_shop = p_collect[i],
                   lines = p_order_lines[i]
             WHERE o.order_id = p_order[i];
        END IF;
        FOR j IN k0 .. k - 1 LOOP
            c := array_position(v_keys, p_cell_nodes[j] || E'\x1f' || p_cell_gtins[j]);
            v_avail[c] := v_avail[c] - p_cell_qtys[j];
        END LOOP;
        v_granted := v_granted || i;
        v_granted_orders := v_granted_orders || p_order[i];
        RETURN QUERY SELECT i, 'reserved'::text, NULL::text, NULL::text, 0, 0, NULL::text;
    END LOOP;

    -- 3. What the reserved requests write, in bulk.
    IF cardinality(v_granted) > 0 THEN
        INSERT INTO allocations (allocation_id, order_id, status, policy, total_cost, decision,
                                 created_at, expires_at)
        SELECT p_allocation[g], p_order[g], 'reserved', p_policy[g], p_total[g], p_decision[g],
               p_created[g], p_expires[g]
          FROM unnest(v_granted) AS g;
        INSERT INTO reservations (allocation_id, node_id, gtin, qty, expires_at)
        SELECT p_allocation[t.r], t.n, t.g, t.q, p_expires[t.r]
          FROM unnest(p_cell_req, p_cell_nodes, p_cell_gtins, p_cell_qtys) AS t (r, n, g, q)
         WHERE t.r = ANY (v_granted);
        INSERT INTO allocation_lines (allocation_id, line_no, node_id, gtin, qty)
        SELECT p_allocation[t.r], t.l, t.n, t.g, t.q
          FROM unnest(p_line_req, p_line_nos, p_line_nodes, p_line_gtins, p_line_qtys)
               AS t (r, l, n, g, q)
         WHERE t.r = ANY (v_granted);
    END IF;

    -- 4. Availability of every locked cell after the batch (for the caller's stock cache).
    RETURN QUERY
        SELECT 0, 'cell'::text, t.n, t.g, 0, greatest(t.a, 0), NULL::text
          FROM unnest(v_nodes, v_gtins, v_avail) AS t (n, g, a)
         WHERE t.a IS NOT NULL;
END $$;
