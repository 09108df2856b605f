CREATE INDEX IF NOT EXISTS sync_runs_stream_window_idx ON ops.sync_runs (vendor, stream, window_start, window_end)
