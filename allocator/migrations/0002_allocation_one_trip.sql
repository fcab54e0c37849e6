-- The allocation hot path in one autocommit call: the Idempotency-Key row, the order, the
-- reservations (shelfsight_reserve: advisory lock per node x GTIN, recount, insert only if every
-- cell fits), the allocation with its lines, and the response body to replay, all committed
-- together or not at all. No BEGIN / COMMIT round trips: the call is its own transaction.
--
-- Returns one row ('reserved', ..., info = NULL), or ('replay', ...) when the key exists already
-- (a concurrent first request holding it is waited for; the caller then reads the stored answer),
-- or ('order_open', ..., info = the open allocation's id), or one ('short', node, gtin, wanted,
-- available) row per cell that does not fit. In every case but 'reserved' nothing is left
-- written: the key row and the order upsert are rolled back with the block's subtransaction.
-- With p_idem_key NULL no key row is written.
CREATE FUNCTION shelfsight_allocate_keyed(
    p_allocation uuid, p_created timestamptz, p_expires timestamptz, p_protect int,
    p_order text, p_ship_lat double precision, p_ship_lon double precision, p_service text,
    p_collect text, p_order_lines jsonb, p_policy text, p_total double precision, p_decision jsonb,
    p_line_nos int[], p_nodes text[], p_gtins text[], p_qtys int[],
    p_api_key text, p_idem_key text, p_method text, p_path text, p_request_hash bytea,
    p_status int, p_content_type text, p_body bytea
) RETURNS TABLE (outcome text, node_id text, gtin text, wanted int, available int, info text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    v_outcome text := 'reserved';
    v_open uuid;
    v_short_nodes text[];
    v_short_gtins text[];
    v_short_wanted int[];
    v_short_avail int[];
BEGIN
    BEGIN  -- a subtransaction: anything but 'reserved' rolls the whole attempt back
        IF p_idem_key IS NOT NULL THEN
            INSERT INTO idempotency_keys (api_key_id, idem_key, method, path, request_hash,
                                          status, content_type, body)
            VALUES (p_api_key, p_idem_key, p_method, p_path, p_request_hash, p_status,
                    p_content_type, p_body)
            ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN
                v_outcome := 'replay';
                RAISE EXCEPTION USING ERRCODE = 'SS002', MESSAGE = 'shelfsight_allocate: replay';
            END IF;
        END IF;
        INSERT INTO orders (order_id, ship_lat, ship_lon, service_level, collect_shop, lines)
        VALUES (p_order, p_ship_lat, p_ship_lon, p_service, p_collect, p_order_lines)
        ON CONFLICT (order_id) DO UPDATE SET ship_lat = EXCLUDED.ship_lat,
            ship_lon = EXCLUDED.ship_lon, service_level = EXCLUDED.service_level,
            collect_shop = EXCLUDED.collect_shop, lines = EXCLUDED.lines;
        SELECT a.allocation_id INTO v_open FROM allocations a
         WHERE a.order_id = p_order AND a.status IN ('reserved', 'picking') LIMIT 1;
        IF v_open IS NOT NULL THEN
            v_outcome := 'order_open';
            RAISE EXCEPTION USING ERRCODE = 'SS002', MESSAGE = 'shelfsight_allocate: order open';
        END IF;
        SELECT array_agg(r.node_id), array_agg(r.gtin), array_agg(r.wanted), array_agg(r.available)
          INTO v_short_nodes, v_short_gtins, v_short_wanted, v_short_avail
          FROM shelfsight_reserve(p_allocation, p_expires, p_nodes, p_gtins, p_qtys, p_protect) r;
        IF cardinality(v_short_nodes) > 0 THEN
            v_outcome := 'short';
            RAISE EXCEPTION USING ERRCODE = 'SS002', MESSAGE = 'shelfsight_allocate: short';
        END IF;
        INSERT INTO allocations (allocation_id, order_id, status, policy, total_cost, decision,
                                 created_at, expires_at)
        VALUES (p_allocation, p_order, 'reserved', p_policy, p_total, p_decision, p_created,
                p_expires);
        INSERT INTO allocation_lines (allocation_id, line_no, node_id, gtin, qty)
        SELECT p_allocation, t.l, t.n, t.g, t.q FROM unnest(p_line_nos, p_nodes, p_gtins, p_qtys)
            AS t (l, n, g, q);
    EXCEPTION WHEN SQLSTATE 'SS002' THEN
        NULL;  -- v_outcome says why; PL/pgSQL variables survive the rollback
    END;
    IF v_outcome = 'short' THEN
        RETURN QUERY SELECT 'short'::text, t.n, t.g, t.w, t.a, NULL::text
                       FROM unnest(v_short_nodes, v_short_gtins, v_short_wanted, v_short_avail)
                         AS t (n, g, w, a);
    ELSE
        RETURN QUERY SELECT v_outcome, NULL::text, NULL::text, 0, 0, v_open::text;
    END IF;
END $$;
