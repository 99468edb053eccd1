-- A bid's result changes its status: with status out of the slot index, writing a slot's
-- results no longer moves an index entry per bid. Gate closure reads a slot's bids and
-- keeps the open ones, nearly all of them then.
DROP INDEX bids_slot;
CREATE INDEX bids_slot ON bids (market_id, slot_start);
