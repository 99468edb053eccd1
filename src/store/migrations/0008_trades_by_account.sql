-- A participant's trades (GET /api/v1/trades, results) are found by buyer or seller account:
-- without these indexes that list scans every trade of the platform.
CREATE INDEX trades_buyer ON trades (buyer_account_id, slot_start);
CREATE INDEX trades_seller ON trades (seller_account_id, slot_start);
