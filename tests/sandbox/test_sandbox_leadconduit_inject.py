"""LeadConduit record injection: verbatim bytes, ordering, paging, truth, stats, reset."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
import requests

from sandbox.process import SandboxProcess

START, END = 1717218000000, 1717221599999  # 2024-06-01T05:00:00.000Z .. 05:59:59.999Z
WINDOW = {"start": str(START), "end": str(END)}
OWN_ID = "665a657e328227449c000001"

# Payload shapes the generator cannot produce (JSON escapes are written as text).
RAWS: list[str | bytes] = [
    '{"id":"%s","big":123456789012345678901234567890,"x":0.1000000000000000055511151231257827}'
    % OWN_ID,
    '{"id":123}',
    '{"id":"123"}',
    "[1,2]",
    '{"no_id":true}',
    '{"id":"a","k\\u0000":1,"k\\ufffd":2}',
    '{"id":"d","v":' + "[" * 5000 + "]" * 5000 + "}",
    '{"id":"' + "i" * 5000 + '"}',
    '{"id":"x","a":1,"a":2}',
    '{"id":"s","v":"\\ud800"}',
    b'{"id":"\xff\xfe","v":"\xc3"}',  # invalid UTF-8: goes as raw_b64
]


def _generated(lc: requests.Session, **params: Any) -> list[tuple[tuple[int, str], bytes]]:
    """Return ((ts, id), exact bytes) of the generated events of the window, ascending."""
    r = lc.get(f"{lc.base}/events", params={"sort": "asc", "limit": 1000, **WINDOW, **params})
    events = r.json()
    parts = [orjson.dumps(e) for e in events]
    assert r.content == b"[" + b",".join(parts) + b"]"  # re-serializing is exact for these
    return [((e["end_timestamp"], e["id"]), p) for e, p in zip(events, parts)]


def _inject(sandbox_proc: SandboxProcess, gen: list[tuple[tuple[int, str], bytes]]
            ) -> list[tuple[tuple[int, str], bytes, str | None]]:
    """Inject RAWS at: a generated event's ts (ties), between events, both window edges."""
    stamps = [START, gen[0][0][0], gen[3][0][0], gen[3][0][0] + 1, gen[10][0][0],
              gen[10][0][0], gen[20][0][0] - 1, gen[30][0][0], gen[-1][0][0], END, END]
    specs: list[dict[str, Any]] = []
    for raw, ts in zip(RAWS, stamps):
        specs.append({"raw": raw, "ts": ts})
    specs[4]["sort_id"] = "0" * 24  # sorts before the generated event with the same ts
    specs[5]["ts"] = "2024-06-01T05:%02d:%02d.%03dZ" % (
        (gen[10][0][0] - START) // 60000, (gen[10][0][0] // 1000) % 60, gen[10][0][0] % 1000)
    answer = sandbox_proc.client.leadconduit_inject(specs)
    assert answer["count"] == answer["total"] == len(RAWS)
    out = []
    for raw, rec in zip(RAWS, answer["records"]):
        out.append(((rec["ts"], rec["sort_id"]), raw if isinstance(raw, bytes) else raw.encode(),
                    rec["id"]))
    assert out[0][2] == OWN_ID and all(o[2] is None for o in out[1:])
    assert out[5][0][0] == gen[10][0][0]  # ISO ts parsed to the same ms
    return out


def _body(parts: list[bytes]) -> bytes:
    return b"[" + b",".join(parts) + b"]"


@pytest.fixture()
def world(lc: requests.Session, sandbox_proc: SandboxProcess) -> dict[str, Any]:
    gen = _generated(lc)
    inj = _inject(sandbox_proc, gen)
    merged = sorted([(k, p, "gen", k[1]) for k, p in gen] + [(k, p, "inj", o) for k, p, o in inj],
                    key=lambda x: x[0])
    return {"gen": gen, "inj": inj, "merged": merged}


def test_injected_records_are_spliced_verbatim_in_order(lc: requests.Session,
                                                        world: dict[str, Any]) -> None:
    merged = world["merged"]
    asc = lc.get(f"{lc.base}/events", params={"sort": "asc", **WINDOW})
    assert asc.content == _body([m[1] for m in merged])
    desc = lc.get(f"{lc.base}/events", params=WINDOW)
    assert desc.content == _body([m[1] for m in reversed(merged)])
    # Ties: a default sort_id sorts after generated events of the same ms, "000..." before.
    at = [m[2] for m in merged if m[0][0] == world["gen"][10][0][0]]
    assert at == ["inj", "gen", "inj"]


def test_limit_and_window_count_injected_records(lc: requests.Session,
                                                 world: dict[str, Any]) -> None:
    merged = world["merged"]
    first = lc.get(f"{lc.base}/events", params={"sort": "asc", "limit": 4, **WINDOW})
    assert first.content == _body([m[1] for m in merged[:4]])
    assert merged[0][2] == "inj" and merged[0][0][0] == START  # start is inclusive
    last = lc.get(f"{lc.base}/events", params={"limit": 2, **WINDOW})
    assert last.content == _body([m[1] for m in merged[::-1][:2]])  # end is inclusive
    shifted = lc.get(f"{lc.base}/events", params={"sort": "asc", "limit": 1000,
                                                  "start": START + 1, "end": END - 1})
    assert shifted.content == _body([m[1] for m in merged if START < m[0][0] < END])


def _cursor(item: tuple, style: int) -> str:
    """Return the after_id/before_id a client would page on past ``item``."""
    if item[2] == "gen":
        return item[0][1]
    if item[3] is not None and style % 2:
        return item[3]  # the record's own 24-hex id
    return item[0][1]  # its sort_id


def test_after_id_paging_ascending_through_injected(lc: requests.Session,
                                                    world: dict[str, Any]) -> None:
    merged = world["merged"]
    served: list[bytes] = []
    params: dict[str, Any] = {"sort": "asc", "limit": 3, "start": START, "end": END}
    pages = 0
    while True:
        r = lc.get(f"{lc.base}/events", params=params)
        assert r.content == _body([m[1] for m in merged[len(served):len(served) + 3]])
        served.extend(m[1] for m in merged[len(served):len(served) + 3])
        pages += 1
        if len(served) >= len(merged):
            break
        params = {"sort": "asc", "limit": 3, "end": END,
                  "after_id": _cursor(merged[len(served) - 1], pages)}
    assert served == [m[1] for m in merged]
    own = next(i for i, m in enumerate(merged) if m[3] == OWN_ID)
    after_own = lc.get(f"{lc.base}/events", params={"sort": "asc", "limit": 2, "after_id": OWN_ID})
    assert after_own.content == _body([m[1] for m in merged[own + 1:own + 3]])


def test_before_id_paging_descending_through_injected(lc: requests.Session,
                                                      world: dict[str, Any]) -> None:
    merged = world["merged"][::-1]
    served: list[bytes] = []
    params: dict[str, Any] = {"limit": 4, "end": END}
    pages = 0
    while len(served) < len(merged):
        r = lc.get(f"{lc.base}/events", params=params)
        assert r.content == _body([m[1] for m in merged[len(served):len(served) + 4]])
        served.extend(m[1] for m in merged[len(served):len(served) + 4])
        pages += 1
        params = {"limit": 4, "start": START,
                  "before_id": _cursor(merged[len(served) - 1], pages)}
    # after_id with the default (desc) sort: everything after the record, newest first.
    k = next(i for i, m in enumerate(merged) if m[2] == "inj" and m[3] is None)
    r = lc.get(f"{lc.base}/events", params={"after_id": merged[k][0][1], "end": END})
    assert r.content == _body([m[1] for m in merged[:k]])


def test_own_id_of_a_generated_event_pages_after_the_generated_one(
        lc: requests.Session, sandbox_proc: SandboxProcess) -> None:
    gen = _generated(lc)
    copy = b'{"id":"%s","copy":true}' % gen[5][0][1].encode()
    sandbox_proc.client.leadconduit_inject([{"raw": copy, "ts": gen[8][0][0]}])
    r = lc.get(f"{lc.base}/events", params={"sort": "asc", "limit": 2, "after_id": gen[5][0][1]})
    assert r.content == _body([gen[6][1], gen[7][1]])


def test_truth_lists_injected_and_keeps_counts_generated(lc: requests.Session,
                                                         sandbox_proc: SandboxProcess,
                                                         world: dict[str, Any]) -> None:
    truth = sandbox_proc.client.leadconduit_truth(str(START), str(END + 1))
    assert truth["ids"] == [k[1] for k, _ in world["gen"]] and truth["count"] == len(world["gen"])
    assert [(r["ts"], r["sort_id"]) for r in truth["injected"]] == sorted(
        k for k, _, _ in world["inj"])
    by_key = {k: p for k, p, _ in world["inj"]}
    for r in truth["injected"]:
        assert base64.b64decode(r["raw_b64"]) == by_key[(r["ts"], r["sort_id"])]
    narrow = sandbox_proc.client.leadconduit_truth(str(START), str(END))  # end exclusive
    assert len(narrow["injected"]) == len(RAWS) - 2


def test_filters_skip_records_without_fields_and_include_leaves_them_verbatim(
        lc: requests.Session, sandbox_proc: SandboxProcess) -> None:
    gen = _generated(lc)
    event = {"id": "665aab113a8ffffff0000001", "type": "source", "outcome": "success",
             "vars": {"lead": {"id": "lead-x"}, "flow": {"id": "f"}, "source": {"id": "s"}}}
    raw = orjson.dumps(event).replace(b",", b", ")  # spacing survives: bytes are not re-encoded
    ts = gen[2][0][0]
    sandbox_proc.client.leadconduit_inject([{"raw": raw, "ts": ts}, {"raw": "[1]", "ts": ts},
                                            {"raw": '{"type":"filter"}', "ts": ts}])
    sources = lc.get(f"{lc.base}/events", params={"type": "source", "limit": 1000, **WINDOW})
    assert raw in sources.content and b"[1]" not in sources.content
    assert b'{"type":"filter"}' not in sources.content
    by_lead = lc.get(f"{lc.base}/events", params={"lead_id": "lead-x", **WINDOW})
    assert by_lead.content == b"[" + raw + b"]"
    included = lc.get(f"{lc.base}/events", params={"include": "type", "limit": 1000, **WINDOW})
    assert raw in included.content and b",[1]," in included.content


def _stats(lc: requests.Session, **params: Any) -> list[dict[str, Any]]:
    return lc.get(f"{lc.base}/events/stats",
                  params={"start": START, "end": END, **params}).json()


def test_stats_count_injected_records_that_look_like_events(lc: requests.Session,
                                                            sandbox_proc: SandboxProcess) -> None:
    before = _stats(lc, by_lead="false")[0]
    by_lead_before = _stats(lc)[0]
    counted = {"id": "x1", "type": "source", "outcome": "success",
               "vars": {"lead": {"id": "brand-new-lead"}}}
    not_counted = ['{"id":"x2","type":"source"}', '{"type":"bogus","outcome":"success"}',
                   '{"type":7,"outcome":"success"}', "[1,2]", '{"type":"source",', "null",
                   '{"type":"source","outcome":"success","x":' + "[" * 3000 + "]" * 3000 + "}"]
    recipient = '{"type":"recipient","outcome":"success"}'  # counted, but not as a source
    sandbox_proc.client.leadconduit_inject(
        [{"raw": orjson.dumps(counted), "ts": START + 10},
         {"raw": orjson.dumps(counted), "ts": END + 1},  # outside the window
         {"raw": recipient, "ts": START + 30}]
        + [{"raw": r, "ts": START + 20} for r in not_counted])
    after = _stats(lc, by_lead="false")[0]
    assert after["total"] == before["total"] + 1 and after["success"] == before["success"] + 1
    assert _stats(lc)[0]["total"] == by_lead_before["total"] + 1
    recipients = _stats(lc, type="recipient", by_lead="false")[0]
    assert recipients["total"] == _generated_total(lc, "recipient") + 1


def _generated_total(lc: requests.Session, etype: str) -> int:
    events = lc.get(f"{lc.base}/events",
                    params={"type": etype, "limit": 1000, **WINDOW}).json()
    return sum(1 for e in events if isinstance(e, dict) and e.get("id") and len(e["id"]) == 24
               and e["outcome"] in ("success", "failure", "error"))


def test_reset_and_delete_drop_injected(lc: requests.Session, sandbox_proc: SandboxProcess) -> None:
    clean = lc.get(f"{lc.base}/events", params={"sort": "asc", **WINDOW}).content
    sandbox_proc.client.leadconduit_inject([{"raw": "[0]", "ts": START}])
    assert lc.get(f"{lc.base}/events", params={"sort": "asc", **WINDOW}).content != clean
    sandbox_proc.client.reset()
    assert lc.get(f"{lc.base}/events", params={"sort": "asc", **WINDOW}).content == clean
    sandbox_proc.client.leadconduit_inject([{"raw": "[0]", "ts": START}])
    sandbox_proc.client.leadconduit_clear_injected()
    assert lc.get(f"{lc.base}/events", params={"sort": "asc", **WINDOW}).content == clean
    assert sandbox_proc.client.leadconduit_truth(str(START), str(END))["injected"] == []


def test_duplicates_fault_repeats_injected_records_too(lc: requests.Session,
                                                       sandbox_proc: SandboxProcess,
                                                       world: dict[str, Any]) -> None:
    merged = world["merged"]
    k = next(i for i, m in enumerate(merged) if m[2] == "inj" and i >= 3)
    sandbox_proc.client.add_fault("leadconduit", "duplicates", count=3)
    r = lc.get(f"{lc.base}/events",
               params={"sort": "asc", "limit": 2, "after_id": merged[k][0][1]})
    assert r.content == _body([m[1] for m in merged[k - 2:k + 1] + merged[k + 1:k + 3]])


@pytest.mark.parametrize("body", [
    {"records": [{"raw": "{}", "raw_b64": "e30=", "ts": START}]},
    {"records": [{"ts": START}]},
    {"records": [{"raw": "{}"}]},
    {"records": [{"raw": "{}", "ts": "yesterday"}]},
    {"records": [{"raw": "{}", "ts": START, "sort_id": "xyz"}]},
    {"records": [{"raw_b64": "not base64!", "ts": START}]},
    {"records": [{"raw": 5, "ts": START}]},
    {"records": "nope"},
    {"rows": []},
])
def test_bad_injections_are_400(body: dict, sandbox_proc: SandboxProcess) -> None:
    r = requests.post(f"{sandbox_proc.url}/_sandbox/leadconduit/inject", json=body, timeout=5)
    assert r.status_code == 400, body
    assert sandbox_proc.client.leadconduit_truth(str(START), str(END))["injected"] == []


def test_duplicate_sort_id_is_400_and_nothing_is_added(sandbox_proc: SandboxProcess) -> None:
    sid = "665aab113a8ffffff0000009"
    sandbox_proc.client.leadconduit_inject([{"raw": "1", "ts": START, "sort_id": sid}])
    with pytest.raises(RuntimeError, match="400"):
        sandbox_proc.client.leadconduit_inject([{"raw": "2", "ts": START + 1},
                                                {"raw": "3", "ts": START, "sort_id": sid}])
    assert len(sandbox_proc.client.leadconduit_truth(str(START), str(END))["injected"]) == 1


def test_lone_surrogate_text_needs_raw_b64(sandbox_proc: SandboxProcess,
                                           lc: requests.Session) -> None:
    with pytest.raises(RuntimeError, match="raw_b64"):
        sandbox_proc.client.leadconduit_inject([{"raw": '{"v":"\ud800"}', "ts": START}])
    sandbox_proc.client.leadconduit_inject([{"raw": b'{"v":"\xed\xa0\x80"}', "ts": START}])
    r = lc.get(f"{lc.base}/events", params={"sort": "asc", "limit": 1, **WINDOW})
    assert r.content == b'[{"v":"\xed\xa0\x80"}]'
