-- Group commit for refusals: the answers (problem documents) to store under Idempotency-Keys,
-- many in one call, sent in the same statement and transaction as a reservation batch
-- (allocator/api/batcher.py). Each key row is inserted unless the key exists already (then the
-- first answer stands and that request replays it): outcome 'recorded' or 'replay' per request.
-- req numbers continue after p_offset (the reservation requests of the same batch).
CREATE FUNCTION shelfsight_record_answers(
    p_offset int, p_api_key text[], p_idem_key text[], p_method text[], p_path text[],
    p_request_hash bytea[], p_status int[], p_content_type text[], p_body bytea[]
) RETURNS TABLE (req int, outcome text, node_id text, gtin text, wanted int, available int, info text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    i int;
BEGIN
    FOR i IN 1 .. coalesce(cardinality(p_idem_key), 0) LOOP
        INSERT INTO idempotency_keys (api_key_id, idem_key, method, path, request_hash, status,
                                      content_type, body)
        VALUES (p_api_key[i], p_idem_key[i], p_method[i], p_path[i], p_request_hash[i],
                p_status[i], p_content_type[i], p_body[i])
        ON CONFLICT DO NOTHING;
        RETURN QUERY SELECT p_offset + i, CASE WHEN FOUND THEN 'recorded' ELSE 'replay' END,
                            NULL::text, NULL::text, 0, 0, NULL::text;
    END LOOP;
END $$;
