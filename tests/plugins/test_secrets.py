"""Redaction of secrets in every form a server can echo them, personal data scrubbing, Airflow's masker."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import string
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lead_pipelines.common.secrets import Redactor, mask_in_airflow, scrub_personal, secret_forms

DISTINCT_KEY = "S3cr3t/k+y&v=1<x>\"q'z%"
PLAIN_KEY = "sandbox-leadconduit-key-9f2c"
KEYS = [DISTINCT_KEY, PLAIN_KEY]
#: LeadConduit's user, the empty one, and usernames the redactor is never told about.
USERNAMES = ["API", "", "someone", "x", "ab", "ops@example.com", "Überuser"]
WHERE = "LeadConduit GET /events failed for window [2024-06-01T05:00:00Z, 2024-06-01T06:00:00Z): HTTP 500"


def b64(data: str | bytes, *, urlsafe: bool = False, pad: bool = True) -> str:
    """Encode like a client would, written out here rather than borrowed from the module under test."""
    raw = data.encode() if isinstance(data, str) else data
    out = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    return out if pad else out.rstrip("=")


def _json_unescape(text: str) -> str:
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return re.sub(r"\\(.)", r"\1", text)


def _base64_decodings(text: str) -> list[bytes]:
    """Decode every base64-looking run of ``text`` at each of the four alignments."""
    decoded = []
    for run in re.findall(r"[A-Za-z0-9+/_-]{4,}", text):
        run = run.replace("-", "+").replace("_", "/")
        for offset in range(4):
            chunk = run[offset:]
            if len(chunk) % 4 == 1:  # a lone last character carries no whole byte
                chunk = chunk[:-1]
            if chunk:
                decoded.append(base64.b64decode(chunk + "=" * (-len(chunk) % 4)))
    return decoded


def leaks(text: str, secret: str) -> list[str]:
    """Return the decodings of ``text`` in which ``secret`` still shows: an oracle independent of secret_forms."""
    found = []
    views = {
        "raw": text,
        "unquote": unquote(text),
        "unquote_plus": unquote_plus(text),
        "unquote twice": unquote(unquote(text)),
        "html": html.unescape(text),
        "json": _json_unescape(text),
        "json twice": _json_unescape(_json_unescape(text)),
        "every escape at once": html.unescape(_json_unescape(unquote(text))),
    }
    found += [name for name, view in views.items() if secret in view]
    if any(secret.encode() in blob for blob in _base64_decodings(text)):
        found.append("base64")
    return found


def remaining_forms(text: str, secret: str) -> list[str]:
    """Return the forms of ``secret`` (per the module's own oracle) still in ``text``."""
    return sorted(f for f in secret_forms(secret, usernames=USERNAMES) if f in text)


def echoes(key: str) -> dict[str, str]:
    """Return texts in which a vendor, a proxy or a library echoes ``key`` back, each with the context."""
    url = f"https://app.leadconduit.com/events?{urlencode({'api_key': key, 'limit': 3})}"
    texts = {
        "raw in message": f"{WHERE}: bad key {key}",
        "requests params (quote_plus)": f"{WHERE}: Max retries exceeded with url: {url}",
        "quote safe=''": f"{WHERE}: GET /events?k={quote(key, safe='')}&sort=asc",
        "quote safe='/'": f"{WHERE}: GET /events/{quote(key)}/detail",
        "lower-case hex": f"{WHERE}: GET /events?k={re.sub('%[0-9A-F]{2}', lambda m: m.group().lower(), quote(key, safe=''))}",
        "double percent-encoded": f"{WHERE}: redirect=https%3A%2F%2Fx%2F%3Fk%3D{quote(quote(key, safe=''), safe='')}",
        "html page": f"<html><body><h1>{WHERE}</h1><p>Invalid key &quot;{html.escape(key)}&quot;</p></body></html>",
        "html no quote escaping": f"<p>{WHERE}: {html.escape(key, quote=False)}</p>",
        "html decimal entities": f"<p>{WHERE}: {html.escape(key).replace('&quot;', '&#34;').replace('&#x27;', '&#39;')}</p>",
        "json body": json.dumps({"error": WHERE, "request": {"url": f"/events?api_key={key}", "key": key}}),
        "json ascii off": json.dumps({"error": WHERE, "echo": key}, ensure_ascii=False),
        "json in json": json.dumps({"error": WHERE, "body": json.dumps({"echo": key})}),
        "python repr of params": f"{WHERE}: params={ {'key': key, 'limit': 3}!r}",
        "base64 of key": f"{WHERE}: token {b64(key)} rejected",
        "urlsafe base64 unpadded": f"{WHERE}: token {b64(key, urlsafe=True, pad=False)} rejected",
    }
    for user in USERNAMES:
        for urlsafe in (False, True):
            texts[f"basic {user!r} urlsafe={urlsafe}"] = (
                f"{WHERE}: request headers {{'Authorization': 'Basic {b64(f'{user}:{key}', urlsafe=urlsafe)}'}}"
            )
        texts[f"basic header line {user!r}"] = f"{WHERE}\nAuthorization: Basic {b64(f'{user}:{key}')}\nAccept: */*"
    # The key inside a longer blob, at every alignment and with every kind of tail.
    for head in range(6):
        for tail in range(3):
            blob = b64(b"\x00\x17header"[:head] + key.encode() + b"trailer"[:tail])
            texts[f"blob head={head} tail={tail}"] = f"{WHERE}: state={blob}; retry later"
    return texts


@pytest.mark.parametrize("key", KEYS, ids=["distinct", "plain"])
def test_forms_cover_every_encoding(key):
    forms = secret_forms(key)
    expected = {
        key,
        quote(key, safe=""),
        quote(key, safe="/"),
        quote_plus(key),
        re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(key, safe="")),
        html.escape(key),
        html.escape(key, quote=False),
        json.dumps(key)[1:-1],
        json.dumps(key, ensure_ascii=False)[1:-1],
        b64(key),
        b64(key, pad=False),
        b64(key, urlsafe=True),
        b64(f"API:{key}"),
        b64(f":{key}"),
    }
    missing = {f for f in expected if len(f) >= 6} - forms
    assert not missing
    assert all(len(f) >= 6 for f in forms)


