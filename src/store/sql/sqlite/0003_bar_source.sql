-- Version 3: where each bar came from beyond the provider's name: its feed
-- ("sip", "iex", ...) and adjustment ("raw", "split", "split+div"); "" for
-- bars stored before (unknown).
ALTER TABLE ohlc_bars_v2 ADD COLUMN feed TEXT NOT NULL DEFAULT '';
ALTER TABLE ohlc_bars_v2 ADD COLUMN adjustment TEXT NOT NULL DEFAULT '';
