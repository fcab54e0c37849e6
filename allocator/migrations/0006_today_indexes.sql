-- "Today" reads filter on created_at alone: each API worker's node refresh every 5 s (units
-- reserved today per node, for pick capacity) and the dashboard (allocations today). No index
-- led with created_at, so they read every reservation and allocation ever made, a table that
-- only grows. Rows arrive in created_at order: a BRIN index narrows those reads to the blocks
-- of the last day for a few pages of index.
CREATE INDEX reservations_created_brin ON reservations USING brin (created_at);
CREATE INDEX allocations_created_brin ON allocations USING brin (created_at);

-- The expiry sweep (every minute, in each API worker) relabels allocations still 'reserved'
-- past their expiry: an index over those alone, instead of a read of every allocation.
CREATE INDEX allocations_reserved_expiry ON allocations (expires_at) WHERE status = 'reserved';