def test_forms_of_the_distinct_key_include_entity_variants():
    forms = secret_forms(DISTINCT_KEY)
    assert "S3cr3t/k+y&amp;v=1&lt;x&gt;&#34;q&#39;z%" in forms
    assert "S3cr3t/k+y&amp;v=1&lt;x&gt;&quot;q&#x27;z%" in forms
    assert "S3cr3t%2Fk%2By%26v%3D1%3Cx%3E%22q%27z%25" in forms
    assert "S3cr3t%2fk%2by%26v%3d1%3cx%3e%22q%27z%25" in forms
    assert 'S3cr3t/k+y&v=1<x>\\"q\'z%' in forms


def test_short_secrets_give_no_forms_and_short_fragments_are_dropped():
    assert secret_forms("") == frozenset()
    assert secret_forms("abc") == frozenset()
    forms = secret_forms("abcd")
    assert "abcd" in forms, "the secret itself is always redacted"
    assert all(len(f) >= 6 for f in forms - {"abcd"})


@pytest.mark.parametrize("head", range(7))
def test_fragments_find_the_key_inside_any_blob(head):
    forms = secret_forms(DISTINCT_KEY, usernames=())
    for tail in range(4):
        for urlsafe in (False, True):
            blob = b64(b"u" * head + DISTINCT_KEY.encode() + b"t" * tail, urlsafe=urlsafe)
            assert any(f in blob for f in forms), (head, tail, urlsafe)


@pytest.fixture(scope="module")
def redactor():
    return Redactor([*KEYS, None, ""])


