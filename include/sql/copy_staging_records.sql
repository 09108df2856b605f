COPY {stage} (seq, record_id, payload, payload_hash, source_updated_at, counted) FROM STDIN
