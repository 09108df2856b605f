COPY {stage} (seq, record_id, payload, payload_hash) FROM STDIN