@pytest.mark.parametrize("key", KEYS, ids=["distinct", "plain"])
def test_every_echo_is_redacted_and_the_context_survives(redactor, key):
    for name, text in echoes(key).items():
        # Each scenario really embeds the key: the oracle sees it before redaction.
        assert leaks(text, key), name
        redacted = redactor.redact(text)
        assert not leaks(redacted, key), (name, redacted)
        assert not remaining_forms(redacted, key), (name, redacted)
        assert "LeadConduit GET /events failed for window" in _json_unescape(redacted), (name, redacted)
        assert "HTTP 500" in redacted, (name, redacted)
        assert redactor.redact(redacted) == redacted, name


def test_redacted_text_keeps_its_shape(redactor):
    text = f"{WHERE}: Max retries exceeded with url: /events?sort=asc&api_key={quote_plus(DISTINCT_KEY)}&limit=3"
    assert redactor.redact(text) == f"{WHERE}: Max retries exceeded with url: /events?sort=asc&api_key=***&limit=3"
    header = f"Authorization: Basic {b64('someone:' + PLAIN_KEY)}\nContent-Type: application/json"
    assert redactor.redact(header) == "Authorization: Basic ***\nContent-Type: application/json"
    assert redactor.redact(WHERE) == WHERE


def test_a_partial_percent_encoding_is_redacted(redactor):
    # httpx, curl and hand-built URLs each leave a different set of characters unencoded.
    mixed = "S3cr3t/k%2By&v%3D1%3cx%3E%22q'z%25"
    redacted = redactor.redact(f"{WHERE}: GET /events?x={mixed}")
    assert redacted == f"{WHERE}: GET /events?x=***"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ***"),
        ("authorization: Bearer eyJhbGciOi.eyJzdWIi.sig", "authorization: Bearer ***"),
        ("AUTHORIZATION=opaque-credential-1", "AUTHORIZATION=***"),
        ("Proxy-Authorization: Digest abc123", "Proxy-Authorization: Digest ***"),
        ('{"authorization": "Token abcdef123456", "accept": "json"}', '{"authorization": "Token ***", "accept": "json"}'),
        ("{'Authorization': 'whatever it is'}", "{'Authorization': '***'}"),
        ('{"Authorization": "unterminated excerpt', '{"Authorization": "***'),
        ('\\"Authorization\\": \\"Basic Zm9vOmJhcg==\\"', '\\"Authorization\\": \\"Basic ***\\"'),
        ("sent Bearer abcDEF123.456 and failed", "sent Bearer *** and failed"),
        ("token=abcd&x=1", "token=abcd&x=1"),  # no URL separator before a bare "token": ordinary text
        ("/v1/leads?apikey=abc123&x=1", "/v1/leads?apikey=***&x=1"),
        ("/v1/leads?x=1&API_KEY=abc123", "/v1/leads?x=1&API_KEY=***"),
        ("/v1?api-key=a1b2c3d4", "/v1?api-key=***"),
        ("/v1?key=a1b2c3d4#frag", "/v1?key=***#frag"),
        ("/v1;token=a1b2c3d4", "/v1;token=***"),
        ("?access_token=x1&refresh_token=y2&client_secret=z3", "?access_token=***&refresh_token=***&client_secret=***"),
        ("?secret=s1&password=p2", "?secret=***&password=***"),
        ("next=%2Fv1%3Fapi_key%3Dabc123%26page%3D2", "next=%2Fv1%3Fapi_key%3D***%26page%3D2"),
        ("next=%2fv1%3ftoken%3dabc123%26page%3d2", "next=%2fv1%3ftoken%3d***%26page%3d2"),
        ('<a href="/v1?x=1&amp;key=abc123&amp;y=2">', '<a href="/v1?x=1&amp;key=***&amp;y=2">'),
        ("form body: password=hunter22&user=bob", "form body: password=***&user=bob"),
        ('{"api_key": "abc", "vendor": "LeadConduit"}', '{"api_key": "***", "vendor": "LeadConduit"}'),
        ('{"password":"p\\"w","status":401}', '{"password":"***","status":401}'),
        ('{"client_secret": "c", "access_token": "a", "refresh_token": "r", "token": "t"}',
         '{"client_secret": "***", "access_token": "***", "refresh_token": "***", "token": "***"}'),
        ("{'apiKey': 'abc', 'limit': 3}", "{'apiKey': '***', 'limit': 3}"),
        ('{\\"password\\": \\"abc\\", \\"user\\": \\"bob\\"}', '{\\"password\\": \\"***\\", \\"user\\": \\"bob\\"}'),
        ('{"token": null, "key": "lead_id"}', '{"token": null, "key": "lead_id"}'),
    ],
)
def test_credentials_are_redacted_whatever_the_secret(text, expected):
    redactor = Redactor([])
    assert redactor.redact(text) == expected
    assert redactor.redact(expected) == expected


