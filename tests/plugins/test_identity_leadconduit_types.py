"""LeadConduit's own email type (npm ``leadconduit-types`` 4.23.2, pinned by its lock) judges ``normalize_email``.

``sandbox/vendors/leadconduit/sdk_check/normalize.mjs`` parses each value of a corpus of messy addresses with
``types.email.parse`` and prints its validity and ``normal`` value. Wherever LeadConduit calls a value valid,
the email key must be that ``normal`` value, except for the values listed in ``LEADCONDUIT_ONLY``: LeadConduit
parses RFC 5322 mailbox syntax (comments, folding white space, display names, quoted local parts, dotless
and address-literal domains), which the identity rules refuse (see the ``lead_pipelines.identity``
docstring). The other way round, ``IDENTITY_ONLY`` lists what LeadConduit refuses and the identity rules key:
white space around the address that LeadConduit does not trim (it trims spaces and tabs only), and
internationalised local parts (LeadConduit takes ASCII only).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lead_pipelines.identity import normalize_email

SDK_CHECK = Path(__file__).resolve().parents[2] / "sandbox" / "vendors" / "leadconduit" / "sdk_check"

#: Accepted by LeadConduit (with this ``normal`` value) but not an email by the identity rules.
LEADCONDUIT_ONLY = {
    "jane @ example.com": "jane@example.com",  # folding white space around the "@"
    "jane@ example.com": "jane@example.com",
    "jane .doe@example.com": "jane.doe@example.com",  # ... and around a dot
    "jane@example .com": "jane@example.com",
    "jane(work)@example.com": "jane@example.com",  # a comment
    "Jane Doe <Jane@Example.com>": "jane@example.com",  # a display name
    "<jane@example.com>": "jane@example.com",
    '"jane doe"@example.com': '"jane doe"@example.com',  # a quoted local part, kept quoted
    "jane@localhost": "jane@localhost",  # a domain without a dot
    "jane@ex_ample.com": "jane@ex_ample.com",  # labels no host name can have
    "jane@-example.com": "jane@-example.com",
    "jane@[192.0.2.1]": "jane@[192.0.2.1]",  # an address literal
}

#: Refused by LeadConduit, which trims only spaces and tabs and takes only ASCII, but a key by the identity rules.
IDENTITY_ONLY = {
    "josé@example.com": "josé@example.com",  # an internationalised local part (RFC 6531)
    "Chloé.Robert4@Orange.FR": "chloé.robert4@orange.fr",
    "jane@example.com\n": "jane@example.com",
    "\r\njane@example.com\r\n": "jane@example.com",
    "\u00a0jane@example.com\u00a0": "jane@example.com",
    "jane@example.com\u2009": "jane@example.com",
    "\ufeffjane@example.com": "jane@example.com",
    "jane@example.com\u200b": "jane@example.com",
}

ACCEPTED_BY_BOTH = [
    "jane@example.com", "Jane@Example.COM", "JANE.DOE@EXAMPLE.COM", "  jane.doe@example.com  ", " Jane@Example.com",
    "\tjane@example.com", " \t Jane@example.com\t", "jane.doe+news@gmail.com", "J.A.N.E@GoogleMail.com",
    "o'brien@example.ie", "first_last-2@mail.example.co.uk", "a!#$%&'*/=?^_`{|}~-@example.org",
    "jane@xn--exmple-cua.com", "x@y.io", "jane@1.2.3.4", "JaNe@Hotmail.FR",
]

REFUSED_BY_BOTH = [
    "", "   ", "jane.doe", "jane@", "@example.com", "jane@@example.com", "jane@doe@example.com", "jane doe@example.com",
    "ja..ne@example.com", ".jane@example.com", "jane.@example.com", "jane@example..com", "jane@example.com.",
    "jane@exämple.com", "mailto:jane@example.com", "jane@example.com;", "jane@example,com",
    "jane\u00a0@example.com",
]

CORPUS = ACCEPTED_BY_BOTH + REFUSED_BY_BOTH + list(LEADCONDUIT_ONLY) + list(IDENTITY_ONLY)


@pytest.fixture(scope="module")
def leadconduit() -> dict[str, dict]:
    """Return LeadConduit's verdict ``{"valid": bool, "normal": str}`` for every value of the corpus."""
    if not (SDK_CHECK / "node_modules" / "leadconduit-types").is_dir():
        pytest.fail(f"leadconduit-types is not installed in {SDK_CHECK}: run `make install`")
    done = subprocess.run(["node", "normalize.mjs"], cwd=SDK_CHECK, input=json.dumps(CORPUS), capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return dict(zip(CORPUS, json.loads(done.stdout), strict=True))


def test_every_address_leadconduit_accepts_keys_as_its_normal_value(leadconduit):
    accepted = {raw: verdict["normal"] for raw, verdict in leadconduit.items()
                if verdict["valid"] and raw not in LEADCONDUIT_ONLY}

    assert sorted(accepted) == sorted(ACCEPTED_BY_BOTH)
    assert {raw: normalize_email(raw) for raw in accepted} == accepted


def test_leadconduit_accepts_the_mailbox_syntax_the_identity_rules_refuse(leadconduit):
    assert {raw: leadconduit[raw] for raw in LEADCONDUIT_ONLY} == {
        raw: {"valid": True, "normal": normal} for raw, normal in LEADCONDUIT_ONLY.items()}
    assert {raw: normalize_email(raw) for raw in LEADCONDUIT_ONLY} == dict.fromkeys(LEADCONDUIT_ONLY)


def test_what_leadconduit_refuses_has_no_key_but_for_untrimmed_space_and_international_local_parts(leadconduit):
    refused = [raw for raw, verdict in leadconduit.items() if not verdict["valid"]]

    assert sorted(refused) == sorted(REFUSED_BY_BOTH + list(IDENTITY_ONLY))
    assert {raw: normalize_email(raw) for raw in refused} == {**dict.fromkeys(REFUSED_BY_BOTH), **IDENTITY_ONLY}
