"""Raw COPY limit: the same records, already in COPY's text form, into ``(record_id text primary key, payload jsonb)``.

No HTTP and no per-record Python: the file is streamed with psycopg 3's ``COPY`` in 1 MB writes, so
this is what PostgreSQL itself can take on this machine. A first load copies into the empty table;
a re-run stages the records in a temporary table and upserts, writing only rows whose payload
changed, as any idempotent landing must.
"""

from __future__ import annotations

import psycopg

from bench.lines.measure import Meter, report, spec_from_argv

CHUNK = 1 << 20


def _copy_file(cur: psycopg.Cursor, table: str, path: str) -> None:
    with cur.copy(f"COPY {table} (record_id, payload) FROM STDIN") as copy, open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            copy.write(chunk)


def main() -> None:
    """Load the COPY file once, as a first load or a re-run, and report the rate."""
    spec = spec_from_argv()
    table = spec["table"]
    conn = psycopg.connect(spec["conninfo"])
    meter = Meter()
    with conn.cursor() as cur:
        if spec["phase"] == "first":
            _copy_file(cur, table, spec["file"])
            written = cur.rowcount
        else:
            cur.execute("CREATE TEMPORARY TABLE stage (record_id text, payload jsonb) ON COMMIT DROP")
            _copy_file(cur, "stage", spec["file"])
            cur.execute(
                f"INSERT INTO {table} AS t (record_id, payload) SELECT record_id, payload FROM stage "
                "ON CONFLICT (record_id) DO UPDATE SET payload = EXCLUDED.payload "
                "WHERE t.payload IS DISTINCT FROM EXCLUDED.payload"
            )
            written = cur.rowcount
    conn.commit()
    measured = meter.stop()
    conn.close()
    report(**measured, records=spec["records"], rows_written=written)


if __name__ == "__main__":
    main()
