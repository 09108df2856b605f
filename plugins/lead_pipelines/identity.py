"""Identity rules: the keys that say two vendor records are the same person.

Two records join on their email key; where either has no email key, on their phone key. Names never
join (two people share a name far more often than a mistyped email collides with another's).

Email key (:func:`normalize_email`)
    Surrounding white space is trimmed (any Unicode white space: spaces, tabs, newlines, NBSP, ideographic
    space; and the invisible zero-width space, joiners and byte-order mark that exports leave behind), then
    the address is lower-cased and put in Unicode NFC. It is a key only when it is ``local@domain``: exactly
    one ``@``; a local part of atoms (letters and digits of any script, as RFC 6531 allows, and
    ``_!#$%&'*+/=?^`{|}~-``) joined by single dots; a domain of at least two ASCII labels, each of letters,
    digits and inner hyphens. Anything else, including white space inside, is not an email and gives
    ``None``. A domain in Unicode (``exämple.com``) is refused rather than guessed: it has an ASCII form
    (``xn--exmple-cua.com``) and a key must have one form only.

    The local part is otherwise kept as it is: RFC 5321 leaves its meaning to the receiving server, so
    ``j.doe+news@example.com`` and ``jdoe@example.com`` may well be two mailboxes. Folding them by default
    would merge people a provider keeps apart. A deployment that knows its data comes mostly from the big
    consumer providers can opt in with ``fold_provider_aliases=True`` (pass it where the keys are made, the
    same everywhere, so that keys stay comparable): for ``gmail.com`` and ``googlemail.com`` (which becomes
    ``gmail.com``) the dots and a ``+tag`` of the local part are dropped; for the providers in
    :data:`PLUS_ADDRESSING_DOMAINS`, which document plus-addressing, the ``+tag`` is dropped. A tag is kept
    where dropping it would leave no valid local part (``+x@gmail.com``, ``j.+x@outlook.com``).

    Agreement with LeadConduit: wherever LeadConduit's own email type (the npm package ``leadconduit-types``,
    ``types.email.parse``, checked by ``tests/plugins/test_identity_leadconduit_types.py``) calls a value
    valid and this module makes a key, the key is LeadConduit's ``normal`` value. LeadConduit lower-cases the
    whole address too, but it parses RFC 5322 *mailbox* syntax: it trims only spaces and tabs, and
    it accepts what this module rejects by the rules above:

    * white space and comments inside the address (``foo @ bar.com``, ``j(work)@x.com``), which it drops:
      a key does not guess what a mistyped value meant;
    * display names and angle brackets (``Jane <j@x.com>``, ``<j@x.com>``): not an email as a form field
      holds one;
    * quoted local parts (``"j d"@x.com``, kept with their quotes);
    * a domain without a dot (``foo@bar``) or with labels no host name can have (``a@x_y.com``,
      ``a@-x.com``) or an address literal (``a@[192.0.2.1]``).

    The other way round, LeadConduit rejects an address with a newline, an NBSP or another Unicode space,
    or a zero-width space or byte-order mark around it, which this module trims; and any non-ASCII local
    part (``chloé.robert@orange.fr``), which this module keys.

Phone key (:func:`normalize_phone`)
    The number in E.164 (``+15127891111``), read by ``phonenumbers`` with the record's region for numbers
    written nationally (``06 12 34 56 78`` in ``FR``, ``(512) 789-1111`` in ``US``). An extension is not part
    of the key. A number ``phonenumbers`` does not call valid for its region is not a key.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
PLUS_ADDRESSING_DOMAINS = frozenset({
    "outlook.com", "hotmail.com", "live.com", "msn.com",  # Microsoft
    "icloud.com", "me.com", "mac.com",  # Apple
    "fastmail.com", "fastmail.fm",
    "protonmail.com", "protonmail.ch", "proton.me", "pm.me",
})

_SPACE = r"[\s\u200b\u200c\u200d\u2060\ufeff]+"
_EDGES = re.compile(rf"^{_SPACE}|{_SPACE}$")
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")


def normalize_email(raw: str | None, *, fold_provider_aliases: bool = False) -> str | None:
    """Return the email key of a value, or ``None`` when the value is not an email address.

    :param raw: The value as a vendor sent it.
    :param fold_provider_aliases: Also fold Gmail dots and the ``+tag`` of providers that document
        plus-addressing (see the module docstring); off by default.
    """
    if raw is None:
        return None
    text = _EDGES.sub("", raw)
    if not text.rpartition("@")[2].isascii():
        return None
    key = unicodedata.normalize("NFC", text.lower())
    if _EMAIL.fullmatch(key) is None:
        return None
    return _fold_provider_aliases(key) if fold_provider_aliases else key


def _fold_provider_aliases(key: str) -> str:
    """Return a valid, lower-cased email key with its provider's aliases folded.

    :param key: A key :func:`normalize_email` accepted.
    """
    local, _, domain = key.partition("@")
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), "gmail.com"
    elif domain not in PLUS_ADDRESSING_DOMAINS:
        return key
    mailbox = local.partition("+")[0]
    if mailbox and not mailbox.endswith("."):
        local = mailbox
    return f"{local}@{domain}"


def normalize_phone(raw: str | None, default_region: str | None = "US") -> str | None:
    """Return the E.164 phone key of a value, or ``None`` when it is not a valid phone number.

    :param raw: The value as a vendor sent it.
    :param default_region: ISO 3166 region of numbers written without a country code (any case; ``None``
        or empty means ``US``).
    """
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, (default_region or "US").upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
