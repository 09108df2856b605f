-- Stream the match keys of one build into link_stage.
COPY link_stage (source, stream, record_id, occurred_at, email_key, phone_key) FROM STDIN
