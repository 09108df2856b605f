-- Which of the given GetLandy lead ids are landed (the opt-in mark-read step checks what it marked).
SELECT record_id FROM raw.getlandy_leads WHERE record_id = ANY(%(ids)s)
