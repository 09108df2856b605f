"""HTTP read ceiling: page the sandbox's ``/events`` with a requests session, read each body and drop it.

The cursors (``after_id`` of every page) come from the bench's warm-up pass, so this process does
nothing per page but the HTTP exchange: what any client of the sandbox pays at the least. With
``parse`` it also decodes each page with orjson, the first thing every landing does.
"""

from __future__ import annotations

import requests

from bench.lines.measure import Meter, report, spec_from_argv


def main() -> None:
    """Read every page the spec lists and report the rate."""
    spec = spec_from_argv()
    parse = spec["parse"]
    if parse:
        import orjson
    session = requests.Session()
    session.auth = ("API", spec["key"])
    session.headers["Accept"] = "application/json"
    meter = Meter()
    records = body_bytes = 0
    for params in spec["pages"]:
        response = session.get(spec["url"], params=params, timeout=60)
        response.raise_for_status()
        body = response.content
        body_bytes += len(body)
        if parse:
            records += len(orjson.loads(body))
    measured = meter.stop()
    report(**measured, records=records if parse else spec["records"], body_bytes=body_bytes,
           requests=len(spec["pages"]))


if __name__ == "__main__":
    main()
