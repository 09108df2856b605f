"""Keep API keys and personal data out of logs, exceptions, XCom and the warehouse.

A vendor, a proxy or an HTTP library rarely echoes a key back verbatim: it percent-encodes it in a
URL, HTML-escapes it in an error page, JSON-escapes it in a body, or base64-encodes it inside a
``Basic`` header. :func:`secret_forms` lists those forms, :class:`Redactor` removes them (plus any
credential-shaped value, known or not), and :func:`mask_in_airflow` teaches Airflow's own log masker
the same forms.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "Redactor", "mask_in_airflow", "scrub_personal", "secret_forms"]

#: What a secret is replaced with; Airflow's masker uses the same string.
MASK = "***"

#: Shorter forms (e.g. a two-character base64 tail) would also match ordinary text.
MIN_FORM_LENGTH = 6
#: A shorter secret is no secret: its forms would redact ordinary words.
MIN_SECRET_LENGTH = 4
#: Usernames paired with the key in a ``Basic`` header: LeadConduit's ``API`` and the empty one.
DEFAULT_USERNAMES: tuple[str, ...] = ("API", "")

# The characters requests' requote_uri leaves alone when a key is pasted into a URL by hand.
_REQUOTE_SAFE = "!#$%&'()*+,/:;=?@[]~"
_REQUOTE_SAFE_NO_PERCENT = "!#$&'()*+,/:;=?@[]~"
_PERCENT_HEX = re.compile(r"%[0-9A-F]{2}")
_PERCENT_TOKEN = re.compile(r"(%[0-9A-Fa-f]{2})")
_JSON_U_ESCAPE = re.compile(r"\\u([0-9a-f]{4})")

# HTML encodings of the two quotes: named, decimal and hexadecimal entities, or left alone.
_HTML_DOUBLE_QUOTES = ('"', "&quot;", "&#34;", "&#x22;")
_HTML_SINGLE_QUOTES = ("'", "&#x27;", "&#39;", "&apos;")


def _percent_forms(secret: str) -> set[str]:
    forms = {
        quote(secret, safe=""),
        quote(secret, safe="/"),
        quote_plus(secret),
        quote_plus(secret, safe="/"),
        quote(secret, safe=_REQUOTE_SAFE),
        quote(secret, safe=_REQUOTE_SAFE_NO_PERCENT),
    }
    # Some servers re-encode a URL they echo, turning %2F into %252F.
    forms |= {quote(f, safe="") for f in list(forms)}
    # RFC 3986 allows lower-case hex; Go, nginx and some proxies emit it.
    forms |= {_PERCENT_HEX.sub(lambda m: m.group().lower(), f) for f in list(forms)}
    return forms


def _html_forms(text: str) -> set[str]:
    escaped = html.escape(text, quote=False)
    forms = {html.escape(text, quote=True)}
    for double, single in itertools.product(_HTML_DOUBLE_QUOTES, _HTML_SINGLE_QUOTES):
        forms.add(escaped.replace('"', double).replace("'", single))
    return forms


def _json_forms(text: str) -> set[str]:
    forms: set[str] = set()
    for ensure_ascii in (True, False):
        plain = json.dumps(text, ensure_ascii=ensure_ascii)[1:-1]
        forms.add(plain)
        # PHP escapes the slash; Go escapes <, > and & for HTML safety; some encoders use upper-case hex.
        forms.add(plain.replace("/", "\\/"))
        forms.add(plain.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
        forms.add(_JSON_U_ESCAPE.sub(lambda m: "\\u" + m.group(1).upper(), plain))
    # A JSON request quoted inside a JSON error body: escaped twice.
    forms |= {json.dumps(f)[1:-1] for f in list(forms)}
    return forms


def _repr_forms(text: str) -> set[str]:
    # A dict of params or headers printed in an exception message shows Python's repr.
    return {repr(text)[1:-1], ascii(text)[1:-1], repr(text.encode())[2:-1]}


def _base64_forms(raw: bytes) -> set[str]:
    forms = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        padded = encode(raw).decode("ascii")
        forms |= {padded, padded.rstrip("=")}
    return forms


def _base64_fragments(raw: bytes) -> set[str]:
    """Return the part of base64(prefix + raw) that depends on raw alone, for each alignment.

    Base64 turns 3 bytes into 4 characters, so the characters covering ``raw`` depend only on the
    prefix length modulo 3, not on the prefix itself: these fragments find the secret inside any
    blob, e.g. a ``Basic`` header whose username is unknown.
    """
    fragments = set()
    for shift in range(3):
        data = b"\0" * shift + raw
        # Characters are 6-bit groups: skip the ones touching the prefix, drop the ones touching
        # whatever follows the secret.
        start = -(-8 * shift // 6)
        stop = 8 * len(data) // 6
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            fragments.add(encode(data).decode("ascii")[start:stop])
    return fragments


def secret_forms(secret: str, *, usernames: Iterable[str] = DEFAULT_USERNAMES) -> frozenset[str]:
    """Return every form in which a server, proxy or library can echo a secret back.

    Covers the raw value, its percent-encodings (upper- and lower-case hex), HTML escapes, JSON
    escapes, Python reprs, base64 of the secret and of ``user:secret``, and the base64 fragments
    that find the secret inside any base64 blob. Derived forms shorter than 6 characters are left out (the
    secret itself never is), and a secret shorter than 4 characters gives an empty set.

    :param secret: The secret value, e.g. a connection password.
    :param usernames: Usernames the secret may be paired with in a ``Basic`` header.
    """
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return frozenset()
    raw = secret.encode("utf-8")
    forms = {secret} | _percent_forms(secret)
    for text in (secret, *_percent_forms(secret)):
        forms |= _html_forms(text) | _json_forms(text) | _repr_forms(text)
    forms |= _base64_forms(raw) | _base64_fragments(raw)
    for user in usernames:
        forms |= _base64_forms(f"{user}:{secret}".encode())
    # The secret itself always counts, however short: only derived forms need the length floor.
    return frozenset(f for f in forms if len(f) >= MIN_FORM_LENGTH or f == secret)


def _literal_pattern(form: str) -> str:
    # Percent-encoded bytes match in any hex case, so %2f, %2F and a proxy's mix are all caught.
    parts = []
    for token in _PERCENT_TOKEN.split(form):
        if _PERCENT_TOKEN.fullmatch(token):
            parts.append("%" + "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in token[1:]))
        else:
            parts.append(re.escape(token))
    return "".join(parts)


def _any_case_hex(digits: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in digits)


def _char_alternatives(char: str) -> str:
    """Return a regex matching one character of a secret in any of the escapes a text can use."""
    code = ord(char)
    # Percent-encoding of its UTF-8 bytes, and the JSON/JavaScript \uXXXX escape, in any hex case.
    options = {
        re.escape(char),
        "".join("%" + _any_case_hex(f"{b:02X}") for b in char.encode("utf-8")),
        r"\\u" + _any_case_hex(f"{code:04X}"),
    }
    if char == " ":
        options.add(r"\+")
    if char in "\"\\/'":
        options.add(re.escape("\\" + char))
    # HTML: the named, decimal and hexadecimal entities of the characters HTML escapes.
    if char in "&<>\"'":
        options.add(f"&#0*{code};")
        options.add(f"&#[xX]0*{_any_case_hex(f'{code:X}')};")
        options.add({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}[char])
    # Longest first, so an escape wins over the bare character it starts with (%25 over %).
    return "(?:" + "|".join(sorted(options, key=len, reverse=True)) + ")"


def _mixed_escape_pattern(secret: str) -> str:
    """Return a regex for the secret with any mix of per-character escapes, e.g. a partial percent-encoding."""
    return "".join(_char_alternatives(c) for c in secret)


_SECRET_NAMES = (
    r"api[_-]?key|x[_-]api[_-]key|access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token"
    r"|client[_-]?secret|password|passwd"
)
# Bare "key", "token" and "secret" are also ordinary words: trusted only right after a URL separator.
_WEAK_NAMES = r"key|token|secret"

# The value of an Authorization header: quoted (JSON, repr), or up to two tokens (scheme and credential).
_AUTH_HEADER = re.compile(
    r"""(?ix)
    (?P<head>\b(?:proxy-)?authorization\\?["']?[ \t]*[:=][ \t]*)
    (?:
        (?P<q>\\?["'])(?P<quoted>(?:\\[^"'\n]|[^\\"'\n])*)(?P=q)?
      | (?P<bare>[^\s,;"'\\]+(?:[ \t]+[^\s,;"'\\]+)?)
    )
    """
)
_SCHEMES = frozenset({"basic", "bearer", "token", "digest", "apikey", "api-key", "key", "oauth", "hmac", "negotiate", "ntlm"})

# Basic/Bearer/Token followed by a credential (RFC 7235 token68) that is not a plain word.
_SCHEME_CREDENTIAL = re.compile(
    r"(?i)\b(?P<scheme>basic|bearer|token)(?P<sp>[ \t]+)(?P<cred>[A-Za-z0-9._~+/-]{6,}=*)(?![^\s,;\"')\]}<>&\\])"
)
_PLAIN_WORD = re.compile(r"[A-Za-z][a-z]*")

# A query parameter (also inside a percent-encoded URL, or after &amp;) whose name says secret.
_SECRET_QUERY = re.compile(
    rf"""(?ix)
    (?P<head>
        (?:(?:[?&;]|%3F|%26|%3B)(?:{_SECRET_NAMES}|{_WEAK_NAMES})
          |(?<![\w.%-])(?:{_SECRET_NAMES}))
        (?:=|%3D)
    )
    (?P<value>(?:\\/|(?!%26|%23)[^&\s'"<>#\\])+)
    """
)

# A JSON (or Python repr) field whose name says secret, quoted plainly or escaped inside a JSON string.
_SECRET_FIELD = re.compile(
    rf"""(?ix)
    (?P<head>(?P<kq>\\?["'])(?:{_SECRET_NAMES}|token|secret)(?P=kq)\s*:\s*)
    (?P<vq>\\?["'])(?P<value>(?:(?!(?P=vq))(?:\\.|[^\\\n]))*)(?P<end>(?P=vq))?
    """
)


def _auth_header(match: re.Match[str]) -> str:
    head = match["head"]
    if match["q"] is None:
        return f"{head}{_keep_scheme(match['bare'])}"
    # An unterminated quote (a truncated excerpt) ran to the end of the line: no closing quote to keep.
    closing = match["q"] if match.end() > match.end("quoted") else ""
    return f"{head}{match['q']}{_keep_scheme(match['quoted'])}{closing}"


def _keep_scheme(value: str) -> str:
    # "Basic ***" says how the call authenticated without saying with what.
    scheme, _, credential = value.partition(" ")
    if credential.strip() and scheme.lower() in _SCHEMES:
        return f"{scheme} {MASK}"
    return MASK


def _scheme_credential(match: re.Match[str]) -> str:
    if _PLAIN_WORD.fullmatch(match["cred"]):
        return match.group(0)
    return f"{match['scheme']}{match['sp']}{MASK}"


def _secret_field(match: re.Match[str]) -> str:
    return f"{match['head']}{match['vq']}{MASK}{match['end'] or ''}"


class Redactor:
    """Remove known secrets, in every form, and any credential-shaped value from text.

    Known secrets are matched in all the forms of :func:`secret_forms` and, character by character,
    in any mix of percent, HTML and JSON escapes. Whatever the secrets, ``Authorization`` values,
    ``Basic``/``Bearer``/``Token`` credentials, secret-named query parameters and secret-named JSON
    fields are masked too. The rest of the text is left as it was.

    :param secrets: Secret values; None, empty and too-short values are ignored.
    :param usernames: Usernames the secrets may be paired with in a ``Basic`` header.
    """

    #: Passes over the text at most; each pass that changes something usually shortens it.
    max_passes = 8

    def __init__(self, secrets: Iterable[str | None] = (), *, usernames: Iterable[str] = DEFAULT_USERNAMES) -> None:
        usernames = tuple(usernames)
        self.secrets = tuple(dict.fromkeys(s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH))
        self.forms = frozenset().union(*(secret_forms(s, usernames=usernames) for s in self.secrets))
        # One alternation, longest form first, because the first alternative that matches wins.
        patterns = dict.fromkeys(_literal_pattern(f) for f in sorted(self.forms, key=lambda f: (-len(f), f)))
        patterns.update(dict.fromkeys(_mixed_escape_pattern(s) for s in self.secrets if len(s) >= MIN_FORM_LENGTH))
        self._known = re.compile("|".join(patterns)) if patterns else None

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret replaced by ``***``; redacting twice changes nothing.

        :param text: Any message that may reach a log, an exception, XCom or the warehouse.
        """
        # Masking can join the text around a removed form into a new one (think of a secret
        # containing "***"): repeat until nothing changes, so the result is a fixed point.
        for _ in range(self.max_passes):
            redacted = self._redact_once(text)
            if redacted == text:
                break
            text = redacted
        return text

    def __call__(self, text: str) -> str:
        """Return :meth:`redact` of ``text``.

        :param text: Any message.
        """
        return self.redact(text)

    def _redact_once(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(MASK, text)
        text = _AUTH_HEADER.sub(_auth_header, text)
        text = _SCHEME_CREDENTIAL.sub(_scheme_credential, text)
        text = _SECRET_QUERY.sub(lambda m: f"{m['head']}{MASK}", text)
        return _SECRET_FIELD.sub(_secret_field, text)


_EMAIL = re.compile(r"(?i)(?<![\w.%+-])[a-z0-9._%+-]+(?:@|%40)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?![\w-])")
_PHONE = re.compile(
    r"""(?x)
    (?<![\w.+/:-])                 # not the tail of a word, a number, a path, a time or a version
    (?!\d+\.\d+(?![\d.]))            # a decimal number is not a phone
    (?!(?:19|20)\d\d-[01]\d-[0-3]\d(?!\d))           # an ISO date is not a phone
    (?!(?:19|20)\d\d[01]\d[0-3]\d(?!\d))          # nor is a compact yyyymmdd standing alone
    (?:\+|\(\s*)?\d(?:[ .()-]{0,3}\d){6,}
    (?![\w/:]|[.-]\d)              # not the head of a word, a path, a time or a decimal
    """
)


def scrub_personal(text: str) -> str:
    """Return ``text`` with email addresses replaced by ``<email>`` and phone numbers by ``<phone>``.

    A phone is 7 or more digits, optionally with a leading ``+`` and spaces, dots, dashes or
    parentheses between them; ISO timestamps, HTTP statuses and hexadecimal ids are kept.

    :param text: A vendor error excerpt or any message bound for the warehouse.
    """
    # Emails first: their local part may hold a run of digits that would otherwise read as a phone.
    text = _EMAIL.sub("<email>", text)
    return _PHONE.sub("<phone>", text)


def mask_in_airflow(*secrets: str | None, usernames: Iterable[str] = DEFAULT_USERNAMES) -> None:
    """Register every form of the secrets with Airflow's secrets masker.

    Airflow masks the connection password as typed, but not its encoded echoes; after this call
    its log handlers (in the task and in the supervisor) mask those too. Does nothing when the
    Airflow Task SDK cannot be imported.

    :param secrets: Secret values; None, empty and too-short values are ignored.
    :param usernames: Usernames the secrets may be paired with in a ``Basic`` header.
    """
    usernames = tuple(usernames)
    forms = sorted(frozenset().union(*(secret_forms(s, usernames=usernames) for s in secrets if s)))
    if not forms:
        return
    try:
        # Imported here: the Task SDK's logging pulls in structlog and pydantic.
        from airflow.sdk.log import mask_secret
    except ImportError:
        try:
            from airflow.utils.log.secrets_masker import mask_secret  # Airflow 2
        except ImportError:
            return
    # One call with the whole list: one message to the supervisor instead of one per form.
    mask_secret(forms)