@pytest.mark.parametrize(
    "text",
    [
        WHERE,
        "Basic authentication failed: the Token expired, HTTP 401",
        "use a Bearer token; see https://docs.example.com/auth?lang=en",
        "LeadConduit GET /events?sort=asc&limit=1000&start=2024-06-01T05:00:00.000Z: HTTP 503 Service Unavailable",
        "monkey=banana, turkey=1, keyword=x",
        '{"outcome": "failure", "reason": "duplicate", "id": "5fd4371e940df5a34a3888b2"}',
        "the authorization header is missing",
    ],
)
def test_ordinary_text_is_left_alone(redactor, text):
    assert redactor.redact(text) == text


def test_a_secret_containing_the_mask_still_leaves_a_fixed_point():
    redactor = Redactor(["***abc"])
    # Masking "***abc" in "***abcabc" leaves "***abc" again: only repeating reaches a fixed point.
    redacted = redactor.redact("x***abcabc***abcabcy")
    assert redactor.redact(redacted) == redacted
    assert not any(f in redacted for f in secret_forms("***abc"))


def test_redactor_is_callable_and_ignores_missing_secrets():
    redactor = Redactor([None, "", "ab"])
    assert redactor.secrets == ()
    assert redactor("plain text ab") == "plain text ab"


# --- property: any printable secret, any surrounding text, any form ---------------------------------

PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


def _encodings(user: str):
    return [
        ("raw", lambda s: s),
        ("quote", lambda s: quote(s, safe="")),
        ("quote /", lambda s: quote(s)),
        ("quote_plus", quote_plus),
        ("lower hex", lambda s: re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(s, safe=""))),
        ("html", html.escape),
        ("html no quote", lambda s: html.escape(s, quote=False)),
        ("html numeric", lambda s: html.escape(s).replace("&quot;", "&#34;").replace("&#x27;", "&#39;")),
        ("json", lambda s: json.dumps(s)[1:-1]),
        ("base64", b64),
        ("urlsafe base64 unpadded", lambda s: b64(s, urlsafe=True, pad=False)),
        ("basic", lambda s: "Basic " + b64(f"{user}:{s}")),
        ("blob", lambda s: b64(user.encode() + s.encode() + b"!tail")),
        ("json in json", lambda s: json.dumps(json.dumps(s))[1:-1]),
        ("python repr", lambda s: repr(s)[1:-1]),
        ("mixed escapes", lambda s: "".join(_mixed(c, i + len(user)) for i, c in enumerate(s))),
    ]


def _mixed(char: str, seed: int) -> str:
    """Escape one character the way some library might: raw, percent, JSON \\u or an HTML entity."""
    choice = (seed * 7919 + ord(char)) % 4
    if choice == 1:
        return f"%{ord(char):02x}"
    if choice == 2:
        return f"\\u{ord(char):04X}"
    if choice == 3 and char in "&<>\"'":
        return f"&#{ord(char)};"
    return char


