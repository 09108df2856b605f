"""The official JS client (pirsch-sdk 2.9.1, pinned by its npm lock) judges the Pirsch simulator.

``sandbox/vendors/pirsch/sdk_check/drive.mjs`` calls every read method of an oAuth client and every
write method (single and batch) of an oAuth client and of an access-key client against the session
sandbox, and prints ``{method: "ok" | "error: ..."}``.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

from sandbox.vendors.pirsch import ACCESS_KEY, CLIENT_ID, DEFAULT_API_KEY
from sandbox.vendors.pirsch.data import DOMAIN_ID

SDK_CHECK = Path(__file__).resolve().parents[2] / "sandbox" / "vendors" / "pirsch" / "sdk_check"
READS = {"domain", "sessionDuration", "timeOnPage", "utmSource", "utmMedium", "utmCampaign", "utmContent", "utmTerm",
         "totalVisitors", "visitors", "entryPages", "exitPages", "pages", "conversionGoals", "events",
         "eventMetadata", "listEvents", "eventPages", "growth", "activeVisitors", "timeOfDay", "languages", "referrer",
         "os", "osVersions", "browser", "browserVersions", "country", "region", "city", "platform", "screen", "tagKeys",
         "tags", "keywords", "listFunnel", "funnel", "visitors.range"}
WRITES = {"hit", "batchHits", "event", "batchEvents", "session", "batchSessions"}


def drive(base_url: str) -> tuple[int, dict[str, str], str]:
    """Install the pinned client where it is missing, run drive.mjs and return its exit code, report and stderr.

    :param base_url: The simulator's base URL.
    """
    if not (SDK_CHECK / "node_modules" / "pirsch-sdk").is_dir():
        subprocess.run(["npm", "ci", "--prefix", str(SDK_CHECK), "--no-audit", "--no-fund", "--loglevel=error"],
                       check=True, timeout=300)
    done = subprocess.run(["node", "drive.mjs", base_url, CLIENT_ID, DEFAULT_API_KEY, ACCESS_KEY, DOMAIN_ID],
                          cwd=SDK_CHECK, capture_output=True, text=True, timeout=120)
    return done.returncode, json.loads(done.stdout or "{}"), done.stderr


def test_every_client_method_succeeds_and_the_writes_are_recorded(clean_sandbox):
    client = clean_sandbox.client

    code, report, stderr = drive(clean_sandbox.vendor_url("pirsch"))

    assert set(report) == READS | {f"{who}.{m}" for who in ("oauth", "access_key") for m in WRITES}, stderr
    assert {k: v for k, v in report.items() if v != "ok"} == {} and code == 0

    writes = client._call("GET", "/pirsch/writes")["writes"]
    assert Counter((w["auth"], w["endpoint"]) for w in writes) == {
        (who, endpoint): n for who in ("oauth", "access_key")
        for endpoint, n in (("hit", 1), ("hit/batch", 2), ("event", 1), ("event/batch", 2), ("session", 1),
                            ("session/batch", 1))}
    assert all(w["body"]["time"].endswith("Z") for w in writes if w["endpoint"].endswith("/batch"))
    signup = [w["body"] for w in writes if w["endpoint"] == "event"]
    assert all(b["event_name"] == "Signup" and b["event_duration"] == 12
               and b["event_meta"] == {"plan": "pro", "seats": "3", "trial": "true"} for b in signup)

    wire = [(r["method"], r["path"], r["status"], r["auth"]) for r in client.requests("pirsch")]
    assert wire[:3] == [("POST", "/api/v1/hit", 401, "missing"), ("POST", "/api/v1/token", 200, "ok"),
                        ("POST", "/api/v1/hit", 200, "ok")], "the first write goes out with an empty Bearer"
    assert sum(1 for r in wire if r[1] == "/api/v1/token") == 1, "one token serves every later call"
    assert ("GET", "/api/v1//api/v1/funnel", 200, "ok") in wire, "the client's doubled funnel prefix is answered"
    reads = [r for r in client.requests("pirsch") if r["path"] == "/api/v1/statistics/visitor"]
    assert reads[0]["query"]["from"] == ["2024-06-01T00:00:00.000Z"], "the client sends dates as ISO timestamps"