# HYP_EXAMPLES=5000 explores further (about 15 s); the default keeps the suite fast.
@settings(max_examples=int(os.environ.get("HYP_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    secret=st.text(PRINTABLE, min_size=8, max_size=40),
    before=st.text(PRINTABLE, max_size=30),
    after=st.text(PRINTABLE, max_size=30),
    user=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":"), max_size=12),
    which=st.integers(0, len(_encodings("")) - 1),
)
def test_no_form_survives_for_any_secret(secret, before, after, user, which):
    name, encode = _encodings(user)[which]
    text = f"{before}{encode(secret)}{after}"
    redacted = Redactor([secret]).redact(text)
    left = [f for f in secret_forms(secret, usernames=(user, "API", "")) if len(f) >= 6 and f in redacted]
    assert not left, (name, redacted)
    assert Redactor([secret]).redact(redacted) == redacted
    assert not leaks(redacted, secret), (name, redacted)


# --- personal data ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lead jane.doe+leads@example.co.uk rejected", "lead <email> rejected"),
        ("email=John_Smith%40mail.example.com&x=1", "email=<email>&x=1"),
        ('{"email": "a.b@c.io", "status": 422}', '{"email": "<email>", "status": 422}'),
        ("call +1 512 789 1111 now", "call <phone> now"),
        ("call (512) 789-1111.", "call <phone>."),
        ("tel 06 12 34 56 78, thanks", "tel <phone>, thanks"),
        ("phone_1=+33612345678&x=1", "phone_1=<phone>&x=1"),
        ("phone 512.789.1111", "phone <phone>"),
        ('{"phone_1": "5127891111"}', '{"phone_1": "<phone>"}'),
        ("+44 (0)20 7946 0958 is busy", "<phone> is busy"),
    ],
)
def test_scrub_personal_removes_emails_and_phones(text, expected):
    assert scrub_personal(text) == expected
    assert scrub_personal(expected) == expected


@pytest.mark.parametrize(
    "text",
    [
        WHERE,
        "start=2024-06-01T05:00:00.000Z end=2024-06-01T05:59:59.999Z",
        "window 2024-06-01 05:00:00+00:00 to 2024-06-01 06:00:00+00:00",
        "HTTP 500 Internal Server Error; HTTP 429 after 3 attempts",
        "lead 5fd4371e940df5a34a3888b2 and flow 5fd4371e9401234567a3888b",
        "GET /leadconduit/events?limit=1000: took 12.5s, version 3.3.2, 1234.56789 credits",
        "partition 20240601 loaded",
        "https://app.leadconduit.com/flows/5fd4371e940df5a34a3888b2/sources",
    ],
)
def test_scrub_personal_keeps_timestamps_statuses_and_ids(text):
    assert scrub_personal(text) == text


# --- Airflow's masker -------------------------------------------------------------------------------


@pytest.fixture
def airflow_masker():
    """Airflow's Task SDK masker, restored afterwards so other tests see the masks they set."""
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    masker = _secrets_masker()
    patterns, replacer = set(masker.patterns), masker.replacer
    yield masker
    masker.patterns, masker.replacer = patterns, replacer


def test_mask_in_airflow_teaches_the_task_sdk_masker_every_form(airflow_masker):
    from airflow.sdk._shared.secrets_masker import redact
    from airflow.sdk.log import mask_logs

    key = "airflow-masker-test-key/+&=1"
    basic = f"Authorization: Basic {b64('API:' + key)}"
    encoded = f"GET /events?api_key={quote_plus(key)}"
    assert redact(basic) == basic  # not known before

    mask_in_airflow(key, None, "")

    # Airflow's masker tries its patterns in no particular order, so the unpadded base64 form
    # may win over the padded one and leave a harmless "=": judge by what can still be decoded.
    for text in (basic, encoded, f"<p>{html.escape(key)}</p>", json.dumps({"echo": key})):
        masked = redact(text)
        assert "***" in masked and not leaks(masked, key), masked
    assert redact(encoded) == "GET /events?api_key=***"
    # The structlog processor of task logs goes through the same masker.
    assert mask_logs(None, "info", {"event": f"failed: {encoded}"})["event"] == "failed: GET /events?api_key=***"


def test_mask_in_airflow_without_secrets_does_nothing(airflow_masker):
    before = set(airflow_masker.patterns)
    mask_in_airflow(None, "", "ab")
    assert airflow_masker.patterns == before
